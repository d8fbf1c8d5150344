"""Errors raised by the extraction package."""

from __future__ import annotations

from crawler.exceptions import ConfigError


class SpecError(ConfigError):
    """A spec is invalid: the message names the file (when there is one), the
    spec and the field, and says what to change."""


class ConversionError(ValueError):
    """A processor could not convert a value (``int`` on ``"abc"``).

    It never escapes an engine: the field gets ``None`` and the item records
    the message in ``ExtractedItem.errors``.
    """


class ExtractError(RuntimeError):
    """A page could not be extracted with a spec, e.g. a container selector
    that matched text instead of elements."""
