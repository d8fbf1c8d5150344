"""Golden files: every case in tests/golden/ through every engine gives expected.json.

A case is a directory with ``page.html`` (raw bytes), ``spec.yaml`` or
``spec.toml``, optional ``meta.json`` (``url``, ``content_type``) and
``expected.json`` (the items as :meth:`ExtractedItem.to_json` gives them).
``python -m tests.test_extract_golden CASE...`` prints what the lxml engine
extracts now, to review before saving it as a case's expected.json.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from w3lib.encoding import http_content_type_encoding

from crawler.extract.engines import ENGINE_NAMES, get_engine
from crawler.extract.loader import load_spec

GOLDEN = Path(__file__).parent / "golden"
DEFAULT_URL = "http://127.0.0.1:8000/page.html"


@dataclass
class GoldenCase:
    name: str
    directory: Path

    @property
    def spec_path(self) -> Path:
        (path,) = [p for p in self.directory.glob("spec.*") if p.suffix in (".yaml", ".toml")]
        return path

    @property
    def meta(self) -> dict[str, Any]:
        path = self.directory / "meta.json"
        return json.loads(path.read_text()) if path.exists() else {}

    @property
    def url(self) -> str:
        return self.meta.get("url", DEFAULT_URL)

    @property
    def encoding(self) -> str | None:
        content_type = self.meta.get("content_type")
        return http_content_type_encoding(content_type) if content_type else None

    @property
    def body(self) -> bytes:
        return (self.directory / "page.html").read_bytes()

    def run(self, engine_name: str) -> list[dict[str, Any]]:
        engine = get_engine(engine_name)
        items = engine.extract(load_spec(self.spec_path), self.body, self.url, self.encoding)
        # Through JSON, so the comparison sees exactly what would be stored.
        return json.loads(json.dumps([item.to_json() for item in items]))

    def expected(self) -> list[dict[str, Any]]:
        return json.loads((self.directory / "expected.json").read_text(encoding="utf-8"))


CASES = sorted(
    (GoldenCase(d.name, d) for d in GOLDEN.iterdir() if (d / "page.html").exists()),
    key=lambda c: c.name,
)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 24
    assert all((case.directory / "expected.json").exists() for case in CASES)


@pytest.mark.parametrize("engine_name", ENGINE_NAMES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_golden_case(case: GoldenCase, engine_name: str) -> None:
    assert case.run(engine_name) == case.expected()


def main(names: list[str]) -> None:
    for case in CASES:
        if names and case.name not in names:
            continue
        print(f"== {case.name}")
        print(json.dumps(case.run("lxml"), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
