"""Input values as a browser holds them, and sample values a user could type.

:func:`sanitize` is the *value sanitization algorithm* of each input type
(HTML Standard, 4.10.5.1 "States of the type attribute"): what a browser
holds, and submits, for a ``value`` attribute.  A live page's values were
sanitized by the browser already; the served HTML's are sanitized here, so
both readers give the same value.

:func:`sample` is a valid value for an empty field of a given type, for the
crawl to type when asked to (``--forms all`` or ``CRAWLER_FORM_SAMPLES``):
an e-mail address, a number within ``min``/``max``, a date, a URL, a
telephone number, a search term.
"""

from __future__ import annotations

import math
import re
from datetime import date

_NEWLINE_CHARS = str.maketrans("", "", "\r\n")
_ASCII_WHITESPACE = " \t\n\f\r"
# HTML Standard, 2.3.4.3 "valid floating-point number".
_FLOAT = re.compile(r"-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?\Z")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}\Z")
# HTML Standard, 2.3.5 Dates and times (valid date/month/week/time/local date and time strings).
_DATE = re.compile(r"\d{4,}-\d{2}-\d{2}\Z")
_MONTH = re.compile(r"\d{4,}-\d{2}\Z")
_WEEK = re.compile(r"\d{4,}-W\d{2}\Z")
_TIME = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?\Z")
_DATETIME = re.compile(r"(\d{4,}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)\Z")

#: Sample values by input type (``search`` and ``text``: a common word).
SAMPLES = {
    "email": "crawler@example.com",
    "url": "https://example.com/",
    "tel": "+1 555 0100",
    "search": "test",
    "text": "test",
    "textarea": "test",
    "date": "2024-01-15",
    "month": "2024-01",
    "week": "2024-W03",
    "time": "12:00",
    "datetime-local": "2024-01-15T12:00",
    "number": "1",
}
#: Types :func:`sample` fills (passwords and hidden fields never).
SAMPLE_TYPES = frozenset(SAMPLES)


def sanitize(kind: str, value: str, minimum: str = "", maximum: str = "", step: str = "") -> str:
    """What a browser holds for ``value`` in an input of type ``kind``."""
    if kind in ("text", "search", "tel", "password"):
        return value.translate(_NEWLINE_CHARS)
    if kind in ("url", "email"):
        return value.translate(_NEWLINE_CHARS).strip(_ASCII_WHITESPACE)
    if kind == "number":
        return value if _FLOAT.match(value) else ""
    if kind == "range":
        return _range_value(value, minimum, maximum, step)
    if kind == "color":
        return value.lower() if _COLOR.match(value) else "#000000"
    if kind == "date":
        return value if _DATE.match(value) and _valid_date(value) else ""
    if kind == "month":
        return value if _MONTH.match(value) and 1 <= int(value[-2:]) <= 12 else ""
    if kind == "week":
        if not _WEEK.match(value):
            return ""
        year, week = int(value[:-4]), int(value[-2:])
        return value if year > 0 and 1 <= week <= _weeks_in(year) else ""
    if kind == "time":
        return value if _TIME.match(value) and _valid_time(value) else ""
    if kind == "datetime-local":
        m = _DATETIME.match(value)
        if not m or not _valid_date(m[1]) or not _valid_time(m[2]):
            return ""
        return f"{m[1]}T{_shortest_time(m[2])}"  # the normalized form
    return value


def sample(kind: str, minimum: str = "", maximum: str = "", step: str = "") -> str | None:
    """A valid value for an empty input of type ``kind`` (``None``: not one to fill)."""
    if kind == "number":
        low, high = _number(minimum), _number(maximum)
        value = 1.0
        if low is not None and value < low:
            value = low
        if high is not None and value > high:
            value = high
        return _shortest(value)
    if kind in ("date", "datetime-local", "month", "week"):
        value = SAMPLES[kind]
        if kind == "date" and minimum and sanitize("date", minimum) and value < minimum:
            value = minimum
        if kind == "date" and maximum and sanitize("date", maximum) and value > maximum:
            value = maximum
        return value
    return SAMPLES.get(kind)


def _number(text: str) -> float | None:
    if not _FLOAT.match(text or ""):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _shortest(value: float) -> str:
    """A number as browsers write it: ``5``, ``2.5``."""
    return str(int(value)) if value.is_integer() else repr(value)


def _range_value(value: str, minimum: str, maximum: str, step: str) -> str:
    """HTML Standard, 4.10.5.1.14 Range state: default the midpoint, clamped, on a step."""
    low = _number(minimum)
    high = _number(maximum)
    low = 0.0 if low is None else low
    high = 100.0 if high is None else high
    if high < low:
        high = low
    number = _number(value)
    if number is None:
        number = low + (high - low) / 2
    number = min(max(number, low), high)
    step_text = (step or "").strip().lower()
    size = _number(step_text) if step_text != "any" else None
    if step_text != "any":
        size = size if size is not None and size > 0 else 1.0
        steps = math.floor((number - low) / size + 0.5)  # ties go up, not to even
        number = low + steps * size
        if number > high:
            number -= size
    return _shortest(number)


def _valid_date(text: str) -> bool:
    try:
        year, month, day = (int(part) for part in text.split("-"))
        date(year, month, day)
    except ValueError:
        return False
    return year > 0


def _weeks_in(year: int) -> int:
    """52 or 53: the ISO 8601 weeks of ``year`` (HTML Standard, 2.3.5.8 Weeks:
    53 when the year starts on a Thursday, or on a Wednesday in a leap year)."""

    def weekday_of_dec_31(y: int) -> int:  # 0 Sunday ... 6 Saturday
        return (y + y // 4 - y // 100 + y // 400) % 7

    return 53 if weekday_of_dec_31(year) == 4 or weekday_of_dec_31(year - 1) == 3 else 52


def _shortest_time(text: str) -> str:
    """A valid time string in its shortest form (HTML Standard, 2.3.5.4 "valid
    normalized local date and time string"): no zero seconds, no trailing
    zeros in the fraction."""
    if len(text) == 5:
        return text
    seconds, _, fraction = text[6:].partition(".")
    fraction = fraction.rstrip("0")
    if fraction:
        return f"{text[:5]}:{seconds}.{fraction}"
    return text[:5] if seconds == "00" else f"{text[:5]}:{seconds}"


def _valid_time(text: str) -> bool:
    hours, minutes = int(text[0:2]), int(text[3:5])
    seconds = float(text[6:]) if len(text) > 5 else 0.0
    return hours < 24 and minutes < 60 and seconds < 60
