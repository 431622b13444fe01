"""OCR of image attachments (screenshots, phone photos) in English and Simplified Chinese, on CPU.

Default: rapidocr 3.x with its bundled PP-OCRv6 small det/rec ONNX models, orientation classifier off.
Measured by `services.trainer.media_eval.ocr_eval` on 320 generated screenshots (seed 20240611; 80 per
language × condition), 2 threads on a 2-core machine shared with other work. CER en clean / en degraded /
zh clean / zh degraded (targets 3 % clean, 10 % degraded), median / p90 s per image, peak RSS:
  rapidocr-ppocrv6, use_cls off  0.15 / 0.28 / 0.21 / 0.44 %   1.35 / 2.92 s   1.6 GB   detector side 736
  rapidocr-ppocrv6, library cls  1.88 / 2.57 / 0.21 / 0.44 %   2.84 / 5.48 s   1.5 GB
  rapidocr-ppocrv4 (1.4.4)       5.89 / 7.96 / 0.60 / 1.12 %   2.04 / 4.37 s   1.7 GB   drops English spaces
  tesseract-5 chi_sim+eng        3.48 / 15.0 / 6.67 / 21.5 %   0.37 / 0.95 s   0.2 GB   best tuning below
Only PP-OCRv6 meets every target; the default scales its detector to 480 px (first 160 images: 0.18 / 0.37
/ 0.14 / 0.73 %, 0.68 / 1.15 s, 0.93 GB peak — under a worker's 1 GB). Its 0/180° classifier turns some
upright lines upside down (garbage), so it is off: screenshots are upright, photos carry EXIF rotation.
Tesseract stays ≥ 13 % (degraded English) and ≥ 17 % (degraded Chinese) however tuned (upscaling, Otsu,
--psm 6): a light fallback, run with OMP_THREAD_LIMIT=1 (2 threads on a busy machine: up to 120 s/image).

Every engine decodes the bytes with Pillow (PNG, JPEG, GIF, BMP, TIFF, WEBP), refuses an image over
`MAX_PIXELS` or one Pillow cannot read (`ImageRefused`), scales one over `WORK_PIXELS` down, and puts the
lines it finds in reading order: the text boxes are de-skewed by their median angle, grouped into rows,
rows top to bottom and the boxes of a row left to right. Heavy libraries (rapidocr, onnxruntime, OpenCV)
load only inside `load_ocr_engine`, never when this module is imported.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.media.extracted import Extracted
from shared.media.refusal import Refused

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

DEFAULT_OCR_ENGINE = "rapidocr-ppocrv6"
MAX_PIXELS = 40_000_000  # refused above this (a 40-megapixel photo is already far more than text needs)
WORK_PIXELS = 12_000_000  # scaled down to this before OCR
IMAGE_FORMATS = frozenset({"PNG", "JPEG", "MPO", "GIF", "BMP", "TIFF", "WEBP"})
TESSERACT_LANGS = "chi_sim+eng"
TESSERACT_TIMEOUT_S = 120
CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
_CJK_GAP = re.compile(rf"(?<=[{CJK}]) +(?=[{CJK}])")


class ImageRefused(Refused):
    """An image that is too large, not an image at all, or that the engine could not finish."""


@dataclass(frozen=True)
class Segment:
    """One recognised run of text and where it is: centre, size and the angle of its baseline (radians)."""

    text: str
    confidence: float | None
    x: float
    y: float
    width: float
    height: float
    angle: float = 0.0


def decode_image(content: bytes, *, max_pixels: int = MAX_PIXELS, work_pixels: int = WORK_PIXELS) -> Image:
    """An RGB image from file bytes (the first frame; EXIF rotation applied; transparency on white)."""
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    if not content:
        raise ImageRefused("unreadable", "the attachment is empty")
    try:
        image = PILImage.open(io.BytesIO(content))
        if image.format not in IMAGE_FORMATS:
            raise ImageRefused("unsupported", f"image format {image.format} is not accepted")
        if image.width * image.height > max_pixels:
            raise ImageRefused("too_large", f"{image.width}x{image.height} is over {max_pixels} pixels")
        image.load()
        image = _to_rgb(ImageOps.exif_transpose(image) or image)
    except PILImage.DecompressionBombError as exc:  # over Pillow's own cap, before the size is known
        raise ImageRefused("too_large", str(exc)[:200]) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageRefused("unreadable", f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    if image.width * image.height > work_pixels:
        scale = math.sqrt(work_pixels / (image.width * image.height))
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, PILImage.LANCZOS)
    return image


def _to_rgb(image: Image) -> Image:
    from PIL import Image as PILImage

    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit and float: stretch to 8 bits
        import numpy as np

        pixels = np.asarray(image, dtype=np.float64)
        image = PILImage.fromarray(
            (pixels * (255.0 / (float(pixels.max()) or 1.0))).clip(0, 255).astype(np.uint8)
        )
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        return PILImage.alpha_composite(PILImage.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return image.convert("RGB")


def reading_order(segments: list[Segment]) -> list[list[Segment]]:
    """Rows of segments, top to bottom, each left to right, after undoing the page's median skew."""
    if not segments:
        return []
    angles = [s.angle for s in segments if s.width > 2 * s.height] or [0.0]
    angle = statistics.median(angles)
    cos, sin = math.cos(angle), math.sin(angle)
    placed = sorted(((s.y * cos - s.x * sin, s.x * cos + s.y * sin, s) for s in segments), key=lambda t: t[0])
    rows: list[list[tuple[float, float, Segment]]] = []
    for entry in placed:
        if rows:
            row = rows[-1]
            centre = statistics.fmean(e[0] for e in row)
            tolerance = 0.5 * max(entry[2].height, statistics.fmean(e[2].height for e in row))
            if abs(entry[0] - centre) <= tolerance:
                row.append(entry)
                continue
        rows.append([entry])
    return [[e[2] for e in sorted(row, key=lambda e: e[1] - e[2].width / 2)] for row in rows]


