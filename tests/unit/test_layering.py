"""Dependencies point one way: services import shared/, never each other; shared/ imports no service."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "inference", "trainer")
HOT_PATH_FORBIDDEN = ("torch", "transformers", "services.trainer")


def imported_modules(package_dir: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in package_dir.rglob("*.py"):
        modules: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module)
        found[str(path.relative_to(ROOT))] = modules
    return found


def offenders(package_dir: Path, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{file}: {module}"
        for file, modules in imported_modules(package_dir).items()
        for module in modules
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    ]


def test_shared_imports_no_service() -> None:
    assert offenders(ROOT / "shared", ("services", "helploop")) == []


@pytest.mark.parametrize("service", SERVICES)
def test_services_do_not_import_each_other(service: str) -> None:
    others = (*(f"services.{s}" for s in SERVICES if s != service), "helploop")
    assert offenders(ROOT / "services" / service, others) == []


@pytest.mark.parametrize("package", ["services/gateway", "services/inference", "shared"])
def test_serving_code_never_imports_training_stacks(package: str) -> None:
    assert offenders(ROOT / package, HOT_PATH_FORBIDDEN) == []


def test_no_view_imports_another_view() -> None:
    """What views share lives in a non-view module (`tickets/accept.py`, a domain's `service.py`, shared
    schemas); only the app factory gathers the blueprints."""
    found = imported_modules(ROOT / "services" / "gateway")
    views = [file for file in found if file.endswith(("/views.py", "/openapi.py"))]
    assert views, "no view modules found"
    assert [f"{file}: {m}" for file in views for m in found[file] if m.endswith(".views")] == []


def test_only_the_tickets_lifecycle_writes_a_ticket_status() -> None:
    """Every status change of a ticket goes through `shared.tickets.lifecycle`."""
    writers = []
    for path in [*(ROOT / "shared").rglob("*.py"), *(ROOT / "services").rglob("*.py")]:
        text = path.read_text()
        if "status=TicketStatus." in text and path.name != "lifecycle.py":
            writers.append(str(path.relative_to(ROOT)))
    assert writers == []


MAX_FUNCTION_LINES = 50
MAX_FILE_LINES = 400
DATA_FILES = {  # tables of demo text, not logic
    "services/trainer/demo_data.py",
    "services/trainer/demo_data_zh.py",
}


def python_files() -> list[Path]:
    skipped = {".venv", "var", "migrations", "node_modules"}
    return [p for p in ROOT.rglob("*.py") if not skipped & set(p.relative_to(ROOT).parts)]


def test_no_function_over_fifty_lines_and_no_file_over_four_hundred() -> None:
    """The house's size limits (a function from `def` to its last line): split longer ones."""
    long_functions, long_files = [], []
    for path in python_files():
        source = path.read_text()
        name = str(path.relative_to(ROOT))
        if source.count("\n") > MAX_FILE_LINES and name not in DATA_FILES:
            long_files.append(f"{name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source, filename=name)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if lines > MAX_FUNCTION_LINES:
                    long_functions.append(f"{name}:{node.lineno} {node.name} ({lines} lines)")
    assert long_functions == [] and long_files == [], (long_functions, long_files)
