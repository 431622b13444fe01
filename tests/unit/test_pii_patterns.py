"""The PII detectors' expressions are compiled at their first use, not when `shared.pii` is imported."""

from __future__ import annotations

import re
import subprocess
import sys

from shared.pii_checks import LazyPattern


def test_importing_the_detectors_compiles_nothing_and_a_pattern_compiles_once_at_first_use() -> None:
    """A process that imports `shared.pii` and never searches (the gateway, every CLI command) pays no
    compilation; the first search compiles the expression, the next ones reuse it."""
    probe = (
        "import shared.pii as p, shared.pii_zh as z; "
        "print(all(x._compiled is None for x in (p.EMAIL, p.PHONE, p.PRODUCT_ID, z.ADDRESS, z.MOBILE)))"
    )
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "True"
    )

    lazy = LazyPattern(r"(\d+) parcels?", re.IGNORECASE)
    assert lazy._compiled is None
    assert lazy.search("3 PARCELS late").group(1) == "3"  # the flags kept
    compiled = lazy._compiled
    assert compiled is not None and lazy.pattern == r"(\d+) parcels?" and lazy._compiled is compiled
