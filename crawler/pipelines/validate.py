"""Drop extracted items with field errors, say why, and count them per reason.

An :class:`~crawler.extract.result.ExtractedItem` whose ``errors`` are not
empty (a required field found nothing, a conversion failed) is dropped with
:class:`~crawler.exceptions.InvalidItem`.  The store pipeline keeps such items
in its ``rejects`` table (through Scrapy's ``item_dropped`` signal), so nothing
is lost silently; ``validate/dropped/<kind>`` counts them, one per item.
Other items pass untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from crawler.exceptions import InvalidItem
from crawler.extract.engine import MISSING_REQUIRED
from crawler.extract.result import ExtractedItem

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

MISSING = "missing_required"
CONVERSION = "conversion"  # any other field error: a failed conversion, a page object's message


def error_kind(message: str) -> str:
    return MISSING if message.startswith(MISSING_REQUIRED) else CONVERSION


def describe(errors: dict[str, str]) -> tuple[str, str]:
    """``(kind, reason)`` for an item's errors: the kind of the first error (in
    field order), and every error as ``field: message``, after the kind."""
    kind = error_kind(next(iter(errors.values())))
    details = "; ".join(f"{name}: {message}" for name, message in errors.items())
    return kind, f"{kind}: {details}"


class ValidatePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("CRAWLER_VALIDATE_ENABLED"):
            raise NotConfigured  # switched off on purpose: silent, as Scrapy's own
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ExtractedItem) or item.ok:
            return item
        kind, reason = describe(item.errors)
        self.crawler.stats.inc_value(f"validate/dropped/{kind}")
        raise InvalidItem(reason, kind, item.errors)
