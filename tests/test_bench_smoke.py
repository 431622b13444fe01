"""`helploop bench --smoke`: every section of `make bench` runs on tiny inputs against the test models, so a
change that breaks a section (a moved signature, a renamed field) breaks `make test`, not the next
benchmark; and a section that fails is recorded while the others' results are kept. Nothing here asserts
a speed: the numbers of a smoke run mean nothing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helploop.bench.generation import OURS, STACKED
from helploop.bench.reclassify import INT8_CHILD
from helploop.cli.main import main
from shared.registry import Registry
from tests.conftest import MODEL_CACHE


@pytest.fixture
def bench_settings(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    redis_url: str,
    encoder_registry: Registry,
    generator_registry: Registry,
) -> Iterator[None]:
    from shared.settings import get_settings

    monkeypatch.setenv("HELPLOOP_REDIS_URL", redis_url)
    monkeypatch.setenv("HELPLOOP_ENCODER_REGISTRY_DIR", str(encoder_registry.root))
    monkeypatch.setenv("HELPLOOP_GENERATOR_REGISTRY_DIR", str(generator_registry.root))
    monkeypatch.setenv("HELPLOOP_CACHE_DIR", str(MODEL_CACHE))
    monkeypatch.setenv("HELPLOOP_DATASETS_DIR", str(tmp_path / "no-datasets"))  # the demo shop's texts
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _sections(out: Path) -> dict:
    return json.loads((out / "latest.json").read_text())["sections"]


def _check_sections(sections: dict) -> None:
    classification = sections["classification"]["variants"]
    assert {"fp32", "fused", "int8"} <= set(classification) and len(classification) == 4
    assert all(run["tickets_per_s"] > 0 for v in classification.values() for run in v["runs"])
    assert sections["classification_other_base"]["variants"].keys() == classification.keys()
    runtimes = sections["generation"]["runtimes"]
    assert len(runtimes) == 6 and all([r["batch"] for r in v["runs"]] == [1, 2] for v in runtimes.values())
    reduced = [STACKED, *(f"{OURS}{kind}" for kind in ("w8", "w4", "int8"))]  # fp32's before, and the rest
    assert all(0 <= runtimes[name]["vs_fp32"]["chrf"] <= 100 for name in reduced), list(runtimes)
    assert all(row["x_fp32"] > 0 for row in runtimes[f"{OURS}fp32"]["runs"])
    assert sections["limits"]["memory_read_gb_s"] > 0 and sections["generation"]["memory_read_gb_s"] > 0
    assert all(row["weight_read_limit_tokens_per_s"] > 0 for v in runtimes.values() for row in v["runs"])
    for variant in sections["memory"]["variants"].values():
        steps = list(variant["steps_rss_mb"].values())
        assert steps[3] - steps[2] > 100, variant  # the generator's weights are in the process
    endtoend = sections["endtoend"]
    assert endtoend["in_process_ms"]["p50"] is not None
    for setup in endtoend["setups"].values():
        assert [s["rate"] for s in setup["steps"]][:1] == [5] and setup["steps"][0]["errors"] == 0, setup
        assert setup["steps"][0]["sent"] >= 3
    reclassify = sections["reclassify"]
    assert len(reclassify["variants"]) == 2, reclassify  # the active model and its int8 child
    for variant in reclassify["variants"].values():
        assert variant["batched"]["tickets"] == 40 and variant["one_task_per_ticket"]["tickets"] == 6
    assert reclassify["variants"][INT8_CHILD]["version"].endswith("-int8")
    (console,) = sections["console"]["runs"]  # SQLite; PostgreSQL only with --postgres-url
    assert console["tickets"] == 600 and len(console["pages"]) == 9
    assert all(page["median_ms"] > 0 for page in console["pages"].values())
    assert set(console["paging"]) == {"offset_query", "keyset_query", "index_scan_limit"}


def test_every_section_runs_on_tiny_inputs(
    bench_settings: None, trained_registry: Registry, bilingual_registry: Registry, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    argv = ["bench", "--smoke", "--threads", "1", "--out", str(out), "--registry", str(trained_registry.root)]
    argv += ["--other-registry", str(bilingual_registry.root)]  # trained on the other base already
    assert main(argv) == 0, (out / "latest.md").read_text()
    sections = _sections(out)
    assert list(sections) == [
        "limits",
        "classification",
        "classification_other_base",
        "generation",
        "memory",
        "endtoend",
        "reclassify",
        "console",
    ]
    assert not [name for name, result in sections.items() if "error" in result], sections
    _check_sections(sections)
    markdown = (out / "latest.md").read_text()
    assert "This section failed" not in markdown and "End to end" in markdown
    served = sections["endtoend"]["setups"]["prefork, 1 process, int8 classifier"]  # the int8 child served
    assert served["version"].endswith("-int8") and served["tickets_it_classified"] > 0, served
    if (os.cpu_count() or 1) >= 2:  # scale-out: the prefork worker again with 2 processes
        assert "prefork, 2 processes" in sections["endtoend"]["setups"]
        assert "| worker processes |" in markdown and "\n| 2 | " in markdown


def test_a_failing_section_is_recorded_and_the_others_are_kept(
    bench_settings: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from helploop.cli import bench

    def broken(*_args: object, **_kwargs: object) -> None:
        raise TypeError("ingest_ticket() got an unexpected keyword argument 'enqueue'")

    limits = {"threads": 1, "size": 64, "torch_fp32_gflops": 9.0, "onnxruntime_fp32_gflops": 10.0}
    limits |= {"fp32_gflops": 10.0, "int8_gops": 20.0}
    monkeypatch.setattr("helploop.bench.limits.gemm_throughput", lambda threads: limits)
    monkeypatch.setattr(bench, "_generation", broken)
    out = tmp_path / "results"
    assert main(["bench", "--only", "generation", "--out", str(out)]) == 1
    sections = _sections(out)
    assert sections["limits"] == limits
    assert sections["generation"] == {
        "error": "TypeError: ingest_ticket() got an unexpected keyword argument 'enqueue'"
    }
    markdown = (out / "latest.md").read_text()
    assert "**This section failed**: `TypeError" in markdown and "| int8 GEMM, onnxruntime" in markdown
    assert "failed sections: generation" in capsys.readouterr().out


def test_the_rate_ladder_is_refined_to_the_real_highest_sustained_rate() -> None:
    from helploop.bench.endtoend import rate_steps

    def run(rate: float) -> dict:
        return {"rate": rate, "sustained": rate <= 37}

    steps = rate_steps(run, (10, 25, 50, 75), refine_to=5.0)
    rates = [s["rate"] for s in steps]
    assert rates[:2] == [10, 25] and 50 in rates and 75 not in rates  # the ladder stops at the first failure
    best = max(s["rate"] for s in steps if s["sustained"])
    worst = min(s["rate"] for s in steps if not s["sustained"])
    assert 32 <= best <= 37 < worst <= best + 5, rates
    assert [s["rate"] for s in rate_steps(run, (10, 25, 50), refine_to=0.0)] == [10, 25, 50]
    assert [s["rate"] for s in rate_steps(run, (10, 25), refine_to=5.0)] == [10, 25]  # none failed


def test_a_table_that_cannot_be_rendered_leaves_the_results_written(tmp_path: Path) -> None:
    from helploop.bench.report import write_results

    json_path, md_path = write_results(tmp_path, {"limits": {"threads": 1}})
    assert json.loads(json_path.read_text())["sections"] == {"limits": {"threads": 1}}
    assert "The table could not be rendered**: `KeyError" in md_path.read_text()


def test_without_another_registry_a_demo_classifier_on_the_other_base_is_trained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The path the smoke run skips (it passes the test suite's bilingual model): the demo data and the
    training config are built for real, only the training itself is replaced."""
    from helploop.bench.scale import SMOKE
    from helploop.cli import bench

    seen = {}

    def train(config: object, *, registry: Registry, cache_dir: Path, activate: bool) -> None:
        seen.update(config=config, registry=registry, activate=activate)

    monkeypatch.setattr("services.trainer.pipeline.run_training", train)
    registry = bench._demo_registry(tmp_path, "multilingual-e5-small", tmp_path / "cache", SMOKE)
    config = seen["config"]
    assert registry is seen["registry"] and seen["activate"] and config.max_steps == SMOKE.other_base_steps
    assert config.base_model == "multilingual-e5-small" and config.train_file.stat().st_size > 0


