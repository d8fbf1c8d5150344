"""Scrapy's ``Request.to_dict(spider=...)``, with the spider's method names remembered.

Scrapy 2.19's ``Request.to_dict`` names a request's callback and errback by
looking for their function among every member of the spider
(``scrapy.utils.request._find_method``, ``inspect.getmembers``): about 70 us
of the 80 a request took for the site spider (83 members), once for each
request a shared crawl queues in Redis (:mod:`crawler.frontier.queue`) or a
job directory journals (:mod:`crawler.journal`).  :class:`RequestDictEncoder`
builds the same dict and asks Scrapy only once per function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import Request

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Spider

__all__ = ["RequestDictEncoder"]


class RequestDictEncoder:
    """``to_dict(request)`` as ``request.to_dict(spider=spider)`` for one spider."""

    def __init__(self, spider: Spider | None) -> None:
        self.spider = spider
        # a spider method's function (its __func__) -> its name on the spider
        self._method_names: dict[Any, str] = {}

    def to_dict(self, request: Request) -> dict[str, Any]:
        """What ``request.to_dict(spider=self.spider)`` returns (Scrapy 2.19's
        ``Request.to_dict``: url, callback and errback as spider method names,
        headers, then every name of ``Request.attributes``, ``_class`` for a
        subclass); raises its ``ValueError`` for a callback or errback that is not
        a method of the spider."""
        callback, errback = request.callback, request.errback
        d: dict[str, Any] = {
            "url": request.url,
            "callback": self._method_name(callback) if callable(callback) else callback,
            "errback": self._method_name(errback) if callable(errback) else errback,
            "headers": dict(request.headers),
        }
        for attr in request.attributes:
            d.setdefault(attr, getattr(request, attr))
        if type(request) is not Request:
            d["_class"] = f"{type(request).__module__}.{type(request).__name__}"
        return d

    def _method_name(self, func: Callable[..., Any]) -> str:
        """The name of the spider's method ``func`` is (Scrapy's ``_find_method``,
        which compares ``__func__``), remembered by function and checked again on
        the spider at each use (an attribute set on the instance later wins)."""
        function = getattr(func, "__func__", None)
        name = self._method_names.get(function) if function is not None else None
        if name is not None:
            bound = getattr(self.spider, name, None)
            if getattr(bound, "__func__", None) is function:
                return name
        # Scrapy's own lookup (it raises ValueError for a function not of the spider)
        probe = Request("data:,", callback=func)
        name = probe.to_dict(spider=self.spider)["callback"]
        if function is not None:
            self._method_names[function] = name
        return name
