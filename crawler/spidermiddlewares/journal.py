"""Each response's page records last, tied to the request they end (for the request journal).

The request journal (:mod:`crawler.journal`) marks a request done when its page
record is committed to the store.  That is only right if the record is the
request's last output: a spider may yield its record first and its links,
forms and requests after, and the extraction middleware adds the page's items
after the spider's output.  This middleware, the last to see a response's
output (order 10 in ``SPIDER_MIDDLEWARES``), passes requests and items on
as they come, holds back every :class:`~crawler.items.PageRecord` and yields
them at the end, in their order, the last one tied to the response's request
(:meth:`~crawler.journal.RequestJournal.expect`).

Records a spider's errback yields do not pass spider middlewares (Scrapy
calls errbacks directly): the site spider ties them itself.  Off (``NotConfigured``,
silent) without a job directory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from crawler.items import PageRecord
from crawler.journal import RequestJournal

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response


class JournalMiddleware:
    def __init__(self, crawler: Crawler, journal: RequestJournal) -> None:
        self.crawler = crawler
        self.journal = journal

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        journal = RequestJournal.for_crawler(crawler)
        if journal is None:
            raise NotConfigured
        return cls(crawler, journal)

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        held: list[PageRecord] = []
        for output in result:
            if isinstance(output, PageRecord):
                held.append(output)
            else:
                yield output
        yield from self._records(response, held)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        held: list[PageRecord] = []
        async for output in result:
            if isinstance(output, PageRecord):
                held.append(output)
            else:
                yield output
        for record in self._records(response, held):
            yield record

    def _records(self, response: Response, held: list[PageRecord]) -> Iterator[PageRecord]:
        if held:  # tied before it is passed on: the store may take it at once
            fingerprint = self.crawler.request_fingerprinter.fingerprint(response.request)
            self.journal.expect(held[-1], fingerprint)
        yield from held
