"""Where a worker's time goes under load: py-spy samples of the running process (every thread, native
onnxruntime time included), summed into the stages of a triage task."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# the first stage whose marker is in a sample's stack takes the sample (order matters: most specific first)
STAGES = (
    ("model: onnxruntime run", ("Session.run",)),
    ("model: tokenize, pad, post-process", ("OnnxClassifier.tokenize", "pad_encodings", "_predictions")),
    ("routing decision (database)", ("route_ticket", "route_with_result")),
    ("classification bookkeeping (database)", ("classify_ticket", "triage_ticket")),
    ("Celery: task events", ("_flush_events", "send_event")),
    ("Celery: broker, acks, dispatch", ("asynloop", "apply_target", "trace_task")),
)


def py_spy() -> Path | None:
    found = Path(sys.executable).with_name("py-spy")
    return found if found.is_file() else (Path(p) if (p := shutil.which("py-spy")) else None)


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    """Sample `pid` for `seconds` in the background; None where py-spy is not installed."""
    binary = py_spy()
    if binary is None:
        return None
    argv = [str(binary), "record", "-p", str(pid), "-d", str(max(1, round(seconds))), "-r", "200"]
    argv += ["-f", "raw", "-o", str(out), "--nonblocking", "--subprocesses"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stage_of(frames: list[str]) -> str:
    names = [frame.split(" (")[0] for frame in frames]
    for stage, markers in STAGES:
        if any(name == m or name.endswith("." + m) for name in names for m in markers):
            return stage
    return "other"


def summarize(raw: Path) -> dict[str, float]:
    """Percent of the process's busy samples per stage, from py-spy's collapsed stacks."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if stack and number.isdigit():
            counts[stage_of(stack.split(";"))] += int(number)
    total = sum(counts.values()) or 1
    return {stage: round(100 * n / total, 1) for stage, n in counts.most_common()}
