"""Incremental re-crawls (``CRAWLER_INCREMENTAL``): what the previous run knew, and
what an unchanged page hands on.

A re-crawl compares each page with the previous finished run of the same
spider and start URL in the same store (:meth:`PreviousRun.load`).  The
downloader middleware :class:`~crawler.downloadermiddlewares.incremental.IncrementalMiddleware`
sends conditional GETs (RFC 9110, 13.1.1-13.1.3: ``If-None-Match`` from the
stored ``ETag``, ``If-Modified-Since`` from the stored ``Last-Modified``) and
answers a ``304 Not Modified``, or a ``200`` whose body has the stored sha256
digest, with an :class:`UnchangedResponse`: a plain (never parsed)
:class:`~scrapy.http.Response` flagged ``"unchanged"`` that carries the
:class:`PreviousPage`.  A spider that declares ``replays_unchanged = True``
(the site spider) records it with the previous status, content type and title
and follows the previous run's links of the page (the store's ``links``
table); its items are not extracted again.

Only pages that can be replayed are asked about: pages of the previous run
that answered 200 without an error, with a validator or a digest, whose URL has
no fragment (hash routes, POST results) and that led to no form submission
(a form's request cannot be rebuilt from a link: such pages are always
fetched in full).
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy.http import Response

from crawler.items import FoundVia, Link

if TYPE_CHECKING:
    from crawler.storage.sql import SqlStore

FLAG = "unchanged"
# The order a page's links are followed in when replayed: as the spider finds
# them (served HTML, then what a render found, then the other kinds).
_REPLAY_ORDER: dict[str, int] = {
    kind: position
    for position, kind in enumerate(
        (
            FoundVia.LINK,
            FoundVia.SCRIPT,
            FoundVia.TIMER,
            FoundVia.SCROLL,
            FoundVia.EVENT,
            FoundVia.XHR,
            FoundVia.FRAME,
            FoundVia.REL,
            FoundVia.HEADER,
            FoundVia.SITEMAP,
            FoundVia.REDIRECT,
            FoundVia.START,
        )
    )
}


# One stored link: (url, found_via, text).  Tuples of interned strings, not Link
# objects: a whole run's links are held (a URL is linked from many pages).
StoredLink = tuple[str, str, str | None]


def _replay_order(link: StoredLink) -> int:
    return _REPLAY_ORDER.get(link[1], len(_REPLAY_ORDER))


def body_digest(body: bytes) -> str:
    """The sha256 of a body as served (decoded from any ``Content-Encoding``), 64 hex digits."""
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class PreviousPage:
    """A page as the previous run recorded it: its record's fields, validators
    (header values as sent, ``None`` when absent) and digest, and its links."""

    url: str
    final_url: str
    status: int
    content_type: str | None
    title: str | None
    etag: str | None
    last_modified: str | None
    digest: str | None
    stored_links: tuple[StoredLink, ...] = ()

    @property
    def links(self) -> list[Link]:
        """The page's links, in the order they are followed."""
        return [Link(url, found_via, text) for url, found_via, text in self.stored_links]


class UnchangedResponse(Response):
    """A page unchanged since the previous run; its body is empty (never parsed).

    ``previous``: the :class:`PreviousPage`; ``not_modified``: ``True`` for a
    304, ``False`` for a 200 with the previous digest.  ``.replace()`` keeps both.
    """

    attributes: tuple[str, ...] = (*Response.attributes, "previous", "not_modified")

    def __init__(
        self, *args: Any, previous: PreviousPage, not_modified: bool, **kwargs: Any
    ) -> None:
        flags = list(kwargs.pop("flags", None) or [])
        if FLAG not in flags:
            flags.append(FLAG)
        super().__init__(*args, flags=flags, **kwargs)
        self.previous = previous
        self.not_modified = not_modified


def is_unchanged(response: Response) -> bool:
    """Whether ``response`` stands for a page unchanged since the previous run."""
    return isinstance(response, UnchangedResponse)


@dataclass(frozen=True)
class PreviousRun:
    """The previous run's replayable pages, by URL."""

    run_id: int
    pages: dict[str, PreviousPage]

    @classmethod
    def load(
        cls, store: SqlStore, spider: str, start_url: str | None, current: int | None
    ) -> PreviousRun | None:
        """The latest finished run of ``spider`` from ``start_url`` before run
        ``current`` (see :meth:`~crawler.storage.sql.SqlStore.previous_run`), or
        ``None``.  Blocking (database reads); raises
        :class:`~crawler.exceptions.StoreError`."""
        run_id = store.previous_run(spider, start_url, current)
        if run_id is None:
            return None
        links: dict[str, list[StoredLink]] = {}
        with_forms: set[str] = set()
        for source, url, found_via, text in store.link_rows(run_id):
            if found_via == FoundVia.FORM:
                with_forms.add(source)
            stored = (sys.intern(url), sys.intern(found_via), sys.intern(text) if text else None)
            links.setdefault(source, []).append(stored)
        pages = {}
        for row in store.validated_pages(run_id):
            url = row["url"] = sys.intern(row["url"])
            if "#" in url or url in with_forms or row["final_url"] != url:
                continue
            found = sorted(links.get(url, ()), key=_replay_order)
            pages[url] = PreviousPage(**row, stored_links=tuple(found))
        return cls(run_id, pages)
