"""One line per pydantic error, for configuration files: `auto_reply.min_confidence: Input should be …`."""

from __future__ import annotations

from pydantic import ValidationError


def describe_errors(exc: ValidationError, *, root: str) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or root}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )
