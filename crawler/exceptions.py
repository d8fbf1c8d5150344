"""The framework's exceptions (one module, as in Scrapy)."""

from __future__ import annotations


class StoreError(Exception):
    """A store could not be opened or written; the message names the store."""
