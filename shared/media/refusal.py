"""Why an attachment was refused: a short stable `reason` (for metrics and the API) and a `detail`."""

from __future__ import annotations


class Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail
