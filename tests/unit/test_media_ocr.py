"""OCR of image attachments: the default engine reads a generated English and Chinese line, oversized and
non-image files are refused, lines come out in reading order, the CER of the eval is right, and importing
the module loads no OCR library (the gateway imports shared/)."""

from __future__ import annotations

import io
import math
import subprocess
import sys

import pytest
from PIL import Image

from services.trainer.media_eval.ocr_eval import cer, levenshtein, normalise, parse_spec
from services.trainer.media_eval.ocr_set import available_fonts, make_item, render_text
from shared.media.ocr import (
    DEFAULT_OCR_ENGINE,
    ENGINES,
    ImageRefused,
    Segment,
    available_ocr_engines,
    decode_image,
    join_rows,
    load_ocr_engine,
    reading_order,
)

ENGLISH = "Payment failed for order ORD-48213, error E-4012"
CHINESE = "订单号 ORD-48213 支付失败 错误码 E-4012"


def ratio(hypothesis: str, reference: str, language: str) -> float:
    edits, length = cer(hypothesis, reference, language)
    return edits / length


@pytest.fixture(scope="module")
def engine():  # the default engine must be installed: no skip here
    return load_ocr_engine(DEFAULT_OCR_ENGINE, threads=2)


def cjk_font_or_skip() -> None:
    try:
        available_fonts("zh")
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def test_default_engine_is_installed() -> None:
    assert DEFAULT_OCR_ENGINE in available_ocr_engines()


def test_default_engine_reads_english(engine) -> None:
    result = engine.extract(render_text(ENGLISH, "en", size=22))
    assert result.engine == DEFAULT_OCR_ENGINE
    assert ratio(result.text, ENGLISH, "en") < 0.1, result.text
    assert "ORD-48213" in result.text
    assert result.confidence is not None and 0.5 < result.confidence <= 1
    assert result.details["lines"] == 1 and result.details["width"] > 0


def test_default_engine_reads_chinese(engine) -> None:
    cjk_font_or_skip()
    result = engine.extract(render_text(CHINESE, "zh", size=22))
    assert ratio(result.text, CHINESE, "zh") < 0.1, result.text
    assert "支付失败" in result.text


def test_default_engine_reads_a_degraded_screen_in_order(engine) -> None:
    item = make_item(7, 3, "en", "degraded")  # a JPEG "photo" of a screen with several lines
    result = engine.extract(item.image)
    assert ratio(result.text, item.text, "en") < 0.2, (item.text, result.text)
    assert result.details["lines"] == item.text.count("\n") + 1


def png(size: tuple[int, int], mode: str = "1") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, format="PNG")
    return out.getvalue()


def test_an_image_over_the_pixel_cap_is_refused(engine) -> None:
    with pytest.raises(ImageRefused) as refused:
        engine.extract(png((8000, 6000)))  # 48 megapixels
    assert refused.value.reason == "too_large"


@pytest.mark.parametrize(
    "content",
    [b"", b"not an image at all", b"%PDF-1.4\n%%EOF", png((40, 40))[:40]],
    ids=["empty", "text", "pdf", "cut"],
)
def test_a_non_image_is_refused(engine, content: bytes) -> None:
    with pytest.raises(ImageRefused) as refused:
        engine.extract(content)
    assert refused.value.reason == "unreadable"


def test_large_images_are_scaled_down_and_transparency_lands_on_white() -> None:
    image = decode_image(png((5000, 4000), "RGBA"), work_pixels=2_000_000)
    assert image.mode == "RGB" and image.width * image.height <= 2_000_000
    assert image.getpixel((0, 0)) == (255, 255, 255)


def test_blank_image_gives_empty_text(engine) -> None:
    result = engine.extract(png((300, 120), "RGB"))
    assert result.text == "" and result.details["lines"] == 0


def test_reading_order_undoes_skew_and_joins_rows() -> None:
    tilt = math.radians(3)  # a photo rotated 3°: the right cell of a row sits lower than its left cell
    cells = [("Total", 60, 100), ("$12.00", 500, 100), ("Tax", 60, 60), ("$1.00", 500, 60)]
    segments = [
        Segment(text, 0.9, x, y + (x - 60) * math.tan(tilt), 80, 20, tilt) for text, x, y in reversed(cells)
    ]
    assert join_rows(reading_order(segments)) == "Tax $1.00\nTotal $12.00"
    assert join_rows([[Segment("支付 失败", 1, 0, 0, 10, 10)]]) == "支付失败"


def test_levenshtein_and_cer() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == levenshtein("abc", "") == 3
    assert cer("Error  code\nE-4012", "Error code E-4012", "en") == (0, 17)
    assert cer("订单号ORD-1 支付失败", "订单号 ORD-1 支付失败", "zh") == (0, 12)
    assert normalise("错误码：E-4012", "zh") == "错误码:E-4012"  # full-width colon: NFKC
    assert cer("", "abc", "en") == (3, 3)
    assert parse_spec("tesseract-5:psm=6:langs=eng") == ("tesseract-5", {"psm": 6, "langs": "eng"})


def test_the_set_is_deterministic() -> None:
    assert make_item(11, 2, "en", "clean") == make_item(11, 2, "en", "clean")
    assert make_item(11, 2, "en", "clean").image != make_item(12, 2, "en", "clean").image


def test_importing_the_module_loads_no_ocr_library() -> None:
    code = (
        "import sys, shared.media.ocr as o; o.available_ocr_engines();"
        "print(sorted(m for m in ('cv2', 'rapidocr', 'rapidocr_onnxruntime', 'onnxruntime', 'PIL', 'numpy')"
        " if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "name", [name for name in ENGINES if name not in (DEFAULT_OCR_ENGINE, "rapidocr-ppocrv4")]
)
def test_other_engines_read_english_where_installed(name: str) -> None:
    if name not in available_ocr_engines():
        pytest.skip(f"{name} is not installed here")
    result = load_ocr_engine(name, threads=2).extract(render_text(ENGLISH, "en", size=22))
    assert ratio(result.text, ENGLISH, "en") < 0.25, result.text
