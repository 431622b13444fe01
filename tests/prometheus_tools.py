"""Prometheus and promtool for tests: from PATH, else Debian's `prometheus` package fetched with
`apt-get download` and unpacked with `dpkg -x` under var/tools (no root, no service started). None
with the reason when neither works, so the caller can skip saying why."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "var" / "tools" / "prometheus"


@dataclass(frozen=True)
class PrometheusTools:
    prometheus: Path
    promtool: Path


def _unpacked() -> PrometheusTools | None:
    found = PrometheusTools(TOOLS / "usr" / "bin" / "prometheus", TOOLS / "usr" / "bin" / "promtool")
    return found if found.prometheus.is_file() and found.promtool.is_file() else None


def find_prometheus() -> tuple[PrometheusTools | None, str]:
    on_path = shutil.which("prometheus"), shutil.which("promtool")
    if all(on_path):
        return PrometheusTools(Path(on_path[0]), Path(on_path[1])), "on PATH"  # type: ignore[arg-type]
    if (cached := _unpacked()) is not None:
        return cached, "cached"
    if not (shutil.which("apt-get") and shutil.which("dpkg")):
        return None, "prometheus is not installed and apt-get/dpkg are not available to fetch it"
    with tempfile.TemporaryDirectory() as tmp:
        fetched = subprocess.run(
            ["apt-get", "download", "prometheus"], cwd=tmp, capture_output=True, text=True, timeout=300
        )
        debs = list(Path(tmp).glob("prometheus_*.deb"))
        if fetched.returncode != 0 or not debs:
            return None, f"apt-get download prometheus failed: {fetched.stderr.strip()[-300:]}"
        TOOLS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(debs[0]), str(TOOLS)], check=True, timeout=300)
    return _unpacked(), "fetched from Debian"
