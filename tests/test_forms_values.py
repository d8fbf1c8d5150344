"""Value sanitization by input type (HTML Standard, 4.10.5.1) and sample values."""

from __future__ import annotations

import pytest

from crawler.forms.values import SAMPLE_TYPES, sample, sanitize


@pytest.mark.parametrize(
    ("kind", "value", "held"),
    [
        # text-like: line breaks removed; url and email also lose surrounding ASCII spaces
        ("text", "a\r\nb\nc\rd", "abcd"),
        ("text", "  spaced  ", "  spaced  "),
        ("search", "a\nb", "ab"),
        ("tel", " +1\n555 ", " +1555 "),
        ("password", "p\nw ", "pw "),
        ("url", " \thttp://x.example/\n ", "http://x.example/"),
        ("email", "  a@b.example\f", "a@b.example"),
        ("email", "\xa0a@b.example", "\xa0a@b.example"),  # only ASCII whitespace is stripped
        # number: a valid floating-point number, else empty
        ("number", "12", "12"),
        ("number", "-1.5e3", "-1.5e3"),
        ("number", ".5", ".5"),
        ("number", "1.", ""),
        ("number", "+1", ""),
        ("number", " 1", ""),
        ("number", "ten", ""),
        ("number", "", ""),
        # color: a simple colour, lowercased; anything else black
        ("color", "#ABCDEF", "#abcdef"),
        ("color", "#abc", "#000000"),
        ("color", "", "#000000"),
        # dates and times
        ("date", "2024-02-29", "2024-02-29"),
        ("date", "2023-02-29", ""),
        ("date", "2024-13-01", ""),
        ("date", "0000-01-01", ""),
        ("date", "24-01-01", ""),
        ("month", "2024-12", "2024-12"),
        ("month", "2024-13", ""),
        ("month", "2024-00", ""),
        ("week", "2020-W53", "2020-W53"),  # 2020 has 53 ISO weeks
        ("week", "2024-W53", ""),  # 2024 has 52
        ("week", "2024-W00", ""),
        ("week", "2024-w01", ""),
        ("time", "12:00", "12:00"),
        ("time", "12:00:00.5", "12:00:00.5"),  # a time is not normalized
        ("time", "23:59:59.999", "23:59:59.999"),
        ("time", "24:00", ""),
        ("time", "12:60", ""),
        ("time", "1:00", ""),
        ("datetime-local", "2024-01-01T10:00", "2024-01-01T10:00"),
        ("datetime-local", "2024-01-01 10:00", "2024-01-01T10:00"),  # normalized
        ("datetime-local", "2024-01-01T10:00:00", "2024-01-01T10:00"),
        ("datetime-local", "2024-01-01T10:00:30.500", "2024-01-01T10:00:30.5"),
        ("datetime-local", "2024-01-01T10:00:00.000", "2024-01-01T10:00"),
        ("datetime-local", "2024-02-30T10:00", ""),
        ("datetime-local", "2024-01-01", ""),
        # types without sanitization keep the value as it is
        ("hidden", " a\nb ", " a\nb "),
        ("checkbox", "x\n", "x\n"),
        ("submit", " Go ", " Go "),
    ],
)
def test_sanitize(kind: str, value: str, held: str) -> None:
    assert sanitize(kind, value) == held


@pytest.mark.parametrize(
    ("value", "minimum", "maximum", "step", "held"),
    [
        ("", "", "", "", "50"),  # the default: the midpoint of 0..100
        ("", "0", "10", "", "5"),
        ("", "0", "10", "3", "6"),  # the midpoint 5, on the nearest step (ties up)
        ("", "0", "11", "", "6"),  # 5.5 rounds up to the step of 1
        ("", "0", "13", "", "7"),  # 6.5: ties go up, whatever the parity
        ("", "0", "10", "2", "6"),
        ("", "0", "1", "0.5", "0.5"),
        ("", "5", "1", "", "5"),  # max below min: max is min
        ("150", "", "", "", "100"),  # clamped
        ("-3", "", "", "", "0"),
        ("7.3", "", "", "any", "7.3"),
        ("7.3", "", "", "", "7"),
        ("10", "0", "10", "4", "8"),  # the last step below the maximum
        ("2.5", "0", "5", "0.5", "2.5"),
        ("abc", "0", "10", "2", "6"),  # not a number: the default
        ("4", "0", "10", "-1", "4"),  # an invalid step is 1
    ],
)
def test_sanitize_range(value: str, minimum: str, maximum: str, step: str, held: str) -> None:
    assert sanitize("range", value, minimum, maximum, step) == held


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("email", "crawler@example.com"),
        ("url", "https://example.com/"),
        ("tel", "+1 555 0100"),
        ("search", "test"),
        ("text", "test"),
        ("textarea", "test"),
        ("number", "1"),
        ("date", "2024-01-15"),
        ("month", "2024-01"),
        ("week", "2024-W03"),
        ("time", "12:00"),
        ("datetime-local", "2024-01-15T12:00"),
        ("password", None),
        ("hidden", None),
        ("file", None),
        ("checkbox", None),
        ("color", None),
        ("range", None),
    ],
)
def test_sample(kind: str, expected: str | None) -> None:
    value = sample(kind)
    assert value == expected
    if value is not None and kind != "textarea":
        assert sanitize(kind, value) == value  # a value the input holds as it is
    assert (kind in SAMPLE_TYPES) == (expected is not None)


@pytest.mark.parametrize(
    ("kind", "minimum", "maximum", "expected"),
    [
        ("number", "5", "", "5"),
        ("number", "", "0", "0"),
        ("number", "-10", "-2", "-2"),
        ("number", "2.5", "10", "2.5"),
        ("number", "x", "y", "1"),  # invalid bounds are ignored
        ("date", "2025-03-01", "", "2025-03-01"),
        ("date", "", "2020-01-01", "2020-01-01"),
        ("date", "bogus", "", "2024-01-15"),
    ],
)
def test_sample_within_bounds(kind: str, minimum: str, maximum: str, expected: str) -> None:
    assert sample(kind, minimum, maximum) == expected
