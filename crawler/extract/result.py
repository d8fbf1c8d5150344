"""What extraction returns: one :class:`ExtractedItem` per item found."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass
class ExtractedItem:
    """An item and the problems found while extracting it.

    ``data`` has every field of the spec, in spec order.  A field that failed
    (a conversion error, a required field with no match) has ``None`` (``[]``
    for a list field) in ``data`` and a message in ``errors``; an item with
    errors is invalid and a validation step should reject it with
    ``errors`` as the reason.  ``key`` names the spec's key fields.
    """

    spec_name: str
    url: str
    data: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    key: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    def key_values(self) -> tuple[Any, ...]:
        return tuple(self.data.get(name) for name in self.key)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (decimals as strings, dates in ISO format)."""
        out: dict[str, Any] = {"spec": self.spec_name, "url": self.url, "data": jsonable(self.data)}
        if self.errors:
            out["errors"] = dict(self.errors)
        return out


def jsonable(value: Any) -> Any:
    """``value`` with Decimal, date and datetime turned into strings, recursively."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
