"""`helploop evaluate-generator --demo --followups N`: do drafts gain from the customer's history?

The demo shop's hold-out follow-ups (services/trainer/demo_followups.py: "Still nothing here." after we
promised a trace result by a date) are drafted twice by the same generator: with the customer's earlier
ticket and our reply in the prompt, as the drafting workers build it, and without. Reported per system
and language: chrF and ROUGE-L against the agent's reply, how often the draft names the earlier order and
the promised date, and the guardrail flag rate (history grounds an order id or a date taken from it).
With `resample` > 0, two more rows: the drafts with and without history as the workers serve them (each
flagged draft — and, with history, one that does not name the earlier order — sampled again, the first
clean one kept), and the gain between them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from services.trainer.demo_followups import FollowUp, followup_examples, references
from services.trainer.generation.evaluate import draft_scores, generate_all, resampled
from shared.runtime.generator import GenerationConfig, OnnxGenerator


def _reference_rates(texts: list[str], followups: list[FollowUp]) -> dict[str, float]:
    found = [references(text, f) for text, f in zip(texts, followups, strict=True)]
    total = max(len(found), 1)
    return {
        "names_order": sum(f["order"] for f in found) / total,
        "names_promised_date": sum(f["promise"] for f in found) / total,
        "names_order_or_date": sum(f["order"] or f["promise"] for f in found) / total,
    }


def _system(name: str, texts: list[str], followups: list[FollowUp], examples: list[Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"system": name, "per_language": {}}
    for language in sorted({f.language for f in followups}):
        keep = [i for i, f in enumerate(followups) if f.language == language]
        picked = [texts[i] for i in keep]
        row["per_language"][language] = {
            **draft_scores(picked, [examples[i] for i in keep], [language] * len(keep)),
            **_reference_rates(picked, [followups[i] for i in keep]),
        }
    row.update(draft_scores(texts, examples, [f.language for f in followups]))
    row.update(_reference_rates(texts, followups))
    return row


def evaluate_history(
    *,
    generator: OnnxGenerator,
    followups: list[FollowUp],
    config: GenerationConfig,
    batch: int = 8,
    resample: int = 0,
) -> dict[str, Any]:
    """The same generator with and without the customer's history in the prompt."""
    examples = followup_examples(followups)
    named = generator.prompt_language
    prompts = [e.prompt(name_language=named) for e in examples]
    with_history = generate_all(generator, prompts, config, batch)
    bare = [replace(e, history=[]).prompt(name_language=named) for e in examples]
    without = generate_all(generator, bare, config, batch)
    rows = [
        _system("with the customer's history", with_history.texts, followups, examples),
        _system("without history", without.texts, followups, examples),
    ]
    if resample:
        served = resampled(generator, prompts, with_history, examples, config, resample)
        label = f"with history, flagged drafts sampled again (up to {resample}×, as served)"
        rows.append(_system(label, served.texts, followups, examples))
        bare_examples = [replace(e, history=[]) for e in examples]
        served = resampled(generator, bare, without, bare_examples, config, resample)
        label = f"without history, flagged drafts sampled again (up to {resample}×, as served)"
        rows.append(_system(label, served.texts, followups, examples))
    return {
        "examples": len(followups),
        "version": generator.version,
        "max_new_tokens": config.max_new_tokens,
        "systems": rows,
        "gain_chrf": rows[0]["chrf"] - rows[1]["chrf"],
        "gain_chrf_served": rows[2]["chrf"] - rows[3]["chrf"] if resample else None,
        "samples": [
            {"ticket": f.ticket, "reference": f.reply, "with_history": a, "without_history": b}
            for f, a, b in list(zip(followups, with_history.texts, without.texts, strict=True))[:6]
        ],
    }


def write_history_report(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    lines = [
        "# Follow-up drafts with and without the customer's history",
        "",
        f"{report['examples']} hold-out follow-ups of the demo shop, generator {report['version']}, greedy, "
        f"max {report['max_new_tokens']} new tokens. Targets: +3 chrF with history; the earlier order or "
        "promise named in ≥ 90 %.",
        "",
        "| system | language | chrF | ROUGE-L | names the order | names the promised date | either "
        "| flagged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report["systems"]:
        for language, scores in [("all", row), *row["per_language"].items()]:
            lines.append(
                f"| {row['system']} | {language} | {scores['chrf']:.1f} | {scores['rouge_l']:.1f} | "
                f"{scores['names_order']:.0%} | {scores['names_promised_date']:.0%} | "
                f"{scores['names_order_or_date']:.0%} | {scores['guardrail_flag_rate']:.1%} |"
            )
    lines += ["", f"chrF gain with history: {report['gain_chrf']:+.1f} greedy"]
    if report.get("gain_chrf_served") is not None:
        lines[-1] += f", {report['gain_chrf_served']:+.1f} as served"
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    return out_dir
