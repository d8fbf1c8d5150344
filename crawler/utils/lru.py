"""A small bounded map that forgets the entry used least recently."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """``get(key)``/``put(key, value)`` holding at most ``size`` entries (``size`` >= 1).

    For memos of pure functions on the crawl's hot path (fingerprints, link
    URLs): a hit costs a dict lookup and a move; ``functools.lru_cache`` would
    be shared by every crawler of the process and keep their objects alive.
    """

    __slots__ = ("_entries", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"an Lru holds at least 1 entry, not {size}")
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        entries = self._entries
        value = entries.get(key)
        if value is not None:
            entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        entries = self._entries
        entries[key] = value
        entries.move_to_end(key)
        if len(entries) > self.size:
            entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
