"""Incremental re-crawls (``CRAWLER_INCREMENTAL``): what the previous run knew, and
what an unchanged page hands on.

A re-crawl compares each page with the **baseline**: the latest run of the same
spider and start URL (canonical, :func:`w3lib.url.canonicalize_url`) in the
same store that finished cleanly (:func:`crawler.storage.sql.finished_cleanly`)
-- if that run crawled with the same options (:func:`crawl_signature`, recorded
in ``runs.settings["incremental"]`` by the store pipeline); otherwise there is
no baseline and every page is fetched in full (:meth:`PreviousRun.load` raises
:class:`NoBaseline` saying why).  The
downloader middleware :class:`~crawler.downloadermiddlewares.incremental.IncrementalMiddleware`
sends conditional GETs (RFC 9110, 13.1.1-13.1.3: ``If-None-Match`` from the
stored ``ETag``, ``If-Modified-Since`` from the stored ``Last-Modified``) and
answers a ``304 Not Modified``, or a ``200`` whose body has the stored sha256
digest, with an :class:`UnchangedResponse`: a plain (never parsed)
:class:`~scrapy.http.Response` flagged ``"unchanged"`` that carries the
:class:`PreviousPage`.  A spider that declares ``replays_unchanged = True``
(the site spider) records it with the previous status, content type and title
and follows the previous run's links of the page (the store's ``links``
table); its items are not extracted again: the extract spider middleware
emits the items the store holds for the page's URL (:attr:`PreviousPage.items`)
as items of this run (stat ``incremental/items_carried``).

Only pages that can be replayed are asked about: pages of the previous run
that answered 200 without an error, with a validator or a digest, whose URL has
no fragment (hash routes, POST results) and that led to no form submission
(a form's request cannot be rebuilt from a link: such pages are always
fetched in full).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy.http import Response
from scrapy.settings import BaseSettings

from crawler.extract.loader import load_spec_sources
from crawler.items import FoundVia, Link
from crawler.storage.rows import canonical_json, json_ready

if TYPE_CHECKING:
    from crawler.extract.spec import ItemSpec
    from crawler.storage.sql import SqlStore

FLAG = "unchanged"
#: The longest ``Last-Modified`` a page record keeps, in characters (the store's
#: ``pages.last_modified`` column).  An HTTP-date is at most 33 (RFC 9110, 5.6.7:
#: the obsolete rfc850-date with the longest day name), so a longer value is no
#: date, and a server ignores an ``If-Modified-Since`` that is not one (RFC
#: 9110, 13.1.3): such a value is not kept (:func:`kept_last_modified`).
LAST_MODIFIED_MAX_LENGTH = 64


def kept_last_modified(value: str | None) -> str | None:
    """A response's ``Last-Modified`` as its page record keeps it: ``value``, or
    ``None`` when it is longer than :data:`LAST_MODIFIED_MAX_LENGTH`."""
    if value is not None and len(value) > LAST_MODIFIED_MAX_LENGTH:
        return None
    return value


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


# What a run must share with the baseline (besides spider and start URL): the
# settings that decide which pages are fetched, rendered and submitted, and so
# what a page's stored links and items are.  A run keeps them in
# runs.settings[SIGNATURE_KEY] (crawler.pipelines.store).
SIGNATURE_KEY = "incremental"
BASELINE_SETTINGS = (
    "CRAWLER_RENDER",
    "CRAWLER_FORMS",
    "CRAWLER_FORM_VALUES",  # as a digest: values can be secrets
    "CRAWLER_SUBMIT_FORMS",
    "CRAWLER_EXPLORE",
    "DEPTH_LIMIT",
)


class NoBaseline(Exception):
    """No run to compare with; the message says why (one line, for the log)."""

    level = logging.INFO


class OptionsChanged(NoBaseline):
    """The latest clean run crawled with other options (or did not record them)."""

    level = logging.WARNING


def spec_digest(spec: ItemSpec) -> str:
    """The sha256 (hex) of a spec's content: its fields, URL pattern, container and
    key, not the file it came from."""
    return hashlib.sha256(repr(dataclasses.replace(spec, source=None)).encode()).hexdigest()


def crawl_signature(
    settings: BaseSettings, allowed_domains: Iterable[str] | None
) -> dict[str, Any]:
    """What an incremental re-crawl requires its baseline to share, JSON-ready:
    the :data:`BASELINE_SETTINGS` (``CRAWLER_FORM_VALUES`` as a sha256 digest),
    the spider's ``allowed_domains`` (sorted) and the extraction specs of
    ``CRAWLER_EXTRACT_SPECS`` as ``[name, spec_digest]`` pairs.  Raises
    :class:`~crawler.extract.exceptions.SpecError` for a bad spec."""
    signature: dict[str, Any] = {}
    for name in BASELINE_SETTINGS:
        value = settings.get(name)
        if isinstance(value, BaseSettings):
            value = value.copy_to_dict()
        signature[name] = json_ready(value)
    values = canonical_json(signature["CRAWLER_FORM_VALUES"] or {})
    signature["CRAWLER_FORM_VALUES"] = hashlib.sha256(values.encode()).hexdigest()
    signature["allowed_domains"] = sorted(set(allowed_domains or ()))
    specs = load_spec_sources(settings.getlist("CRAWLER_EXTRACT_SPECS"))
    signature["extract"] = [[spec.name, spec_digest(spec)] for spec in specs]
    return signature


def signature_changes(previous: Any, current: dict[str, Any]) -> list[str]:
    """The names of the :func:`crawl_signature` entries that differ (sorted)."""
    if not isinstance(previous, dict):
        return []
    return sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))


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
    # The items the store holds for the page's URL, last written by the baseline
    # or a later run: (spec name, data as stored), carried into this run.
    items: tuple[tuple[str, dict[str, Any]], ...] = ()

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
        cls,
        store: SqlStore,
        spider: str,
        start_url: str | None,
        current: int | None,
        signature: dict[str, Any],
    ) -> PreviousRun:
        """The baseline of run ``current`` of ``spider`` from ``start_url``: the
        latest run before it that finished cleanly
        (:meth:`~crawler.storage.sql.SqlStore.previous_run`), if its recorded
        :func:`crawl_signature` equals ``signature``.  Blocking (database reads);
        raises :class:`NoBaseline` (why there is none) or
        :class:`~crawler.exceptions.StoreError`."""
        run_id = store.previous_run(spider, start_url, current)
        if run_id is None:
            raise NoBaseline(f"No run of {spider} from {start_url} finished cleanly in the store")
        row = store.run(run_id) or {}
        recorded = (row.get("settings") or {}).get(SIGNATURE_KEY)
        if recorded is None:
            raise OptionsChanged(
                f"Run {run_id} did not record its crawl options (an older version): "
                "it cannot be compared with"
            )
        changed = signature_changes(recorded, signature)
        if changed:
            raise OptionsChanged(
                f"Run {run_id} crawled with other options ({', '.join(changed)}): "
                "it cannot be compared with"
            )
        links: dict[str, list[StoredLink]] = {}
        with_forms: set[str] = set()
        for source, url, found_via, text in store.link_rows(run_id):
            if found_via == FoundVia.FORM:
                with_forms.add(source)
            stored = (sys.intern(url), sys.intern(found_via), sys.intern(text) if text else None)
            links.setdefault(source, []).append(stored)
        specs = {name for name, _ in signature["extract"]}
        items: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        if specs:
            for item in store.items_since(run_id):
                if item["spec"] in specs:
                    items.setdefault(item["url"], []).append((item["spec"], item["data"]))
        pages = {}
        for page in store.validated_pages(run_id):
            url = page["url"] = sys.intern(page["url"])
            if "#" in url or url in with_forms or page["final_url"] != url:
                continue
            found = sorted(links.get(url, ()), key=_replay_order)
            carried = tuple(items.get(url, ()))
            pages[url] = PreviousPage(**page, stored_links=tuple(found), items=carried)
        return cls(run_id, pages)
