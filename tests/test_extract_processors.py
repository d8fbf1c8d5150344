"""Processing steps, one by one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from crawler.extract.exceptions import ConversionError, SpecError
from crawler.extract.processors import make_step, parse_step


@dataclass
class Page:
    url: str = "http://example.com/a/b.html"
    base_url: str = "http://example.com/a/"


def run(step: Any, values: list[Any]) -> list[Any]:
    return parse_step(step)(values, Page())


def test_strip_replace_join() -> None:
    assert run("strip", ["  a ", "b\n"]) == ["a", "b"]
    assert run({"strip": "$ "}, [" $5 "]) == ["5"]
    assert run({"replace": [",", ""]}, ["1,234"]) == ["1234"]
    assert run("join", ["a", "b"]) == ["a b"]
    assert run({"join": ", "}, ["a", "b"]) == ["a, b"]
    assert run("join", []) == []


def test_regex_takes_the_first_group_and_drops_non_matches() -> None:
    assert run({"regex": r"(\d+) EUR"}, ["5 EUR", "none", "7 EUR"]) == ["5", "7"]
    assert run({"regex": r"\d+"}, ["a12b"]) == ["12"]
    assert run("regex:^(\\w+)", ["hello world"]) == ["hello"]
    assert run({"regex": r"(a)|(b)"}, ["b"]) == []  # group 1 did not take part


def test_absolute_url_uses_the_base_url() -> None:
    assert run("absolute_url", [" c.html ", "/d", "http://x.org/"]) == [
        "http://example.com/a/c.html",
        "http://example.com/d",
        "http://x.org/",
    ]


@pytest.mark.parametrize(
    ("step", "raw", "value"),
    [
        ("int", " 42 ", 42),
        ("int", "-7", -7),
        ("int", 3.0, 3),
        ("float", "1.5e3", 1500.0),
        ("float", 2.5, 2.5),
        ("decimal", "12.50", Decimal("12.50")),
        ("bool", "Yes", True),
        ("bool", "off", False),
        ("bool", "", False),
        ("date", "2026-11-20", date(2026, 11, 20)),
        ({"date": "%d/%m/%Y"}, "20/11/2026", date(2026, 11, 20)),
        ({"date": ["%Y", "%B %d, %Y"]}, "November 20, 2026", date(2026, 11, 20)),
        ("datetime", "2026-11-20T09:30:00+01:00", datetime.fromisoformat("2026-11-20T09:30+01:00")),
    ],
)
def test_conversions(step: Any, raw: Any, value: Any) -> None:
    assert run(step, [raw]) == [value]


@pytest.mark.parametrize(
    ("step", "raw", "message"),
    [
        ("int", "abc", "int: not an integer: 'abc'"),
        ("int", "1.5", "int: not an integer"),
        ("int", "1_000", "int: not an integer"),
        ("float", "x", "float: not a number: 'x'"),
        ("float", "nan", "float: not a finite number"),
        ("decimal", "1,5", "decimal: not a number: '1,5'"),
        ("decimal", "Infinity", "decimal: not a finite number"),
        ("bool", "maybe", "bool: not a yes/no value: 'maybe'"),
        ("date", "2026-02-30", "date: '2026-02-30' does not match an ISO 8601 date"),
        ({"date": "%d/%m/%Y"}, "2026-11-20", "does not match '%d/%m/%Y'"),
        ("strip", 5, "strip: expected text, got int 5"),
    ],
)
def test_conversion_errors(step: Any, raw: Any, message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        run(step, [raw])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("nope", "unknown processor 'nope'"),
        ({"regex": 5}, "regex needs a pattern"),
        ({"replace": "x"}, "replace needs \\[old, new\\]"),
        ({"int": "x"}, "int takes no argument"),
        ({"a": 1, "b": 2}, "a processing step is a name or a one-key mapping"),
        (5, "a processing step is a name"),
    ],
)
def test_bad_steps(raw: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_step(raw)


def test_step_str() -> None:
    assert str(make_step("int")) == "int"
    assert str(make_step("regex", "(x)")) == "regex:'(x)'"
