"""An open-loop load generator: signed generic webhooks sent on a fixed schedule, whatever the responses.

Each request's latency counts from its scheduled send time, so a slow server is charged for the requests
that queued behind it (no coordinated omission). One asyncio loop writes plain HTTP/1.1 on a connection per
request (gunicorn's sync workers close each one): a fraction of a millisecond of CPU per ticket, so the
generator takes little from the cores it shares with the system it measures."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from helploop.cli.client import ticket_payload
from shared.signing import SIGNATURE_HEADER, sign

PATH = "/v1/webhooks/generic"


@dataclass(frozen=True)
class Sent:
    status: int  # 0: no response (connection error or timeout)
    ack_s: float  # scheduled send time -> response
    ticket_id: str | None


class WebhookSender:
    """Posts signed tickets to one gateway."""

    def __init__(self, base_url: str, secret: str, *, timeout_s: float = 10.0) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.secret = secret
        self.timeout_s = timeout_s

    def request(self, text: str) -> bytes:
        body = json.dumps(ticket_payload(text)).encode("utf-8")
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{SIGNATURE_HEADER}: {sign(self.secret, body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        return head.encode("ascii") + body

    async def post(self, text: str) -> tuple[int, str | None]:
        try:
            return await asyncio.wait_for(self._exchange(self.request(text)), self.timeout_s)
        except (OSError, TimeoutError, ValueError, IndexError):
            return 0, None

    async def _exchange(self, raw: bytes) -> tuple[int, str | None]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(raw)
            await writer.drain()
            response = await reader.read()  # the server closes the connection after its answer
        finally:
            writer.close()
        head, _, body = response.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        ticket_id = json.loads(body).get("id") if status in (200, 202) else None
        return status, ticket_id


def send_open_loop(sender: WebhookSender, texts: list[str], *, rate: float, duration_s: float) -> list[Sent]:
    """`rate` tickets per second for `duration_s` seconds, cycling through `texts`."""
    return asyncio.run(_send_all(sender, texts, rate=rate, count=max(1, int(rate * duration_s))))


async def _send_all(sender: WebhookSender, texts: list[str], *, rate: float, count: int) -> list[Sent]:
    start = time.perf_counter() + 0.05

    async def fire(i: int, scheduled: float) -> Sent:
        status, ticket_id = await sender.post(texts[i % len(texts)])
        return Sent(status, time.perf_counter() - scheduled, ticket_id)

    tasks = []
    for i in range(count):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(i, scheduled)))
    return list(await asyncio.gather(*tasks))
