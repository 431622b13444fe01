"""Run one measured variant in a fresh Python process. Kept apart from the harness so the measured
process imports only what its variant needs (its RSS is part of the result)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def measure_in_fresh_process(module: str, spec: dict[str, Any], *, timeout: float = 900) -> dict[str, Any]:
    """`python -m <module> SPEC.json` → the JSON it prints last: one measured variant per process, so RSS
    is its own and no other framework's thread pool is left spinning beside it."""
    with tempfile.TemporaryDirectory(prefix="helploop-bench-spec-") as tmp:
        spec_file = Path(tmp) / "spec.json"
        spec_file.write_text(json.dumps(spec))
        done = subprocess.run(
            [sys.executable, "-m", module, str(spec_file)], capture_output=True, text=True, timeout=timeout
        )
    if done.returncode != 0:
        raise RuntimeError(f"{spec.get('name', module)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
