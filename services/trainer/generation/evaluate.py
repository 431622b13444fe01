"""`helploop evaluate-generator`: a hold-out, three ways side by side.

(a) the untuned model, (b) nearest-neighbour retrieval of a training reply, (c) the fine-tuned model —
(a) and (c) get the same prompt: on Bitext the ticket plus the reply to its nearest training ticket; on
the demo shop (`--demo`) the knowledge-base passages the drafting workers would show.
Metrics: chrF and ROUGE-L F1 against the reference replies, guardrail flag rate (and the flags by
reason), how often a draft repeats the ticket's error code or order number (`references`), tokens/s.
With `resample` > 0 a second row per model shows what the drafting workers serve: every flagged draft
sampled again up to that often, the first clean one kept (shared/drafting/resample). With `serve` (the
nightly gate) a row per system of what a ticket would get: a reply the guardrails make unusable (a
placeholder, a promise no article backs, …) replaced by the intent's template as the drafting workers store
it — for each model's served drafts, and for retrieval of a past reply re-greeted to this customer (any
retrieval system would change the name; a past reply greeting someone else is not its fault).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.trainer.generation.data import ReplyExample, with_neighbour_replies
from services.trainer.generation.pipeline import nearest
from shared.drafting.consensus import most_agreed, sampled_drafts
from shared.drafting.guardrails import GREETING_NAME, UNUSABLE, GuardrailReport, check_draft
from shared.drafting.prompt import CJK, CJK_CHARS
from shared.drafting.references import cites, repeats_reference, salient_reference
from shared.drafting.resample import first_clean, resample_configs
from shared.drafting.templates import fallback_reply
from shared.runtime.encoder import SentenceEncoder
from shared.runtime.generator import Generation, GenerationConfig, OnnxGenerator
from shared.runtime.language import detect_language

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SystemOutput:
    texts: list[str]
    tokens: int
    seconds: float


class CharacterTokenizer:
    """ROUGE tokens for text with Chinese: each ideograph a token, other runs of letters/digits a word
    (rouge_score's own tokenizer keeps only a-z0-9, so a Chinese reply would have no tokens at all)."""

    PATTERN = re.compile(f"[{CJK_CHARS}]|[^\\W{CJK_CHARS}]+")

    def tokenize(self, text: str) -> list[str]:
        return self.PATTERN.findall(text.lower())


def text_scores(predictions: list[str], references: list[str]) -> dict[str, float]:
    """Corpus chrF (sacrebleu) and mean ROUGE-L F1: English with rouge_score's stemmed words, a reference
    with Chinese in it by characters."""
    from rouge_score import rouge_scorer
    from sacrebleu.metrics import CHRF

    words = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    characters = rouge_scorer.RougeScorer(["rougeL"], tokenizer=CharacterTokenizer())
    rouge = [
        (characters if CJK.search(ref) else words).score(ref, pred)["rougeL"].fmeasure
        for pred, ref in zip(predictions, references, strict=True)
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


def guardrails(text: str, example: ReplyExample, language: str | None) -> GuardrailReport:
    """The drafting workers' checks of one draft for this example's ticket."""
    return check_draft(
        text,
        ticket_text=example.ticket,
        cited_articles=[p.cited_text() for p in example.passages],
        customer_name=example.customer_name,
        language=language,
        history=[h.grounding_text() for h in example.history],
    )


def resampled(
    generator: OnnxGenerator,
    prompts: list[str],
    output: SystemOutput,
    test: list[ReplyExample],
    config: GenerationConfig,
    attempts: int,
) -> SystemOutput:
    """`output` as the drafting workers serve it: each flagged draft (or clean one that leaves the ticket's
    identifier out — or a follow-up's, the earlier ticket's) sampled again, the first clean one (with the
    identifier) kept."""
    texts, spent = list(output.texts), [output.tokens, output.seconds]
    for i, example in enumerate(test):
        language = detect_language(example.ticket).language

        def generate(options: GenerationConfig, prompt: str = prompts[i]) -> Generation:
            generation = generator.generate([prompt], options)[0]
            spent[0], spent[1] = spent[0] + generation.tokens, spent[1] + generation.seconds
            return generation

        first = Generation(texts[i], [], 0, "eos", 0.0, 0.0)
        kept, _, _ = first_clean(
            (first, guardrails(texts[i], example, language)),
            generate=generate,
            check=lambda g, e=example, lang=language: guardrails(g.text, e, lang),
            configs=resample_configs(config, attempts),
            prefer=repeats_reference(example.ticket, example.history, intent=example.intent),
        )
        texts[i] = kept.text
    return SystemOutput(texts, int(spent[0]), float(spent[1]))


def agreed(
    generator: OnnxGenerator,
    prompts: list[str],
    output: SystemOutput,
    test: list[ReplyExample],
    config: GenerationConfig,
    candidates: int,
    batch: int,
) -> SystemOutput:
    """`output` (the greedy drafts) as the drafting workers serve it with `candidates` drafts per ticket:
    `candidates - 1` sampled beside each, the clean one they agree on most kept."""
    started = time.perf_counter()
    sampled = sampled_drafts(generator.generate, prompts, config, candidates - 1, batch=batch)
    texts = []
    for i, example in enumerate(test):
        language = detect_language(example.ticket).language
        options = [output.texts[i], *(g.text for g in sampled[i])]
        clean = [guardrails(text, example, language).ok for text in options]
        texts.append(options[most_agreed(options, eligible=clean)])
    tokens = output.tokens + sum(g.tokens for drafts in sampled for g in drafts)
    return SystemOutput(texts, tokens, output.seconds + time.perf_counter() - started)


def regreeted(text: str, customer_name: str | None) -> str:
    """`text` greeting this customer (first name in English, whole name in Chinese) if it greets by name."""
    match = GREETING_NAME.search(text)
    if match is None or not customer_name or not customer_name.strip():
        return text
    group = "name" if match.group("name") else "name_zh"
    name = customer_name.strip() if group == "name_zh" else customer_name.split()[0]
    return text[: match.start(group)] + name + text[match.end(group) :]


def as_served(output: SystemOutput, test: list[ReplyExample]) -> SystemOutput:
    """`output` as tickets would get it: a text with an unusable flag replaced by the intent's template."""
    texts = []
    for text, example in zip(output.texts, test, strict=True):
        language = detect_language(example.ticket).language
        unusable = UNUSABLE & set(guardrails(text, example, language).flags)
        name = example.customer_name
        texts.append(
            fallback_reply(intent=example.intent, customer_name=name, language=language) if unusable else text
        )
    return SystemOutput(texts, output.tokens, output.seconds)


def draft_scores(texts: list[str], test: list[ReplyExample], languages: list[str | None]) -> dict[str, Any]:
    reports = [guardrails(t, e, language) for t, e, language in zip(texts, test, languages, strict=True)]
    flagged = [not r.ok for r in reports]
    return {
        **text_scores(texts, [e.reply for e in test]),
        "guardrail_flag_rate": sum(flagged) / max(len(flagged), 1),
        "flags": dict(Counter(flag for r in reports for flag in r.flags)),
        "examples": len(test),
        **reference_citation(texts, test),
    }


def reference_citation(texts: list[str], test: list[ReplyExample]) -> dict[str, Any]:
    """Of the tickets that give an error code, order or invoice number (`references`), the share whose
    draft repeats it back — overall and for those where it is only in an attachment."""
    cited: dict[str, list[bool]] = {"all": [], "attachment": []}
    for text, example in zip(texts, test, strict=True):
        reference = salient_reference(example.ticket)
        if reference is not None:
            cited["all"].append(cites(text, reference))
            if reference.source != "message":
                cited["attachment"].append(cites(text, reference))
    return {
        "reference_tickets": len(cited["all"]),
        "reference_citation": sum(cited["all"]) / len(cited["all"]) if cited["all"] else None,
        "attachment_reference_tickets": len(cited["attachment"]),
        "attachment_reference_citation": (
            sum(cited["attachment"]) / len(cited["attachment"]) if cited["attachment"] else None
        ),
    }


def _row(name: str, output: SystemOutput, test: list[ReplyExample]) -> dict[str, Any]:
    """Scores over the whole hold-out and, when it mixes languages, per language of the ticket (chrF is
    computed on characters, so it means the same for Chinese as for English)."""
    languages = [detect_language(e.ticket).language for e in test]
    row = {
        "system": name,
        **draft_scores(output.texts, test, languages),
        "tokens_per_second": output.tokens / output.seconds if output.seconds else None,
        "drafts": output.texts,  # moved to the report's "drafts" by evaluate_generators
    }
    if len({language for language in languages if language}) > 1:  # None: too short to tell
        row["per_language"] = {
            language or "unknown": draft_scores(
                [t for t, lang in zip(output.texts, languages, strict=True) if lang == language],
                [e for e, lang in zip(test, languages, strict=True) if lang == language],
                [language] * languages.count(language),
            )
            for language in sorted(set(languages), key=str)
        }
    return row


def _model_rows(
    name: str,
    generator: OnnxGenerator,
    prompts: list[str],
    test: list[ReplyExample],
    config: GenerationConfig,
    batch: int,
    candidates: int,
    resample: int,
    serve: bool,
) -> list[dict[str, Any]]:
    """One generator's rows: greedy, then each serving step on top of the one before."""
    output = generate_all(generator, prompts, config, batch)
    rows = [{**_row(name, output, test), "version": generator.version}]
    if candidates > 1:
        output = agreed(generator, prompts, output, test, config, candidates, batch)
        label = f"{name}, {candidates} drafts, the most agreed served (chrF MBR)"
        rows.append({**_row(label, output, test), "version": generator.version})
    if resample:
        output = resampled(generator, prompts, output, test, config, resample)
        label = f"{name}, flagged drafts sampled again (up to {resample}×, as served)"
        rows.append({**_row(label, output, test), "version": generator.version})
    if serve:
        served = as_served(output, test)
        rows.append({**_row(f"{name}, as served", served, test), "version": generator.version})
    return rows


def evaluate_generators(
    *,
    train: list[ReplyExample],
    test: list[ReplyExample],
    encoder: SentenceEncoder,
    generators: dict[str, OnnxGenerator],
    config: GenerationConfig,
    batch: int = 8,
    keep_passages: bool = False,
    resample: int = 0,
    candidates: int = 1,
    serve: bool = False,
    raw_train: list[ReplyExample] | None = None,
) -> dict[str, Any]:
    """`keep_passages`: the test examples carry their prompt's context already (the demo shop's KB
    passages); otherwise each gets the reply to its nearest training ticket. `candidates` > 1: also each
    model drafting that many per ticket, the most agreed one kept (`shared.drafting.consensus`).
    `resample`: also each model as served, its flagged drafts sampled again up to that often. `serve`: also
    every system as a ticket gets it (`as_served`), in rows named "<system>, as served". `raw_train`: the
    training replies as written when `train`'s were cleaned: also retrieval from those."""
    neighbours = nearest(encoder, [e.ticket for e in test], [e.ticket for e in train])
    if not keep_passages:
        test = with_neighbour_replies(test, train, neighbours, skip_self=False)
    retrieval = SystemOutput([train[n[0]].reply for n in neighbours], 0, 0.0)
    rows = [_row("nearest-neighbour retrieval", retrieval, test)]
    if raw_train is not None:
        raw = nearest(encoder, [e.ticket for e in test], [e.ticket for e in raw_train], k=1)
        as_written = SystemOutput([raw_train[n[0]].reply for n in raw], 0, 0.0)
        rows.append(_row("nearest-neighbour retrieval, replies as written", as_written, test))
    if serve:
        greeted = [regreeted(t, e.customer_name) for t, e in zip(retrieval.texts, test, strict=True)]
        served = as_served(SystemOutput(greeted, 0, 0.0), test)
        rows.append(_row("nearest-neighbour retrieval, as served", served, test))
    prompts = [e.prompt() for e in test]
    for name, generator in generators.items():
        prompts = [e.prompt(name_language=generator.prompt_language) for e in test]
        rows += _model_rows(name, generator, prompts, test, config, batch, candidates, resample, serve)
    return {
        "drafts": {row["system"]: row.pop("drafts") for row in rows},
        "references": [e.reply for e in test],
        "examples": len(test),
        "max_new_tokens": config.max_new_tokens,
        "repetition_penalty": config.repetition_penalty,
        "no_repeat_ngram": config.no_repeat_ngram,
        "min_new_tokens": config.min_new_tokens,
        "candidates": candidates,
        "systems": rows,
        "prompts": prompts,
    }


def _citation(row: dict[str, Any]) -> str:
    """ "62 % of 13 (attachment: 3 of 4)": how often the draft repeats the ticket's error code or order id."""
    if not row.get("reference_tickets"):
        return "—"
    text = f"{row['reference_citation']:.0%} of {row['reference_tickets']}"
    if row.get("attachment_reference_tickets"):
        n = row["attachment_reference_tickets"]
        text += f" (attachment: {round(row['attachment_reference_citation'] * n)} of {n})"
    return text


def _per_language_lines(systems: list[dict[str, Any]]) -> list[str]:
    if not any(row.get("per_language") for row in systems):
        return []
    lines = [
        "",
        "Per language of the ticket:",
        "",
        "| system | language | tickets | chrF | ROUGE-L | flagged |",
    ]
    lines.append("|---|---|---|---|---|---|")
    for row in systems:
        for language, scores in row.get("per_language", {}).items():
            lines.append(
                f"| {row['system']} | {language} | {scores['examples']} | {scores['chrf']:.1f} | "
                f"{scores['rouge_l']:.1f} | {scores['guardrail_flag_rate']:.1%} |"
            )
    return lines


PER_TICKET = frozenset({"prompts", "drafts", "references"})  # a report's bulky per-ticket parts


def scores_only(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in PER_TICKET}


def _write_drafts(report: dict[str, Any], out_dir: Path) -> None:
    """drafts.jsonl: a line per hold-out ticket, the agent's reply beside every system's draft."""
    if not report.get("drafts"):
        return
    rows = [
        {"reference": reference, **{name: texts[i] for name, texts in report["drafts"].items()}}
        for i, reference in enumerate(report["references"])
    ]
    (out_dir / "drafts.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def write_report(report: dict[str, Any], out_dir: Path, *, title: str = "the Bitext hold-out") -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(scores_only(report), indent=2))
    _write_drafts(report, out_dir)
    lines = [
        f"# Reply drafts on {title}",
        "",
        f"{report['examples']} held-out tickets (never trained on), greedy decoding, "
        f"max {report['max_new_tokens']} new tokens, repetition penalty "
        f"{report.get('repetition_penalty', 1.1)}, no repeated {report.get('no_repeat_ngram', 0)}-grams "
        f"(0: off), at least {report.get('min_new_tokens', 0)} new tokens.",
        "",
        "| system | chrF | ROUGE-L | guardrail flags | flags by reason | cites the ticket's id | tokens/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["systems"]:
        speed = f"{row['tokens_per_second']:.1f}" if row["tokens_per_second"] else "—"
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(row.get("flags", {}).items())) or "—"
        lines.append(
            f"| {row['system']} | {row['chrf']:.1f} | {row['rouge_l']:.1f} | "
            f"{row['guardrail_flag_rate']:.1%} | {reasons} | {_citation(row)} | {speed} |"
        )
    lines += _per_language_lines(report["systems"])
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