def join_rows(rows: list[list[Segment]]) -> str:
    lines = (" ".join(s.text.strip() for s in row if s.text.strip()) for row in rows)
    return "\n".join(_CJK_GAP.sub("", line) for line in lines if line)


def build_extracted(engine: str, segments: list[Segment], width: int, height: int) -> Extracted:
    rows = reading_order([s for s in segments if s.text.strip()])
    scores = [s.confidence for row in rows for s in row if s.confidence is not None]
    return Extracted(
        text=join_rows(rows),
        engine=engine,
        confidence=round(statistics.fmean(scores), 4) if scores else None,
        details={"lines": len(rows), "width": width, "height": height},
    )


def _quad_segment(box: Any, text: str, score: float) -> Segment:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = ((float(p[0]), float(p[1])) for p in box)
    width, height, angle = (
        math.hypot(x1 - x0, y1 - y0),
        math.hypot(x3 - x0, y3 - y0),
        math.atan2(y1 - y0, x1 - x0),
    )
    centre = ((x0 + x1 + x2 + x3) / 4, (y0 + y1 + y2 + y3) / 4)
    return Segment(text, max(0.0, min(1.0, float(score))), *centre, width, height, angle)


@dataclass(frozen=True)
class RapidOptions:
    """rapidocr's knobs (both generations; its names): the detector scales to `limit_side_len` (at least,
    for "min"), a line under `text_score` is dropped."""

    use_cls: bool = False  # True mis-flips some upright lines (see above); screenshots are upright
    text_score: float = 0.5
    box_thresh: float = 0.5
    unclip_ratio: float = 1.6
    max_side_len: int = 2000
    limit_side_len: int = 480  # 736 (rapidocr's): 2x the time, 1.6 GB peak, for no CER that matters
    limit_type: str = "min"


class _RapidOcrBase:
    """Shared by both rapidocr generations: PP-OCR det → (cls) → rec on onnxruntime, on a BGR array."""

    name = "rapidocr"

    def __init__(self, *, threads: int = 0, **options: Any) -> None:
        self.options = RapidOptions(**options)
        self._engine = self._load(threads, self.options)

    def _load(self, threads: int, options: RapidOptions) -> Any:
        raise NotImplementedError

    def _segments(self, bgr: Any) -> list[Segment]:
        raise NotImplementedError

    def extract(self, content: bytes) -> Extracted:
        import numpy as np

        image = decode_image(content)
        bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
        segments = self._segments(bgr)
        log.debug("%s read %s boxes from %sx%s", self.name, len(segments), image.width, image.height)
        return build_extracted(self.name, segments, image.width, image.height)


