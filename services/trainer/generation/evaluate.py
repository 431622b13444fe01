"""`helploop evaluate-generator`: the Bitext hold-out, three ways side by side.

(a) the untuned model, (b) nearest-neighbour retrieval of a training reply, (c) the fine-tuned model —
(a) and (c) get the same prompt (the ticket plus the reply to its nearest training ticket).
Metrics: chrF and ROUGE-L F1 against the reference replies, guardrail flag rate, tokens/s.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.trainer.generation.data import ReplyExample, with_neighbour_replies
from services.trainer.generation.pipeline import nearest
from shared.drafting.guardrails import check_draft
from shared.drafting.prompt import build_prompt
from shared.runtime.encoder import SentenceEncoder
from shared.runtime.generator import GenerationConfig, OnnxGenerator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SystemOutput:
    texts: list[str]
    tokens: int
    seconds: float


def text_scores(predictions: list[str], references: list[str]) -> dict[str, float]:
    from rouge_score import rouge_scorer
    from sacrebleu.metrics import CHRF

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge = [
        scorer.score(ref, pred)["rougeL"].fmeasure for pred, ref in zip(predictions, references, strict=True)
    ]
    return {
        "chrf": float(CHRF().corpus_score(predictions, [references]).score),
        "rouge_l": 100.0 * sum(rouge) / max(len(rouge), 1),
    }


def generate_all(
    generator: OnnxGenerator, prompts: list[str], config: GenerationConfig, batch: int
) -> SystemOutput:
    texts, tokens, started = [], 0, time.perf_counter()
    for start in range(0, len(prompts), batch):
        results = generator.generate(prompts[start : start + batch], config)
        texts.extend(r.text for r in results)
        tokens += sum(r.tokens for r in results)
        log.info("%s: %d/%d drafts", generator.version, len(texts), len(prompts))
    return SystemOutput(texts, tokens, time.perf_counter() - started)


def _row(name: str, output: SystemOutput, test: list[ReplyExample]) -> dict[str, Any]:
    references = [e.reply for e in test]
    flagged = [
        not check_draft(text, ticket_text=e.ticket, cited_articles=[p.text for p in e.passages]).ok
        for text, e in zip(output.texts, test, strict=True)
    ]
    return {
        "system": name,
        **text_scores(output.texts, references),
        "guardrail_flag_rate": sum(flagged) / max(len(flagged), 1),
        "tokens_per_second": output.tokens / output.seconds if output.seconds else None,
        "examples": len(references),
    }


def evaluate_generators(
    *,
    train: list[ReplyExample],
    test: list[ReplyExample],
    encoder: SentenceEncoder,
    generators: dict[str, OnnxGenerator],
    config: GenerationConfig,
    batch: int = 8,
) -> dict[str, Any]:
    neighbours = nearest(encoder, [e.ticket for e in test], [e.ticket for e in train])
    test = with_neighbour_replies(test, train, neighbours, skip_self=False)
    retrieval = SystemOutput([train[n[0]].reply for n in neighbours], 0, 0.0)
    rows = [_row("nearest-neighbour retrieval", retrieval, test)]
    prompts = [build_prompt(ticket=e.ticket, intent=e.intent, passages=e.passages) for e in test]
    for name, generator in generators.items():
        rows.append(
            {
                **_row(name, generate_all(generator, prompts, config, batch), test),
                "version": generator.version,
            }
        )
    return {
        "examples": len(test),
        "max_new_tokens": config.max_new_tokens,
        "repetition_penalty": config.repetition_penalty,
        "systems": rows,
        "prompts": prompts,
    }


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(
        json.dumps({k: v for k, v in report.items() if k != "prompts"}, indent=2)
    )
    lines = [
        "# Reply drafts on the Bitext hold-out",
        "",
        f"{report['examples']} held-out tickets (never trained on), greedy decoding, "
        f"max {report['max_new_tokens']} new tokens, repetition penalty "
        f"{report.get('repetition_penalty', 1.1)}.",
        "",
        "| system | chrF | ROUGE-L | guardrail flags | tokens/s |",
        "|---|---|---|---|---|",
    ]
    for row in report["systems"]:
        speed = f"{row['tokens_per_second']:.1f}" if row["tokens_per_second"] else "—"
        lines.append(
            f"| {row['system']} | {row['chrf']:.1f} | {row['rouge_l']:.1f} | "
            f"{row['guardrail_flag_rate']:.1%} | {speed} |"
        )
    if report.get("speed"):
        lines += ["", "Decoding speed (64 new tokens, greedy, median of 3):", ""]
        lines += ["| runtime | batch | tokens/s | × PyTorch |", "|---|---|---|---|"]
        torch_rate = {
            r["batch"]: r["tokens_per_second"] for r in report["speed"] if "PyTorch" in r["runtime"]
        }
        lines += [
            f"| {r['runtime']} | {r['batch']} | {r['tokens_per_second']:.1f} | "
            f"{r['tokens_per_second'] / torch_rate[r['batch']]:.2f} |"
            for r in report["speed"]
        ]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    return out_dir
