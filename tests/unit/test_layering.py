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
