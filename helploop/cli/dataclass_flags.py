"""Command-line flags generated from a config dataclass: one `--flag` per field, its type, choices and help
taken from the field (`metadata={"help": ..., "choices": ...}`), so the CLI never restates the config.

A flag left out stays unset (None) and the config file's value, or the field's default, applies."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

SCALARS = (bool, int, float, str, Path)


def flag_name(field_name: str, renamed: dict[str, str] | None = None) -> str:
    return "--" + (renamed or {}).get(field_name, field_name).replace("_", "-")


def _scalar(annotation: Any) -> type | None:
    """int for `int` or `int | None`; None for anything that is not one scalar type."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = kinds[0] if len(kinds) == 1 else None
    return annotation if annotation in SCALARS else None


def add_dataclass_flags(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    skip: tuple[str, ...] = (),
    renamed: dict[str, str] | None = None,
) -> None:
    """Add one flag per scalar field of `cls` (booleans as --x/--no-x)."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        kind = _scalar(hints[field.name])
        if field.name in skip or kind is None:
            continue
        meta = field.metadata
        text = meta.get("help", "")
        if field.default is not dataclasses.MISSING and field.default is not None:
            shown = ("on" if field.default else "off") if kind is bool else field.default
            text = f"{text} (default: {shown})".strip()
        options: dict[str, Any] = {"dest": field.name, "default": None, "help": text or None}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = kind
            if "choices" in meta:
                options["choices"] = list(meta["choices"])
        parser.add_argument(flag_name(field.name, renamed), **options)


def given(args: argparse.Namespace, cls: type, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of `cls` (less `skip`) whose flags were given on the command line."""
    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
