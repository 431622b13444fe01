"""The README and docs/ stay in step with the tree: every relative link resolves (anchors included), every
path in the README's layout table exists, and every top-level package is in that table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
TABLE_ROW = re.compile(r"^\| (`[^|]+) \|", re.MULTILINE)


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_resolves() -> None:
    broken = []
    for doc in DOCS:
        for target in LINK.findall(doc.read_text()):
            if re.match(r"[a-z]+:", target):  # http(s), mailto: not checked offline
                continue
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            if not file.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text()):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


def layout_paths() -> list[str]:
    """Paths named in the first column of the README's layout table (`a/`, `b.py`, `c/d.py`, …)."""
    paths = []
    for cell in TABLE_ROW.findall((ROOT / "README.md").read_text()):
        names = re.findall(r"`([^`]+)`", cell)
        base = ""
        for name in names:
            # `shared/runtime/encoder.py`, `generator.py`: a bare name beside the path before it, unless it
            # is a root file (`deploy/docker/`, `docker-compose.yml`)
            if "/" not in name.rstrip("/") and base and not (ROOT / name).exists():
                name = base + name
            base = name.rsplit("/", 1)[0] + "/" if "/" in name.rstrip("/") else ""
            paths.append(name)
    return paths


def test_the_layout_table_names_only_paths_that_exist_and_every_package() -> None:
    paths = layout_paths()
    assert len(paths) > 20, paths
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert missing == []
    listed = {p.rstrip("/") for p in paths}
    packages = [
        f"{top}/{d.name}"
        for top in ("shared", "services", "helploop")
        for d in sorted((ROOT / top).iterdir())
        if d.is_dir() and (d / "__init__.py").is_file()
    ]
    unlisted = [p for p in packages if not any(item == p or item.startswith(p + "/") for item in listed)]
    assert unlisted == [], "add them to the README's layout table"
