"""scrapy-redis's priority queue, whose pops are leases.

A request popped is moved, in one Lua script, from the queue to the worker's
lease hash (:meth:`crawler.frontier.shared.SharedCrawl.queue_many`), so a worker that
dies with it leaves it where another worker finds it and queues it again.

A request is encoded as scrapy-redis encodes it (``Request.to_dict`` with the
spider, then the scheduler's serializer), except that the names of its callback
and errback are looked up once per function: Scrapy's ``_find_method`` lists every
member of the spider (``inspect.getmembers``) for each, about 70 us of the 80 a
request took (the site spider, 83 members), and a worker of a shared crawl encodes
every link its process has not seen, one to two a page (bench/RESULTS.md, "Shared
crawl, round 5").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy_redis.queue import PriorityQueue

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from crawler.frontier.shared import SharedCrawl


class LeasedPriorityQueue(PriorityQueue):
    """``PriorityQueue`` (sorted set, score minus the priority) with leased pops.

    ``shared`` must be set before :meth:`push_many_pop` is called (the scheduler does)."""

    shared: SharedCrawl | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # a spider method's function (its __func__) -> its name on self.spider
        self._method_names: dict[Any, str] = {}

    def encode(self, request: Request) -> bytes:
        """``request`` as queued; raises what the serializer raises when it cannot be
        encoded (a callback that is not a spider method: ``ValueError``; pickle)."""
        return self._encode_request(request)

    def _encode_request(self, request: Request) -> bytes:
        """scrapy-redis's encoding (``Request.to_dict(spider=...)``, serialised),
        the same dict, built with :meth:`_method_name`."""
        return self.serializer.dumps(self.to_dict(request))

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

    def push_many_pop(
        self, requests: Sequence[tuple[bytes | None, float, bytes, bool]], pop: int = 0
    ) -> tuple[list[bool], list[tuple[str, Request]]]:
        """Queue ``requests`` (fingerprint or ``None``, score, :meth:`encode`'s bytes,
        force) and lease the ``pop`` best requests, in one round trip
        (:meth:`~crawler.frontier.shared.SharedCrawl.queue_many`): whether each
        fingerprint was added, and the requests popped with their lease fields."""
        assert self.shared is not None
        added, popped = self.shared.queue_many(requests, pop)
        return added, [(field, self._decode_request(data)) for field, data in popped]

    def pop(self, timeout: int = 0) -> Any:
        """A pop without its lease field could never be released: :meth:`push_many_pop`."""
        raise NotImplementedError("LeasedPriorityQueue pops with push_many_pop()")
