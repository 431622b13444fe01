"""Memory of one worker that holds every model: the classifier, the knowledge-base encoder and the reply
generator, loaded in a fresh process the way the worker loads them, then used once (a classification, a
search embedding, a drafted reply) — RSS after each step. The budget is 1 GB for the whole process.

`python -m helploop.bench.memory SPEC.json` measures one generator variant and prints its JSON."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from helploop.bench.classification import rss_mb
from helploop.bench.isolated import measure_in_fresh_process
from shared.registry import Registry

MODULE = "helploop.bench.memory"
BUDGET_MB = 1000
TICKETS = (
    "我的包裹还没到，已经两周了，我要退款",
    "My parcel never arrived and it's been two weeks, I want a refund",
)


def _rss_mb() -> float:
    return round(rss_mb(), 1)


def measure_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """RSS after Python + onnxruntime, each model's load, and one use of each."""
    import onnxruntime  # noqa: F401  (counted in the baseline: every worker imports it)

    from shared.drafting.prompt import build_prompt
    from shared.runtime.classifier import OnnxClassifier
    from shared.runtime.encoder import SentenceEncoder
    from shared.runtime.generator import GenerationConfig, OnnxGenerator

    steps: dict[str, float] = {"python + onnxruntime": _rss_mb()}
    threads = spec["threads"]
    classifier = OnnxClassifier(Path(spec["classifier"]), version="classifier", intra_op_threads=threads)
    steps["+ classifier"] = _rss_mb()
    encoder = SentenceEncoder(Path(spec["encoder"]), version="encoder", intra_op_threads=threads)
    steps["+ knowledge-base encoder"] = _rss_mb()
    generator = OnnxGenerator(Path(spec["generator"]), version="generator", intra_op_threads=threads)
    steps["+ generator"] = _rss_mb()
    classifier.predict(list(TICKETS))
    encoder.embed_queries(list(TICKETS))
    for ticket in TICKETS:
        prompt = build_prompt(ticket=ticket, intent="refund_request", passages=[])
        generator.generate([prompt], GenerationConfig(max_new_tokens=spec["new_tokens"]))
    steps["after a classification, a search and two drafts"] = _rss_mb()
    return {"name": spec["name"], "steps_rss_mb": steps, "rss_mb": max(steps.values())}


def _generator_variants(settings: Any, scratch: Path) -> dict[str, Path]:
    """The served generator and its float32 parent (a fresh clone: the base model exported, then w8)."""
    from helploop.bench.generation import derived, fp32_bundle

    registry, fp32 = fp32_bundle(settings, scratch)
    w8 = derived(registry, fp32, "w8", settings)
    return {"float32 generator": registry.bundle_dir(fp32), "w8 generator (served)": registry.bundle_dir(w8)}


def bench_memory(
    *, source: Registry, settings: Any, scratch: Path, threads: int, new_tokens: int = 48
) -> dict[str, Any]:
    """One fresh process per generator variant, each with the active classifier and KB encoder."""
    from helploop.cli.kb import ensure_encoder

    encoder = Registry(settings.encoder_registry_dir).bundle_dir(ensure_encoder())
    classifier = source.bundle_dir(source.active_version())
    common = {"threads": threads, "classifier": str(classifier), "encoder": str(encoder)}
    common["new_tokens"] = new_tokens
    variants = {
        name: measure_in_fresh_process(MODULE, {"name": name, "generator": str(path), **common})
        for name, path in _generator_variants(settings, scratch).items()
    }
    shutil.rmtree(scratch, ignore_errors=True)
    return {
        "budget_mb": BUDGET_MB,
        "encoder": encoder.name,
        "classifier": classifier.name,
        "variants": variants,
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(measure_worker(json.loads(Path(sys.argv[1]).read_text()))) + "\n")
