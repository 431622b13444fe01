"""Offline language identification (py3langid ships its model) for routing unsupported languages."""

from __future__ import annotations

import logging
import os
import threading
from array import array
from dataclasses import dataclass
from pathlib import Path
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


_loaded: list[Any] = []  # this process's identifier, once loaded
_lock = threading.Lock()


def load_identifier(*, cache_dir: Path | None = None) -> Any:
    """This process's identifier, loaded once. py3langid ships its model LZMA-compressed: 0.4 s of CPU in
    every process that detects a language. With `cache_dir` (Settings.cache_dir; the worker passes it
    when it loads its models) the decompressed model is kept there, written on first use, and read in
    about 0.05 s."""
    with _lock:
        if not _loaded:
            from py3langid.langid import LanguageIdentifier

            ptc, pc, classes, nextmove, row, output = _model_arrays(cache_dir)
            identifier = LanguageIdentifier(
                ptc, pc, classes, _as_array(nextmove), output, norm_probs=True, tk_row=_as_array(row)
            )
            identifier.set_languages(list(CANDIDATE_LANGUAGES))
            _loaded.append(identifier)
        return _loaded[0]


KEYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")


def _model_arrays(cache_dir: Path | None) -> tuple[Any, ...]:
    import numpy as np
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    source = MODEL_DIR / MODEL_FILE
    kept = cache_dir / f"py3langid-{source.stat().st_size}" if cache_dir else None
    arrays = _kept_arrays(kept) if kept is not None else None
    if arrays is None:
        arrays = _decompressed(source)
        if kept is not None:
            _keep(arrays, kept)
    ptc, pc, classes, nextmove, row, output = (arrays[key] for key in KEYS)
    return np.asarray(ptc), np.asarray(pc), classes.tolist(), nextmove, row, output.tolist()


def _kept_arrays(kept: Path) -> dict[str, Any] | None:
    """The kept copy, mapped; None when there is none or it cannot be read — then it is removed, so the
    process that unpacks the model again keeps a sound copy in its place."""
    import shutil

    import numpy as np

    if not all((kept / f"{key}.npy").is_file() for key in KEYS):
        return None
    try:
        return {key: np.load(kept / f"{key}.npy", mmap_mode="r", allow_pickle=False) for key in KEYS}
    except (OSError, ValueError) as exc:
        log.warning("language model in %s unreadable (%s): unpacking py3langid's own", kept, exc)
        shutil.rmtree(kept, ignore_errors=True)
        return None


def _decompressed(source: Path) -> dict[str, Any]:
    import io
    import lzma

    import numpy as np

    with np.load(io.BytesIO(lzma.decompress(source.read_bytes())), allow_pickle=False) as data:
        return {key: data[key] for key in KEYS}


def _keep(arrays: dict[str, Any], kept: Path) -> None:
    """One .npy per array (read by mapping, no checksum pass over 68 MB), written beside and renamed: a
    process reading them never sees half a model."""
    import shutil

    import numpy as np

    partial = kept.with_name(f"{kept.name}.{os.getpid()}.partial")
    try:
        partial.mkdir(parents=True, exist_ok=True)
        for key, values in arrays.items():
            np.save(partial / f"{key}.npy", values, allow_pickle=False)
        os.replace(partial, kept)
    except OSError as exc:  # another process kept it first, or a read-only cache: read as it is
        log.debug("language model not kept in %s: %s", kept, exc)
        shutil.rmtree(partial, ignore_errors=True)


def _as_array(values: Any) -> array:
    """The stdlib array py3langid's tokenizer indexes (as its own loader makes it)."""
    import numpy as np

    out = array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize])
    out.frombytes(memoryview(np.ascontiguousarray(values)).cast("B"))
    return out


def detect_language(text: str) -> LanguageGuess:
    letters = sum(ch.isalpha() for ch in text)
    cjk = any("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in text)
    if letters < MIN_LETTERS and not (cjk and letters >= 2):
        return LanguageGuess(None, 0.0)
    language, confidence = load_identifier().classify(text)
    if confidence < MIN_CONFIDENCE:
        return LanguageGuess(None, float(confidence))
    return LanguageGuess(str(language), float(confidence))


def is_supported(language: str | None, supported: list[str]) -> bool | None:
    """None when either side is unknown (an unknown language is not escalated on that ground alone)."""
    if language is None or not supported:
        return None
    return language in supported
