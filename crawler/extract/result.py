"""What extraction returns: one :class:`ExtractedItem` per item found."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from itemadapter.adapter import AdapterInterface

if TYPE_CHECKING:
    from collections.abc import Iterator, KeysView


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


class ExtractedItemAdapter(AdapterInterface):
    """How Scrapy's item machinery (feed exports) sees an :class:`ExtractedItem`:
    one flat row, ``url`` then the spec's fields (a field named ``url`` wins).

    Registered first in ``ItemAdapter.ADAPTER_CLASSES`` when this module is
    imported, ahead of the generic dataclass adapter.
    """

    item: ExtractedItem

    @classmethod
    def is_item_class(cls, item_class: type) -> bool:
        return issubclass(item_class, ExtractedItem)

    def _row(self) -> dict[str, Any]:
        return {"url": self.item.url, **self.item.data}

    def field_names(self) -> KeysView[str]:
        return self._row().keys()

    def __getitem__(self, name: str) -> Any:
        return self._row()[name]

    def __setitem__(self, name: str, value: Any) -> None:
        if name == "url" and name not in self.item.data:
            self.item.url = value
        else:
            self.item.data[name] = value

    def __delitem__(self, name: str) -> None:
        del self.item.data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._row())

    def __len__(self) -> int:
        return len(self._row())


if ExtractedItemAdapter not in ItemAdapter.ADAPTER_CLASSES:
    ItemAdapter.ADAPTER_CLASSES.appendleft(ExtractedItemAdapter)  # type: ignore[attr-defined]