class RapidOcrV4(_RapidOcrBase):
    """rapidocr-onnxruntime 1.4.x: the PP-OCRv4 (Chinese + English) det/rec and the v2 cls models in the
    wheel; nothing is downloaded."""

    name = "rapidocr-ppocrv4"

    def _load(self, threads: int, options: RapidOptions) -> Any:
        from rapidocr_onnxruntime import RapidOCR

        return RapidOCR(
            intra_op_num_threads=threads or -1,
            inter_op_num_threads=1 if threads else -1,
            text_score=options.text_score,
            det_box_thresh=options.box_thresh,
            det_unclip_ratio=options.unclip_ratio,
            det_limit_side_len=options.limit_side_len,
            det_limit_type=options.limit_type,
            max_side_len=options.max_side_len,
        )

    def _segments(self, bgr: Any) -> list[Segment]:
        result, _ = self._engine(bgr, use_cls=self.options.use_cls)
        return [_quad_segment(box, text, score) for box, text, score in result or []]


class RapidOcrV6(_RapidOcrBase):
    """rapidocr 3.x: the PP-OCRv6 small det/rec models it bundles, given by path so that nothing is
    downloaded (its default config fetches any model it does not find)."""

    name = "rapidocr-ppocrv6"

    def _load(self, threads: int, options: RapidOptions) -> Any:
        import rapidocr
        from rapidocr import RapidOCR

        models = Path(rapidocr.__file__).resolve().parent / "models"
        params: dict[str, Any] = {
            "Global.log_level": "warning",
            **{f"Global.{key}": getattr(options, key) for key in ("use_cls", "text_score", "max_side_len")},
            **{
                f"Det.{key}": getattr(options, key)
                for key in ("box_thresh", "unclip_ratio", "limit_side_len")
            },
            "Det.limit_type": options.limit_type,
            "Det.model_path": str(models / "PP-OCRv6_det_small.onnx"),
            "Rec.model_path": str(models / "PP-OCRv6_rec_small.onnx"),
            "Cls.model_path": str(models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"),
        }
        if threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        engine = RapidOCR(params=params)
        for step in ("_load_det_model", "_load_cls_model", "_load_rec_model"):  # it loads lazily otherwise
            if hasattr(engine, step):
                getattr(engine, step)()
        return engine

    def _segments(self, bgr: Any) -> list[Segment]:
        result = self._engine(bgr)
        if result.boxes is None or result.txts is None:
            return []
        return [
            _quad_segment(*found) for found in zip(result.boxes, result.txts, result.scores, strict=False)
        ]


@dataclass(frozen=True)
class TesseractOptions:
    """Scale up so the longer side reaches `upscale_below` (≤ 3×; 0: never), `flatten` uneven lighting and
    Otsu; `thresholding`: Tesseract's own (0 Otsu, 1 adaptive Otsu, 2 Sauvola)."""

    psm: int = 3
    langs: str = TESSERACT_LANGS
    upscale_below: int = 0
    flatten: bool = False
    thresholding: int = 0


class Tesseract:
    """Tesseract 5 (Debian's tesseract-ocr with the chi_sim and eng LSTM models), run as a process on a
    grey image (light text on dark inverted first)."""

    name = "tesseract-5"

    def __init__(self, *, threads: int = 0, **options: Any) -> None:
        binary = shutil.which("tesseract")
        if binary is None:
            raise RuntimeError("no tesseract (apt-get install tesseract-ocr tesseract-ocr-chi-sim)")
        self.options = o = TesseractOptions(**options)
        self._command = [binary, "stdin", "stdout", "-l", o.langs, "--oem", "1", "--psm", str(o.psm)]
        self._command += ["-c", f"thresholding_method={o.thresholding}", "tsv"]
        self._env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # see the module docstring: never more

    def extract(self, content: bytes) -> Extracted:
        image = decode_image(content)
        grey, scale = self._prepare(image)
        grey.save(buffer := io.BytesIO(), format="PNG")
        run = {"input": buffer.getvalue(), "env": self._env, "timeout": TESSERACT_TIMEOUT_S}
        try:
            done = subprocess.run(self._command, capture_output=True, check=True, **run)
        except subprocess.TimeoutExpired as exc:
            raise ImageRefused("timeout", f"tesseract ran over {TESSERACT_TIMEOUT_S} s") from exc
        except subprocess.CalledProcessError as exc:
            raise ImageRefused("unreadable", exc.stderr.decode(errors="replace")[-200:]) from exc
        segments = tesseract_lines(done.stdout.decode("utf-8", errors="replace"), scale)
        return build_extracted(self.name, segments, image.width, image.height)

    def _prepare(self, image: Image) -> tuple[Image, float]:
        from PIL import Image as PILImage
        from PIL import ImageOps, ImageStat

        grey = image.convert("L")
        if ImageStat.Stat(grey).median[0] < 110:  # dark mode: Tesseract wants dark text on light
            grey = ImageOps.invert(grey)
        scale = 1.0
        if max(grey.size) < self.options.upscale_below:
            scale = min(3.0, self.options.upscale_below / max(grey.size))
            grey = grey.resize((round(grey.width * scale), round(grey.height * scale)), PILImage.LANCZOS)
        return (_flatten(grey) if self.options.flatten else grey), scale


def _flatten(grey: Image) -> Image:
    """Divide out the background (a dilated, blurred copy at 1/8 size), then binarise with Otsu."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageFilter

    small = grey.reduce(8) if min(grey.size) >= 64 else grey
    background = small.filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.GaussianBlur(2)).resize(grey.size)
    pixels = np.asarray(grey, dtype=np.float32) / np.maximum(np.asarray(background, dtype=np.float32), 1)
    pixels = np.clip(pixels * 255, 0, 255).astype(np.uint8)
    counts = np.bincount(pixels.ravel(), minlength=256).astype(np.float64)
    weight, mean = np.cumsum(counts), np.cumsum(counts * np.arange(256))
    between = (mean[-1] * weight - mean * weight[-1]) ** 2 / np.maximum(weight * (weight[-1] - weight), 1)
    return PILImage.fromarray(np.where(pixels > int(np.argmax(between)), 255, 0).astype(np.uint8))


def tesseract_lines(tsv: str, scale: float = 1.0) -> list[Segment]:
    """Tesseract's TSV words grouped into its lines, boxes in the original image's pixels."""
    lines: dict[tuple[str, ...], list[list[str]]] = {}
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) == 12 and cells[0] == "5" and cells[11].strip():
            lines.setdefault(tuple(cells[1:5]), []).append(cells)
    segments = []
    for words in lines.values():
        boxes = [[float(v) / scale for v in w[6:10]] for w in words]  # left, top, width, height
        left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
        right, bottom = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
        confidences = [float(w[10]) / 100 for w in words if float(w[10]) >= 0]
        segments.append(
            Segment(
                text=" ".join(w[11].strip() for w in words),
                confidence=statistics.fmean(confidences) if confidences else None,
                x=(left + right) / 2,
                y=(top + bottom) / 2,
                width=right - left,
                height=statistics.median(b[3] for b in boxes),
                angle=_baseline_angle(boxes),
            )
        )
    return segments


def _baseline_angle(boxes: list[list[float]]) -> float:
    """The slope of the word bottoms (least squares), as an angle; 0 for a single word."""
    xs, ys = [b[0] + b[2] / 2 for b in boxes], [b[1] + b[3] for b in boxes]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0
    return math.atan(slope)


ENGINES: dict[str, tuple[str, str]] = {  # name: (class, what must be installed)
    "rapidocr-ppocrv4": ("RapidOcrV4", "rapidocr_onnxruntime"),
    "rapidocr-ppocrv6": ("RapidOcrV6", "rapidocr"),
    "tesseract-5": ("Tesseract", "tesseract"),
}


def available_ocr_engines() -> list[str]:
    """The engines whose package (or, for Tesseract, program) is installed here; nothing is imported."""

    def installed(name: str, needs: str) -> bool:
        return (shutil.which(needs) if name.startswith("tesseract") else find_spec(needs)) is not None

    return [name for name, (_, needs) in ENGINES.items() if installed(name, needs)]


def load_ocr_engine(name: str = DEFAULT_OCR_ENGINE, *, threads: int = 0, **options: Any) -> Any:
    """An engine ready to `extract` (models loaded). `threads` 0: the library's default; `options` are the
    engine class's tuning keywords (the eval's attempts)."""
    if name not in ENGINES:
        raise ValueError(f"unknown OCR engine {name!r}; known: {', '.join(ENGINES)}")
    if name not in available_ocr_engines():
        raise RuntimeError(f"OCR engine {name!r} is not installed here (needs {ENGINES[name][1]})")
    log.info("loading OCR engine %s (threads=%s, options=%s)", name, threads, options)
    return globals()[ENGINES[name][0]](threads=threads, **options)
