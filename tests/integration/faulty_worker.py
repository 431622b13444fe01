"""`helploop worker` with one planted fault, for the fault suite: a ticket whose text holds `POISON` makes
the process running the model exit at once, as a crash inside a native library would."""

from __future__ import annotations

import os
import sys
from typing import Any

from helploop.cli.main import main
from services.inference import microbatch

POISON = "POISON-PILL-7f3a"
_predict = microbatch.DirectPredictor.predict


def _predict_or_crash(self: microbatch.DirectPredictor, model: Any, text: str, *, top_k: int) -> Any:
    if POISON in text:
        os._exit(70)
    return _predict(self, model, text, top_k=top_k)


if __name__ == "__main__":
    microbatch.DirectPredictor.predict = _predict_or_crash  # type: ignore[method-assign]
    sys.exit(main(["worker"]))
