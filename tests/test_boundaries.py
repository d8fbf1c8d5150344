"""The framework package's imports point one way: ``crawler`` never imports the
ready-made spiders and pipelines, the examples or the test fixtures built on it.

Every ``import``/``from ... import`` statement in ``crawler/`` is checked, at
module level and inside functions (a lazy import is still an arrow the wrong way).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK = ROOT / "crawler"
OUTSIDE = ("spiders", "pipelines", "examples", "fixtures")


def imported_modules(source: str) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` for each import statement in ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def wrong_way(source: str) -> list[str]:
    return [
        f"line {line}: {module}"
        for line, module in imported_modules(source)
        if module.split(".")[0] in OUTSIDE
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import spiders.site\n", ["line 1: spiders.site"]),
        ("def f():\n    from fixtures.tinysite import server\n", ["line 2: fixtures.tinysite"]),
        ("from pipelines import x\n", ["line 1: pipelines"]),
        ("import examples\n", ["line 1: examples"]),
        ("from crawler.pipelines.store import StorePipeline\n", []),
        ("from . import spiders\n", []),
    ],
)
def test_the_check_sees_wrong_way_imports(source: str, expected: list[str]) -> None:
    assert wrong_way(source) == expected


def test_framework_never_imports_what_is_built_on_it() -> None:
    modules = sorted(FRAMEWORK.rglob("*.py"))
    assert len(modules) > 50
    problems = {
        str(path.relative_to(ROOT)): found
        for path in modules
        if (found := wrong_way(path.read_text(encoding="utf-8")))
    }
    assert problems == {}
