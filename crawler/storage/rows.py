"""What an item is as a row of the ``items`` table: spec name, key, JSON data, URL.

The dedup pipeline (which compares items within a run) and the store (which
upserts on spec + key across runs) both use :func:`item_row`, so they agree on
what "the same item" is:

* an :class:`~crawler.extract.result.ExtractedItem`: its spec's name, and the
  values of the spec's ``key`` fields (the whole data when the spec has none);
* any other item a spider yields (dataclass, dict, ``scrapy.Item``, attrs...),
  read through ItemAdapter: its class name, and all its fields.

A key is canonical JSON (sorted object keys, no spaces); one longer than
:data:`MAX_KEY_LENGTH` characters is replaced by its SHA-256, since PostgreSQL
cannot index arbitrarily long text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from itemadapter import ItemAdapter

from crawler.extract.result import ExtractedItem, jsonable

MAX_KEY_LENGTH = 256  # characters


@dataclass(frozen=True)
class ItemRow:
    spec: str
    key: str
    data: dict[str, Any]
    url: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "key": self.key, "data": self.data, "url": self.url}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON types: decimals and dates as strings, anything else ``str()``."""
    return json.loads(json.dumps(jsonable(value), default=str))


def make_key(value: Any) -> str:
    text = canonical_json(value)
    if len(text) > MAX_KEY_LENGTH:
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return text


def item_row(item: Any) -> ItemRow:
    """The row for ``item``; a ``TypeError`` if ItemAdapter does not know its type."""
    if isinstance(item, ExtractedItem):
        data = json_ready(item.data)
        key_value = [data.get(name) for name in item.key] if item.key else data
        return ItemRow(item.spec_name, make_key(key_value), data, item.url)
    data = json_ready(ItemAdapter(item).asdict())
    url = data.get("url")
    return ItemRow(type(item).__name__, make_key(data), data, url if isinstance(url, str) else None)


def data_digest(row: ItemRow) -> bytes:
    """A short fingerprint of a row's data, to tell a changed item from a repeat."""
    return hashlib.blake2b(canonical_json(row.data).encode("utf-8"), digest_size=16).digest()
