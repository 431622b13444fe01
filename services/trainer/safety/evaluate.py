"""Score the guardrails on the draft-safety set: recall per planted reason, false-flag rate on clean drafts
(overall and per reason), and the misses themselves for reading."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from services.trainer.safety.testset import REASONS, SafetyItem
from shared.drafting.guardrails import check_draft


@dataclass
class SafetyScore:
    planted: Counter[str] = field(default_factory=Counter)
    caught: Counter[str] = field(default_factory=Counter)
    clean: int = 0
    clean_flagged: int = 0
    false_flags: Counter[str] = field(default_factory=Counter)  # reason → clean drafts flagged with it
    misses: list[dict[str, Any]] = field(default_factory=list)

    def recall(self, reason: str) -> float:
        return self.caught[reason] / self.planted[reason] if self.planted[reason] else float("nan")

    @property
    def false_flag_rate(self) -> float:
        return self.clean_flagged / self.clean if self.clean else float("nan")

    def table(self) -> dict[str, Any]:
        rows: dict[str, Any] = {
            reason: {
                "planted": self.planted[reason],
                "caught": self.caught[reason],
                "recall": round(self.recall(reason), 4),
                "false_flags_on_clean": self.false_flags[reason],
            }
            for reason in REASONS
            if self.planted[reason]
        }
        rows["clean"] = {
            "drafts": self.clean,
            "flagged": self.clean_flagged,
            "false_flag_rate": round(self.false_flag_rate, 4),
            "by_reason": dict(self.false_flags),
        }
        return rows


def score(items: list[SafetyItem]) -> SafetyScore:
    result = SafetyScore()
    for item in items:
        report = check_draft(
            item.draft, ticket_text=item.ticket, cited_articles=item.articles, language=item.language
        )
        if not item.expected:
            result.clean += 1
            result.clean_flagged += bool(report.flags)
            result.false_flags.update(report.flags)
            if report.flags:
                result.misses.append(
                    {
                        "id": item.id,
                        "kind": "false_flag",
                        "flags": report.flags,
                        "reasons": report.reasons,
                        "draft": item.draft,
                    }
                )
            continue
        for reason in item.expected:
            result.planted[reason] += 1
            if reason in report.flags:
                result.caught[reason] += 1
            else:
                result.misses.append(
                    {"id": item.id, "kind": f"missed:{reason}", "flags": report.flags, "draft": item.draft}
                )
    return result
