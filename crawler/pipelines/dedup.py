"""Drop items identical to one already seen in this run.

Identity is the item's spec (or class) name and key, as the store computes
them (:func:`crawler.storage.rows.item_row`): the spec's ``key`` fields, or the
whole data for a spec without a key and for other item types.  Within a run,
an item with a known identity and the same data is dropped with
:class:`~crawler.exceptions.DuplicateItem` (``dedup/duplicates``; not a
reject); one whose data changed passes (``dedup/changed``) and the store
updates the row.  Across runs the store's upsert on (spec, key) does the same.
Page records and page links are never deduplicated here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from crawler.exceptions import DuplicateItem
from crawler.items import PageLinks, PageRecord
from crawler.storage.rows import data_digest, item_row

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler


class DedupPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        # (spec, key) -> fingerprint of the data last passed on
        self._seen: dict[tuple[str, str], bytes] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("CRAWLER_DEDUP_ENABLED"):
            raise NotConfigured  # switched off on purpose: silent, as Scrapy's own
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, (PageRecord, PageLinks)):
            return item
        row = item_row(item)
        identity = (row.spec, row.key)
        digest = data_digest(row)
        previous = self._seen.get(identity)
        if previous == digest:
            self.crawler.stats.inc_value("dedup/duplicates")
            raise DuplicateItem(f"duplicate {row.spec} item {row.key} (from {row.url})")
        if previous is not None:
            self.crawler.stats.inc_value("dedup/changed")
        self._seen[identity] = digest
        return item
