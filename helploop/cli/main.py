"""`helploop <command>`: the composition root wiring services together (they never import each other)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from helploop.cli import (
    bench,
    benchmark,
    client,
    generation_parser,
    guardrails,
    integrations,
    intents,
    kb,
    keys,
    learning,
    ops,
    pii,
    run,
    training,
)
from shared.logging_setup import configure_logging
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)
Registrar = Callable[[argparse._SubParsersAction], None]  # type: ignore[type-arg]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helploop", description="Self-hosted AI triage for support teams.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    registrars: list[Registrar] = [
        ops.register,
        training.register,
        benchmark.register,
        bench.register,
        run.register,
        client.register,
        kb.register,
        keys.register,
        generation_parser.register,
        integrations.register,
        intents.register,
        learning.register,
        pii.register,
        guardrails.register,
    ]
    for register in registrars:
        register(commands)
    return parser


def _settings_for_logging() -> Settings | None:
    """The settings when they load; a command that fails on them (or `init`, which writes them) says why
    itself, logging with the defaults meanwhile."""
    try:
        return get_settings()
    except Exception:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging(_settings_for_logging())
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a clear one-line message, the traceback only at DEBUG
        log.debug("command failed", exc_info=True)
        print(f"helploop {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
