"""Trimming a byte-level BPE generator's vocabulary (services/trainer/generation/vocab_trim.py) on a tiny
Qwen2 model with a byte-level BPE tokenizer trained here: the training texts tokenize exactly as before, the
trimmed model scores every kept token exactly as the whole one did, any other text still tokenizes (UTF-8
bytes), and the special tokens are renumbered in the tokenizer, the model's config and the bundle's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from services.trainer.generation.data import ReplyExample  # noqa: E402
from services.trainer.generation.pipeline import PARITY_PROMPT  # noqa: E402
from services.trainer.generation.train import encode_example  # noqa: E402
from services.trainer.generation.vocab_trim import trim_generator, trimmed_tokenizer_json  # noqa: E402

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
EXAMPLES = [
    ReplyExample(
        "我的包裹还没到，已经两周了，我要退款",
        "您好，很抱歉包裹延误了，我们会联系快递公司调查。",
        "refund_request",
    ),
    ReplyExample(
        "发票开错了，抬头要改成公司名",
        "您好，请提供订单号和正确的抬头，我们重新开具发票。",
        "invoice",
    ),
    ReplyExample(
        "My parcel never arrived, I want a refund",
        "Hi, sorry your parcel is late. We will trace it.",
        "refund",
    ),
    ReplyExample(
        "How do I reset my password?",
        "Use the reset link on the sign-in page; it is valid for 1 hour.",
        "account",
    ),
]
# what the tokenizer learns from beyond the examples: other words, other scripts (that trimming drops)
GENERAL = [
    "Quarterly newsletters, warehouse logistics, subscription upgrades and loyalty points.",
    "Привет, как дела? Спасибо за заказ.",
    "こんにちは、ご注文ありがとうございます。",
    "账号被锁定了怎么办？积分什么时候到账？",
    PARITY_PROMPT,
]


def _tiny_model_dir(tmp_path: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    corpus = [e.prompt() + e.reply for e in EXAMPLES] + GENERAL
    trainer = trainers.BpeTrainer(
        vocab_size=900, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(corpus * 3, trainer=trainer)
    directory = tmp_path / "tiny"
    directory.mkdir()
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "eos_token": "<|im_end|>",
                "pad_token": "<|endoftext|>",
            }
        )
    )
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.token_to_id("<|endoftext|>"),
        eos_token_id=tokenizer.token_to_id("<|im_end|>"),
        pad_token_id=tokenizer.token_to_id("<|endoftext|>"),
    )
    Qwen2ForCausalLM(config).save_pretrained(str(directory))
    return directory


@pytest.fixture(scope="module")
def trimmed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = _tiny_model_dir(tmp_path_factory.mktemp("trim"))
    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    whole = AutoModelForCausalLM.from_pretrained(str(directory)).eval()
    model = AutoModelForCausalLM.from_pretrained(str(directory)).eval()
    ids = [encode_example(tokenizer, e, 512)[0] for e in EXAMPLES]
    small, report = trim_generator(model, tokenizer, ids, [e.ticket + e.reply for e in EXAMPLES], keep_top=5)
    return {
        "dir": directory,
        "tokenizer": tokenizer,
        "whole": whole,
        "model": model,
        "small": small,
        "report": report,
    }


def test_trimming_drops_tokens_of_other_scripts_and_keeps_the_bytes(trimmed: dict[str, Any]) -> None:
    report, small = trimmed["report"], trimmed["small"]
    assert report.scripts == ["Han", "Latin"]
    assert report.tokens_after < report.tokens_before
    assert report.parameters_after < report.parameters_before
    assert trimmed["model"].get_input_embeddings().weight.shape[0] == report.tokens_after
    assert trimmed["model"].get_output_embeddings().weight.shape[0] == report.tokens_after
    assert len(small) == report.tokens_after
    # dropped scripts and unseen characters
    for text in ["Привет, спасибо", "罕见字：龘靐齉 😀", "こんにちは"]:
        assert small.decode(small(text, add_special_tokens=False)["input_ids"]) == text


def test_training_texts_tokenize_exactly_as_before(trimmed: dict[str, Any]) -> None:
    new_id = {old: new for new, old in enumerate(trimmed["report"].kept)}
    for example in EXAMPLES:
        before, labels_before = encode_example(trimmed["tokenizer"], example, 512)
        after, labels_after = encode_example(trimmed["small"], example, 512)
        assert after == [new_id[i] for i in before]
        assert labels_after == [new_id.get(i, i) for i in labels_before]


def test_the_trimmed_model_scores_every_kept_token_as_the_whole_one(trimmed: dict[str, Any]) -> None:
    kept = torch.tensor(trimmed["report"].kept)
    for example in EXAMPLES:
        text = example.prompt() + example.reply
        whole_ids = trimmed["tokenizer"](text, return_tensors="pt", add_special_tokens=False)
        small_ids = trimmed["small"](text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            expected = trimmed["whole"](**whole_ids).logits[0][:, kept]
            got = trimmed["model"](**small_ids).logits[0]
        torch.testing.assert_close(got, expected)


def test_special_tokens_are_renumbered_in_tokenizer_and_config(trimmed: dict[str, Any]) -> None:
    small, config = trimmed["small"], trimmed["model"].config
    assert config.eos_token_id == small.convert_tokens_to_ids("<|im_end|>")
    assert config.pad_token_id == small.convert_tokens_to_ids("<|endoftext|>") == small.pad_token_id
    assert trimmed["model"].generation_config.eos_token_id == config.eos_token_id
    spec = json.loads(trimmed["tokenizer"].backend_tokenizer.to_str())
    renumbered = trimmed_tokenizer_json(spec, trimmed["report"].kept)
    assert all(token["id"] < trimmed["report"].tokens_after for token in renumbered["added_tokens"])


def test_the_bundle_config_names_the_renumbered_end_and_pad_tokens(trimmed: dict[str, Any]) -> None:
    """What the drafting workers stop on and pad with (every real build also passes the ONNX parity check)."""
    from services.trainer.generation.export import generator_config

    config = generator_config(trimmed["model"], trimmed["small"], languages=("zh", "en"))
    assert config["eos_token_ids"] == [trimmed["small"].convert_tokens_to_ids("<|im_end|>")]
    assert config["pad_token_id"] == trimmed["small"].convert_tokens_to_ids("<|endoftext|>")
