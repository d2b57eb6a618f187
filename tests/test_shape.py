"""The shape of the house (README, "Development"): checks measure, pure rules judge, artifacts
are written apart. Modules stay small enough to read and functions short enough to test."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dlcheck"
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60
#: The catalogue of codes is one table by design (Ruff's codes.rs).
TABLES = {"codes.py"}


def modules():
    return sorted(PACKAGE.rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def long_modules() -> set[str]:
    return {rel(p) for p in modules() if p.name not in TABLES and p.read_text().count("\n") > MAX_MODULE_LINES}


def long_functions() -> set[str]:
    found = set()
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                found.add(f"{rel(path)}:{node.name}")
    return found


def test_no_module_is_over_the_limit():
    assert not long_modules(), f"over {MAX_MODULE_LINES} lines: {sorted(long_modules())} (split it into a package)"


def test_no_function_is_over_the_limit():
    assert not long_functions(), f"over {MAX_FUNCTION_LINES} lines: {sorted(long_functions())}"


def test_checks_import_nothing_from_the_renderers():
    """A check keeps figures and tables as data; dlcheck.artifacts and the reports draw them."""
    for path in (PACKAGE / "checks").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.startswith("dlcheck.render") for n in names), f"{rel(path)} imports {names}"
