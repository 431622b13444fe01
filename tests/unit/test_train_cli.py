"""Training options: YAML/JSON file, CLI flags winning over it, unknown options refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helploop.cli.main import build_parser
from helploop.cli.training import build_config
from services.trainer.config import TrainConfig


def parse(*argv: str):  # type: ignore[no-untyped-def]
    return build_parser().parse_args(["train", "--train", "data.csv", *argv])


def test_yaml_file_with_cli_overrides(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "learning_rate: 3.0e-4\nepochs: 9\nfreeze: bottom_n:2\nhead_columns: {intent: category}\n"
    )
    config = build_config(parse("--config", str(recipe), "--epochs", "3", "--label-smoothing", "0.1"))
    assert (config.learning_rate, config.epochs, config.freeze) == (3e-4, 3, "bottom_n:2")
    assert config.head_columns == {"intent": "category"} and config.label_smoothing == 0.1
    assert config.train_file == Path("data.csv")


def test_heads_from_flags_and_json_file(tmp_path: Path) -> None:
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"batch_size": 8}))
    config = build_config(
        parse("--config", str(recipe), "--head", "intent=label", "--head", "mood=sentiment")
    )
    assert config.batch_size == 8 and config.head_columns == {"intent": "label", "mood": "sentiment"}
    with pytest.raises(ValueError, match="NAME=COLUMN"):
        build_config(parse("--head", "intent"))


def test_unknown_option_in_file_is_refused(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("learning_rate: 1e-4\nlearnig_rate: 2e-4\n")
    with pytest.raises(ValueError, match="learnig_rate"):
        TrainConfig.from_file(recipe, train_file=Path("x.csv"))


def test_shipped_recipes_load() -> None:
    recipes = Path(__file__).resolve().parents[2] / "services" / "trainer" / "recipes"
    for path in recipes.glob("*.yaml"):
        config = TrainConfig.from_file(path, train_file=Path("x.jsonl"))
        assert all(
            (config.for_base(base).epochs or 0) >= 1 for base in ("minilm-l6", "multilingual-e5-small")
        )


def test_unset_options_take_the_base_models_recipe_and_set_ones_stay() -> None:
    """e5 trains longer, stops on macro-F1 and smooths labels (what beat TF-IDF on CAIS); MiniLM keeps the
    options measured on Banking77; a local model directory gets MiniLM's; what a user set always wins."""
    unset = TrainConfig(train_file=Path("x.csv"))
    e5 = unset.for_base("multilingual-e5-small")
    assert (e5.epochs, e5.early_stopping_metric, e5.patience, e5.label_smoothing) == (10, "macro_f1", 3, 0.1)
    minilm = unset.for_base("minilm-l6")
    assert (minilm.epochs, minilm.early_stopping_metric, minilm.patience, minilm.label_smoothing) == (
        4,
        "loss",
        2,
        0.0,
    )
    assert unset.for_base("local") == minilm and unset.epochs is None  # a copy: the original stays unset
    mine = TrainConfig(train_file=Path("x.csv"), epochs=2, label_smoothing=0.0).for_base(
        "multilingual-e5-small"
    )
    assert (mine.epochs, mine.label_smoothing, mine.early_stopping_metric) == (2, 0.0, "macro_f1")


def test_the_few_shot_stage_is_chosen_from_the_command_line() -> None:
    assert build_config(parse()).contrastive == "auto"
    config = build_config(parse("--contrastive", "never", "--contrastive-loss", "cosine"))
    assert (config.contrastive, config.contrastive_loss) == ("never", "cosine")
    with pytest.raises(SystemExit):
        parse("--contrastive", "sometimes")


def test_every_training_option_is_a_flag_with_help_and_a_flag_given_wins_over_the_file(
    tmp_path: Path,
) -> None:
    """The flags are generated from TrainConfig: a new field is a new flag, documented and typed."""
    import dataclasses

    parser = build_parser()._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    flags = {action.dest: action for action in parser._actions}
    for field in dataclasses.fields(TrainConfig):
        if field.name in ("train_file", "head_columns"):  # --train, --head/--label-column by hand
            continue
        assert field.name in flags and flags[field.name].help, field.name
    assert flags["long_text"].choices == ["truncate", "head_tail", "chunks"]
    assert (
        "--valid" in flags["valid_file"].option_strings
        and "(default: 20)" in flags["contrastive_iterations"].help
    )
    recipe = tmp_path / "r.yaml"
    recipe.write_text("contrastive_iterations: 40\ngroup_by_length: false\ncalibrate: false\n")
    config = build_config(
        parse(
            "--config", str(recipe), "--contrastive-iterations", "5", "--group-by-length", "--valid", "v.csv"
        )
    )
    assert (config.contrastive_iterations, config.group_by_length, config.calibrate) == (5, True, False)
    assert config.valid_file == Path("v.csv") and isinstance(config.contrastive_temperature, float)
    defaults = build_config(parse("--no-calibrate", "--no-trim-vocabulary", "--long-text", "head_tail"))
    assert (defaults.calibrate, defaults.trim_vocabulary, defaults.long_text) == (False, False, "head_tail")
    assert defaults.max_length == TrainConfig(train_file=Path("x")).max_length  # unset: the default
    with pytest.raises(SystemExit):
        parse("--max-length", "long")


def test_train_generator_flags_come_from_its_config_and_make_runs_recipe_parses() -> None:
    import dataclasses

    from helploop.cli.dataclass_flags import given
    from helploop.cli.run import DEMO_GENERATOR
    from services.trainer.generation.options import GeneratorTrainConfig

    parser = build_parser()._subparsers._group_actions[0].choices["train-generator"]  # type: ignore[union-attr]
    flags = {action.dest: action for action in parser._actions}
    names = [f.name for f in dataclasses.fields(GeneratorTrainConfig)]
    assert all(name in flags and flags[name].help for name in names)
    args = build_parser().parse_args(["train-generator", *DEMO_GENERATOR])
    config = GeneratorTrainConfig(**given(args, GeneratorTrainConfig))
    assert (config.max_steps, config.train_layers, config.learning_rate) == (60, 8, 1e-4)
    assert (config.batch_size, config.vocabulary_keep_top) == (4, 12_000)  # unset: the defaults


def test_serve_defaults_to_int8_on_a_cpu_and_to_float32_where_onnxruntime_runs_cuda(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from helploop.cli.training import _precision
    from services.trainer import served

    assert parse().serve == "auto" and parse("--serve", "fp32").serve == "fp32"
    monkeypatch.setattr(served, "cuda_available", lambda: False)
    assert _precision("auto") == ("int8", None)
    monkeypatch.setattr(served, "cuda_available", lambda: True)
    precision, why = _precision("auto")
    assert precision == "fp32" and why is not None and "CUDA" in why
    assert _precision("int8") == ("int8", None) and _precision("fp32") == ("fp32", None)  # asked: as asked
