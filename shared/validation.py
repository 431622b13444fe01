"""Validation shared by every domain: the field types API schemas are built from (text a database can store,
identifiers, labels, slugs, e-mail addresses) and one line per pydantic error for configuration files
(`auto_reply.min_confidence: Input should be …`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints, ValidationError


def describe_errors(exc: ValidationError, *, root: str) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or root}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )


def _storable_text(value: str) -> str:
    """Reject what a database cannot store: NUL bytes and lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode (no lone surrogates)") from exc
    return value


Text = Annotated[str, AfterValidator(_storable_text)]


Identifier = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


Channel = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


LanguageTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")]


Email = Annotated[Text, StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


Label = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]
