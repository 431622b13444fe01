"""Attachments end to end through real processes: a signed ticket with a screenshot and a PDF goes through
gunicorn into SQLite, the Celery worker reads them (OCR on onnxruntime, pypdf) on the `media` queue and
triage weighs their text; a Zendesk ticket's attachment is downloaded from the helpdesk (the recording
fake) with the integration's credentials, and the write-back waits until it has been read."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image, ImageDraw, ImageFont

from helploop.cli.client import attachment_entries, post_signed, ticket_payload
from services.trainer.media_eval.speech_set import espeak_available, pcm16_wav, speak
from tests.conftest import API_KEY, WEBHOOK_SECRET
from tests.helpdesk_fake import RecordingHelpdesk
from tests.helpdesk_requests import fixture, signed
from tests.integration.conftest import Stack, helpdesk_env
from tests.unit.test_media_pdf import pdf

pytestmark = pytest.mark.integration
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.fixture
def stack_env(helpdesk: RecordingHelpdesk, tmp_path: Path) -> dict[str, str]:
    return {**helpdesk_env(helpdesk, tmp_path), "HELPLOOP_MEDIA_DIR": str(tmp_path / "media")}


def screenshot(lines: list[str]) -> bytes:
    """An error dialog as a PNG: dark text on a light background."""
    font = ImageFont.truetype(str(FONT), 28) if FONT.is_file() else ImageFont.load_default(size=28)
    image = Image.new("RGB", (900, 70 + 48 * len(lines)), (246, 247, 249))
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((40, 35 + 48 * index), line, fill=(30, 30, 30), font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def view_of(stack: Stack, ticket_id: str) -> dict[str, Any]:
    url = f"{stack.base_url}/v1/tickets/{ticket_id}"
    return requests.get(url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10).json()


def wait_until_read(stack: Stack, ticket_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view = view_of(stack, ticket_id)
        done = view["attachments"] and all(a["status"] != "pending" for a in view["attachments"])
        if (done and view["attachment_decision"]) or time.monotonic() > deadline:
            return view
        time.sleep(0.3)


def test_a_screenshot_and_a_pdf_are_read_and_weighed_by_triage(stack: Stack, tmp_path: Path) -> None:
    shot = tmp_path / "screenshot.png"
    shot.write_bytes(screenshot(["Payment failed", "Error code E-4012", "Contact: jane.roe@example.org"]))
    invoice = tmp_path / "invoice.pdf"
    invoice.write_bytes(pdf([b"Invoice INV-2231 for order ORD-48213, total 49.00 EUR"]))
    broken = tmp_path / "photo.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really an image" * 20)
    files = attachment_entries([shot, invoice, broken])
    payload = ticket_payload("it says this when I pay", attachments=files)
    response = post_signed(stack.base_url, payload, WEBHOOK_SECRET)
    assert response.status_code == 202, response.text
    view = wait_until_read(stack, response.json()["id"])
    assert view["status"] == "triaged", view
    image, document, photo = view["attachments"]
    assert photo["status"] in ("refused", "failed") and photo["error"], photo  # recorded; the ticket goes on
    assert (image["status"], image["kind"], document["status"], document["kind"]) == (
        "extracted",
        "image/png",
        "extracted",
        "application/pdf",
    ), view["attachments"]
    assert "E-4012" in image["text"] and "Payment" in image["text"], image
    assert image["engine"].startswith("rapidocr") and image["confidence"] > 0.5
    assert "jane.roe@example.org" not in json.dumps(view)  # OCR text is redacted like a body
    assert "INV-2231" in document["text"] and document["engine"] == "pypdf"
    assert view["attachment_decision"] in ("changed", "unchanged")
    used = view["classification"]["attachments_used"]
    assert (used > 0) == (view["attachment_decision"] == "changed")
    deadline = time.monotonic() + 30
    while not view["routing"] and time.monotonic() < deadline:  # routed once the attachments were read
        time.sleep(0.3)
        view = view_of(stack, view["id"])
    assert view["routing"] and view["routing"]["route"] == "draft", view["routing"]
    metrics = requests.get(
        f"http://127.0.0.1:{stack.env['HELPLOOP_WORKER_METRICS_PORT']}/metrics", timeout=10
    )
    assert 'helploop_attachments_total{engine="rapidocr' in metrics.text


def test_a_helpdesk_attachment_is_fetched_with_its_credentials_before_the_write_back(
    stack: Stack, helpdesk: RecordingHelpdesk
) -> None:
    path = "/attachments/token/AbC123/?name=receipt.txt"
    helpdesk.file_delay_s = 3.0  # triage is done long before the file arrives: the route must wait for it
    helpdesk.files[path] = b"Receipt for order ORD-77120: paid twice on 2026-11-30, please refund one."
    document = fixture("zendesk_ticket_created")
    document["ticket"]["attachments"] = [
        {"file_name": "receipt.txt", "content_type": "text/plain", "content_url": helpdesk.url + path}
    ]
    body = json.dumps(document).encode()
    webhook_path, headers = signed("zendesk", body)
    response = requests.post(stack.base_url + webhook_path, data=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text
    view = wait_until_read(stack, response.json()["id"])
    assert view["attachments"][0]["status"] == "extracted", view["attachments"]
    assert "ORD-77120" in view["attachments"][0]["text"]
    download = next(c for c in helpdesk.calls if c.method == "GET" and c.path == path)
    assert download.headers.get("Authorization", "").startswith("Basic ")  # the API token, to its own host
    deadline = time.monotonic() + 60
    while not [c for c in helpdesk.writes() if c.method == "PUT"]:
        assert time.monotonic() < deadline, [(c.method, c.path) for c in helpdesk.calls]
        time.sleep(0.3)
    first_write = next(c for c in helpdesk.calls if c.method == "PUT")
    assert first_write.at > download.at + 2.9, "routed before the attachment was read"


@pytest.mark.skipif(not espeak_available(), reason="needs Debian's espeak-ng to speak the voicemail")
def test_a_voicemail_is_transcribed_and_joins_the_ticket(stack: Stack, tmp_path: Path) -> None:
    samples, rate = speak("Hello, my parcel never arrived and I would like a refund please.", "en-us")
    voicemail = tmp_path / "voicemail.wav"
    voicemail.write_bytes(pcm16_wav(samples, rate))
    payload = ticket_payload("Voicemail from +44 20 7946 0958", attachments=attachment_entries([voicemail]))
    response = post_signed(stack.base_url, payload, WEBHOOK_SECRET)
    assert response.status_code == 202, response.text
    view = wait_until_read(stack, response.json()["id"], timeout=120)
    audio = view["attachments"][0]
    assert (audio["status"], audio["kind"], audio["language"]) == ("extracted", "audio/wav", "en"), audio
    assert audio["engine"] == "faster-whisper-base" and audio["details"]["duration_s"] > 2
    assert "parcel" in audio["text"].lower() and "refund" in audio["text"].lower(), audio["text"]
    assert view["status"] == "triaged" and view["attachment_decision"] in ("changed", "unchanged")