def test_scale_out_counts_prefork_processes_up_to_the_cores() -> None:
    from helploop.bench.endtoend import scale_out_setups
    from helploop.bench.report import scale_out_table
    from helploop.bench.scale import FULL, SMOKE

    assert list(scale_out_setups(FULL, cores=4)) == [
        "prefork, 2 processes",
        "prefork, 3 processes",
        "prefork, 4 processes",
    ]
    assert scale_out_setups(FULL, cores=1) == {} and len(scale_out_setups(SMOKE, cores=16)) == 1
    assert scale_out_setups(FULL, cores=16)["prefork, 8 processes"]["HELPLOOP_WORKER_CONCURRENCY"] == "8"

    def setup(rate: float | None, worker_ms: float) -> dict:
        step = {"cpu_ms_per_ticket": {"gateway": 9.0, "worker": worker_ms, "load generator": 1.0}}
        return {"max_sustained_rate": rate, "steps": [step], "worker_rss_mb": 300.0}

    setups = {"prefork, 1 process": setup(60, 18.0), "threads ×16, micro-batching": setup(70, 17.0)}
    table = scale_out_table({"setups": {**setups, "prefork, 2 processes": setup(None, 20.0)}})
    assert table[2] == "| 1 | 60 | 5,184,000 | 18.0 | 4,800,000 | 300.0 |"
    assert table[3] == "| 2 | none | – | 20.0 | 4,320,000 | 300.0 |" and len(table) == 5
