"""Offline language identification (py3langid ships its model) for routing unsupported languages."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)
# The languages a support desk meets most; restricting the candidates avoids exotic false matches
# (py3langid alone labels some short English tickets as Nigerian Pidgin).
CANDIDATE_LANGUAGES = [
    "ar",
    "cs",
    "da",
    "de",
    "el",
    "en",
    "es",
    "fi",
    "fr",
    "he",
    "hi",
    "hu",
    "id",
    "it",
    "ja",
    "ko",
    "nl",
    "no",
    "pl",
    "pt",
    "ro",
    "ru",
    "sv",
    "th",
    "tr",
    "uk",
    "vi",
    "zh",
]
MIN_CONFIDENCE = 0.8
MIN_LETTERS = 12


@dataclass(frozen=True)
class LanguageGuess:
    language: str | None  # None: too short or too uncertain to tell
    confidence: float


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(CANDIDATE_LANGUAGES))
    return identifier


def detect_language(text: str) -> LanguageGuess:
    letters = sum(ch.isalpha() for ch in text)
    cjk = any("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in text)
    if letters < MIN_LETTERS and not (cjk and letters >= 2):
        return LanguageGuess(None, 0.0)
    language, confidence = _identifier().classify(text)
    if confidence < MIN_CONFIDENCE:
        return LanguageGuess(None, float(confidence))
    return LanguageGuess(str(language), float(confidence))


def is_supported(language: str | None, supported: list[str]) -> bool | None:
    """None when either side is unknown (an unknown language is not escalated on that ground alone)."""
    if language is None or not supported:
        return None
    return language in supported
