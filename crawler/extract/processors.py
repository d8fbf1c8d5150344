"""Post-processing steps for field values.

A step turns the list of values a field selected into a new list; the engine
runs a field's steps in order, then keeps the list (``many``) or its first
value.  Most steps work value by value; ``regex`` drops values that do not
match and ``join`` turns the list into one string.  Conversions raise
:class:`ConversionError`, which the engine records on the item instead of
failing the page.

In a spec a step is a name (``int``) or a one-key mapping with its argument
(``{regex: '(\\d+)'}``, ``{date: '%d/%m/%Y'}``); ``name:arg`` in a string
works too.  Arguments are checked when the spec is built.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import urljoin

from w3lib.html import strip_html5_whitespace

from crawler.extract.exceptions import ConversionError, SpecError

TRUE_WORDS = frozenset({"true", "yes", "y", "on", "1", "checked", "selected"})
FALSE_WORDS = frozenset({"false", "no", "n", "off", "0", ""})
_INT = re.compile(r"[+-]?\d+")

Values = list[Any]


class StepContext(Protocol):
    """What a step may need to know about the page (a ``ParsedPage``)."""

    url: str

    @property
    def base_url(self) -> str:
        """The page URL, or its ``<base href>`` resolved against it."""


@dataclass(frozen=True)
class Step:
    name: str
    arg: Any
    run: Callable[[Values, StepContext], Values] = field(compare=False, repr=False)

    def __call__(self, values: Values, context: StepContext) -> Values:
        return self.run(values, context)

    def __str__(self) -> str:
        return self.name if self.arg is None else f"{self.name}:{self.arg!r}"


def _each(func: Callable[[Any], Any]) -> Callable[[Values, StepContext], Values]:
    return lambda values, _context: [func(value) for value in values]


def _needs_str(step: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConversionError(f"{step}: expected text, got {type(value).__name__} {value!r}")
    return value


def _strip(arg: Any) -> Callable[[Values, StepContext], Values]:
    chars = _optional_str("strip", arg)
    return _each(lambda v: _needs_str("strip", v).strip(chars))


def _regex(arg: Any) -> Callable[[Values, StepContext], Values]:
    if not isinstance(arg, str):
        raise SpecError("regex needs a pattern, e.g. {regex: '(\\d+)'}")
    try:
        pattern = re.compile(arg)
    except re.error as e:
        raise SpecError(f"regex {arg!r} does not compile: {e}") from e
    group = 1 if pattern.groups else 0

    def run(values: Values, _context: StepContext) -> Values:
        out = []
        for value in values:
            match = pattern.search(_needs_str("regex", value))
            if match is not None and match.group(group) is not None:
                out.append(match.group(group))
        return out

    return run


def _join(arg: Any) -> Callable[[Values, StepContext], Values]:
    separator = " " if arg is None else _optional_str("join", arg)
    return lambda values, _c: [separator.join(str(v) for v in values)] if values else []


def _replace(arg: Any) -> Callable[[Values, StepContext], Values]:
    if not (isinstance(arg, list) and len(arg) == 2 and all(isinstance(a, str) for a in arg)):
        raise SpecError("replace needs [old, new], e.g. {replace: [',', '']}")
    old, new = arg
    return _each(lambda v: _needs_str("replace", v).replace(old, new))


def _absolute_url(arg: Any) -> Callable[[Values, StepContext], Values]:
    _no_arg("absolute_url", arg)
    return lambda values, context: [
        urljoin(context.base_url, strip_html5_whitespace(_needs_str("absolute_url", v)))
        for v in values
    ]


def _to_int(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)  # an XPath count() or number()
    text = _needs_str("int", value).strip()
    if not _INT.fullmatch(text):
        raise ConversionError(f"int: not an integer: {value!r}")
    return int(text)


def _to_float(value: Any) -> float:
    if isinstance(value, float) and math.isfinite(value):
        return value
    try:
        number = float(_needs_str("float", value).strip())
    except ValueError:
        raise ConversionError(f"float: not a number: {value!r}") from None
    if not math.isfinite(number):
        raise ConversionError(f"float: not a finite number: {value!r}")
    return number


def _to_decimal(value: Any) -> Decimal:
    try:
        number = Decimal(_needs_str("decimal", value).strip())
    except InvalidOperation:
        raise ConversionError(f"decimal: not a number: {value!r}") from None
    if not number.is_finite():
        raise ConversionError(f"decimal: not a finite number: {value!r}")
    return number


def _to_bool(value: Any) -> bool:
    word = _needs_str("bool", value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConversionError(f"bool: not a yes/no value: {value!r}")


def _date_formats(step: str, arg: Any) -> list[str]:
    if arg is None:
        return []
    formats = [arg] if isinstance(arg, str) else arg
    if not (isinstance(formats, list) and formats and all(isinstance(f, str) for f in formats)):
        raise SpecError(f"{step} takes a strptime format or a list of them, e.g. '%d/%m/%Y'")
    return formats


def _parse_datetime(step: str, value: Any, formats: list[str]) -> datetime:
    text = _needs_str(step, value).strip()
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    if not formats:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    expected = " or ".join(repr(f) for f in formats) if formats else "an ISO 8601 date"
    raise ConversionError(f"{step}: {value!r} does not match {expected}")


def _date(arg: Any) -> Callable[[Values, StepContext], Values]:
    formats = _date_formats("date", arg)

    def to_date(value: Any) -> date:
        return _parse_datetime("date", value, formats).date()

    return _each(to_date)


def _datetime(arg: Any) -> Callable[[Values, StepContext], Values]:
    formats = _date_formats("datetime", arg)
    return _each(lambda value: _parse_datetime("datetime", value, formats))


def _optional_str(step: str, arg: Any) -> str | None:
    if arg is not None and not isinstance(arg, str):
        raise SpecError(f"{step} takes a string argument, not {arg!r}")
    return arg


def _no_arg(step: str, arg: Any) -> None:
    if arg is not None:
        raise SpecError(f"{step} takes no argument")


def _conversion(name: str, func: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def factory(arg: Any) -> Callable[[Values, StepContext], Values]:
        _no_arg(name, arg)
        return _each(func)

    return factory


PROCESSORS: dict[str, Callable[[Any], Callable[[Values, StepContext], Values]]] = {
    "strip": _strip,
    "regex": _regex,
    "replace": _replace,
    "join": _join,
    "absolute_url": _absolute_url,
    "int": _conversion("int", _to_int),
    "float": _conversion("float", _to_float),
    "decimal": _conversion("decimal", _to_decimal),
    "bool": _conversion("bool", _to_bool),
    "date": _date,
    "datetime": _datetime,
}


def make_step(name: str, arg: Any = None) -> Step:
    """Build one step; raise :class:`SpecError` for an unknown name or a bad argument."""
    factory = PROCESSORS.get(name)
    if factory is None:
        known = ", ".join(sorted(PROCESSORS))
        raise SpecError(f"unknown processor {name!r} (known: {known})")
    return Step(name, arg, factory(arg))


def parse_step(raw: Any) -> Step:
    """A step as written in a spec file: ``"int"``, ``"regex:(\\d+)"`` or ``{regex: ...}``."""
    if isinstance(raw, Step):
        return raw
    if isinstance(raw, str):
        name, sep, arg = raw.partition(":")
        return make_step(name.strip(), arg if sep else None)
    if isinstance(raw, dict) and len(raw) == 1:
        ((name, arg),) = raw.items()
        return make_step(str(name), arg)
    raise SpecError(f"a processing step is a name or a one-key mapping, not {raw!r}")
