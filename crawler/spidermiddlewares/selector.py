"""Free each response's parsed document as soon as its output is done.

Scrapy's :attr:`TextResponse.selector <scrapy.http.TextResponse.selector>`
caches a :class:`~scrapy.Selector` built on the response, and the selector keeps
the response (``Selector.response``): a reference cycle.  Reference counting
never frees it; the response, its body and the parsed document (lxml's tree,
tens of KB for a page of 5 KB) wait for Python's cyclic garbage collector.  A
response lives long enough, from the download to the end of its callback's
output, to be promoted to an older generation, whose collections are rarer
(and rarer still with ``CRAWLER_GC_THRESHOLD``: bench/RESULTS.md, "Scale,
round 6").

Outermost of the spider middlewares (order 5 in ``SPIDER_MIDDLEWARES``), this
one passes a response's output on unchanged and, once the output is done (or
failed), drops the response's cached selector: the cycle is gone, and the
document is freed when nothing else holds it.  Code that reads
``response.selector`` later (a signal handler, an item pipeline holding the
response) gets a new one, parsed again: correct, only slower.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator

    from scrapy.http import Response

__all__ = ["SelectorReleaseMiddleware"]


def release_selector(response: Response) -> None:
    """Break the response <-> selector cycle (Scrapy's ``_cached_selector``,
    ``None`` until ``response.selector`` is first read); a response without
    one is left as it is."""
    if getattr(response, "_cached_selector", None) is not None:
        response._cached_selector = None  # type: ignore[attr-defined]


class SelectorReleaseMiddleware:
    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        try:
            yield from result
        finally:
            release_selector(response)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        try:
            async for output in result:
                yield output
        finally:
            release_selector(response)
