"""Crawler traps: the URLs a site crawl refuses to follow, and the session ids it drops.

A trap is a part of a site that makes new URLs without end: a calendar whose
"next month" link never stops, a session id written into every link (each
page then has endless URLs), a relative link that nests a directory in itself
(``/a/b/a/b/a/b/...``), a URL that grows on every page.  The site spider asks
:class:`TrapGuard` about every link a page led to before requesting it
(:meth:`TrapGuard.clean`, then :meth:`TrapGuard.refusal`):

* session ids are removed from the URL (:func:`strip_session_ids`): the query
  parameters and ``;name=value`` path parameters named in
  :data:`SESSION_ID_NAMES` or ``CRAWLER_SESSION_ID_NAMES``, and ASP.NET's
  cookieless ``/(S(...))/`` path segments; counted in ``crawler/traps/session_id``;
* a URL longer than ``CRAWLER_MAX_URL_LENGTH`` characters is refused
  (``url_too_long``);
* a URL whose path has a run of segments more than ``CRAWLER_MAX_PATH_REPEATS``
  times in a row is refused (``repeated_segments``; :func:`repeated_run`);
* a URL whose pattern (:func:`url_pattern`: the URL with numbers and ids
  replaced, the query's keys sorted) already had
  ``CRAWLER_MAX_PAGES_PER_PATTERN`` different URLs followed on its host is
  refused (``pattern_budget``): a calendar's ten thousand months are one pattern.

Each refusal is counted in ``crawler/traps/<kind>`` and its reason
(``"<kind>: ..."``) is what the spider stores with the link (``links.refused``).
A budget of 0 turns its rule off.  With a job directory the URLs each pattern
followed are kept in the request journal, so a resumed crawl goes on with the
budgets where they were (:mod:`crawler.journal`).

What a budget cuts is also a real site's long list (a catalogue of 5,000
``/item/N`` pages is one pattern): the first time a pattern reaches its budget
a warning names the pattern and the setting that raises it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

from scrapy import signals
from w3lib.url import canonicalize_url

from crawler.exceptions import ConfigError
from crawler.journal import RequestJournal
from crawler.utils.lru import Lru

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

JOURNAL_NAME = "traps/followed"  # the request journal's sets: pattern -> URLs followed

#: Query and path parameter names (case-insensitive) that carry a session id;
#: a trailing ``*`` matches names that start with the rest (IIS's
#: ``ASPSESSIONIDQQGGQGPG``).
SESSION_ID_NAMES = ("jsessionid", "phpsessid", "sid", "sessionid", "aspsessionid*")

_PATH_PARAM = re.compile(r";([^;/?#=]*)=[^;/?#]*")
# ASP.NET cookieless state: a whole segment such as (S(lit3py55t21z5v55vlm25s55)),
# or several of (A(...)), (S(...)), (F(...)) together.
_ASPNET_SEGMENT = re.compile(r"\((?:[A-Za-z]\([^()/]*\))+\)")
# Runs of hex digits (8 or more, holding a digit; UUIDs included) are ids, then any digits.
_HEX_RUN = re.compile(r"[0-9A-Fa-f]{8,}(?:-[0-9A-Fa-f]{4,})*")
_DIGITS = re.compile(r"\d+")
_NAME_CHARS = re.compile(r"[^\s=&;/?#]+\*?")


class TrapConfigError(ConfigError):
    """A trap setting that cannot be used (a session id name that is not a name)."""


@dataclass(frozen=True)
class TrapConfig:
    max_pages_per_pattern: int  # 0: off
    max_url_length: int  # characters; 0: off
    max_path_repeats: int  # 0: off
    session_id_names: tuple[str, ...]  # lower case; a trailing * matches a prefix

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        names = list(SESSION_ID_NAMES)
        for name in settings.getlist("CRAWLER_SESSION_ID_NAMES"):
            if not _NAME_CHARS.fullmatch(name):
                raise TrapConfigError(
                    f"CRAWLER_SESSION_ID_NAMES takes parameter names such as sid or "
                    f"aspsessionid* (a trailing * matches a prefix), not {name!r}"
                )
            names.append(name.lower())
        return cls(
            max_pages_per_pattern=settings.getint("CRAWLER_MAX_PAGES_PER_PATTERN"),
            max_url_length=settings.getint("CRAWLER_MAX_URL_LENGTH"),
            max_path_repeats=settings.getint("CRAWLER_MAX_PATH_REPEATS"),
            session_id_names=tuple(dict.fromkeys(names)),
        )


def _is_session_name(name: str, names: Sequence[str]) -> bool:
    name = unquote(name).strip().lower()
    if not name:
        return False
    for known in names:
        if known.endswith("*"):
            if name.startswith(known[:-1]):
                return True
        elif name == known:
            return True
    return False


def strip_session_ids(url: str, names: Sequence[str] = SESSION_ID_NAMES) -> str:
    """``url`` without its session ids: query parameters and ``;name=value`` path
    parameters whose name is in ``names`` (case-insensitive, a trailing ``*``
    matches a prefix), and ASP.NET cookieless ``(S(...))`` path segments.  The
    rest of the URL is kept byte for byte (w3lib's ``url_query_cleaner`` matches
    query names exactly and leaves path parameters alone); ``url`` itself when
    there is nothing to remove."""
    if ";" not in url and "(" not in url and "=" not in url:
        return url
    parts = urlsplit(url)
    path = _PATH_PARAM.sub(
        lambda m: "" if _is_session_name(m.group(1), names) else m.group(0), parts.path
    )
    if "(" in path:
        segments = path.split("/")
        path = "/".join(s for s in segments if not _ASPNET_SEGMENT.fullmatch(s))
        if not path.startswith("/"):
            path = "/" + path
    query = parts.query
    if query:
        pairs = query.split("&")
        kept = [p for p in pairs if not _is_session_name(p.partition("=")[0], names)]
        if len(kept) != len(pairs):
            query = "&".join(kept)
    if path == parts.path and query == parts.query:
        return url
    return urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))


def _shape(text: str) -> str:
    """``text`` with hex ids as ``{id}`` and numbers as ``{n}``."""
    text = _HEX_RUN.sub(
        lambda m: "{id}" if any(c.isdigit() for c in m.group(0)) else m.group(0), text
    )
    return _DIGITS.sub("{n}", text)


def url_pattern(url: str) -> str:
    """The shape of ``url`` that a trap's URLs share: scheme and host, the path
    with numbers and hex ids replaced in each segment, and the query's
    ``key=value`` pairs sorted by key with the same replacement in the values;
    no fragment.  ``http://h/cal/2024/05?month=5&y=2`` ->
    ``http://h/cal/{n}/{n}?month={n}&y={n}``."""
    parts = urlsplit(url)
    path = "/".join(_shape(segment) for segment in parts.path.split("/"))
    pairs = sorted(
        (key, _shape(value))
        for key, _, value in (p.partition("=") for p in parts.query.split("&") if p)
    )
    query = "&".join(f"{key}={value}" for key, value in pairs)
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, query, ""))


def repeated_run(path: str, max_repeats: int) -> list[str] | None:
    """The run of segments that ``path`` has more than ``max_repeats`` times in a
    row (``/x/a/b/a/b/a/b`` with 2 -> ``["a", "b"]``), the shortest first; ``None``
    if none has.  Empty segments are ignored; O(segments²)."""
    segments = [s for s in path.split("/") if s]
    needed = max_repeats + 1
    for size in range(1, len(segments) // needed + 1):
        # size segments repeated `needed` times in a row: segments[i] == segments[i + size]
        # for size * max_repeats positions i in a row.
        run = 0
        for i in range(len(segments) - size):
            if segments[i] == segments[i + size]:
                run += 1
                if run >= size * max_repeats:
                    start = i - run + 1
                    return segments[start : start + size]
            else:
                run = 0
    return None


#: URLs whose trap facts a guard remembers: about 500 bytes each with URLs of 80
#: characters (the URL, its pattern and canonical form), 5 MB.
FACTS_CACHE_SIZE = 10_000


class TrapCheck(NamedTuple):
    kind: str  # url_too_long | repeated_segments | pattern_budget
    reason: str  # "<kind>: ..." as stored with the link


class TrapGuard:
    """``url = guard.clean(url)``; ``guard.refusal(url)`` before requesting it."""

    def __init__(self, config: TrapConfig, crawler: Crawler) -> None:
        self.config = config
        self.crawler = crawler  # its stats exist once the crawl starts
        # pattern -> canonical URLs followed (at most max_pages_per_pattern each)
        self._followed: dict[str, set[str]] = {}
        self._logged_kinds: set[str] = set()
        self._spent_patterns: set[str] = set()
        self._journal: RequestJournal | None = None
        # URL -> (refusal by the URL alone, pattern, canonical URL): _url_facts
        self._facts: Lru[str, tuple[TrapCheck | None, str, str]] = Lru(FACTS_CACHE_SIZE)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        guard = cls(TrapConfig.from_settings(crawler.settings), crawler)
        crawler.signals.connect(guard.spider_opened, signal=signals.spider_opened)
        return guard

    def spider_opened(self) -> None:
        """With a job directory: the budgets spent before a resume, and keep them."""
        self._journal = RequestJournal.for_crawler(self.crawler)
        if self._journal is not None and self._journal.resuming:
            for pattern, urls in self._journal.remembered(JOURNAL_NAME).items():
                self._followed.setdefault(pattern, set()).update(urls)

    def clean(self, url: str) -> str:
        """``url`` without session ids (counted in ``crawler/traps/session_id``)."""
        cleaned = strip_session_ids(url, self.config.session_id_names)
        if cleaned != url:
            self.crawler.stats.inc_value("crawler/traps/session_id")
        return cleaned

    def refusal(self, url: str) -> str | None:
        """Why ``url`` is not followed (``"<kind>: ..."``), counted in
        ``crawler/traps/<kind>``; ``None``: follow it (it now counts in its
        pattern's budget)."""
        check = self._check(url)
        if check is None:
            return None
        self.crawler.stats.inc_value(f"crawler/traps/{check.kind}")
        if check.kind not in self._logged_kinds:
            self._logged_kinds.add(check.kind)
            logger.info(
                "Not following %s: %s (each such URL is counted in crawler/traps/%s)",
                url[:200],
                check.reason,
                check.kind,
            )
        else:
            logger.debug("Not following %s: %s", url[:200], check.reason)
        return check.reason

    def _check(self, url: str) -> TrapCheck | None:
        facts = self._facts.get(url)
        if facts is None:
            facts = self._url_facts(url)
            self._facts.put(url, facts)
        static, pattern, key = facts
        if static is not None:
            return static
        if self.config.max_pages_per_pattern:
            return self._budget(pattern, key, self.config.max_pages_per_pattern)
        return None

    def _url_facts(self, url: str) -> tuple[TrapCheck | None, str, str]:
        """What :meth:`_check` needs of ``url`` alone: its refusal by length or
        repeated segments, else its pattern and canonical form for the budget
        (empty without one).  Remembered for the last :data:`FACTS_CACHE_SIZE`
        URLs: a site's menu links are checked on every page."""
        config = self.config
        if config.max_url_length and len(url) > config.max_url_length:
            return (
                TrapCheck(
                    "url_too_long",
                    f"url_too_long: {len(url)} characters, more than "
                    f"CRAWLER_MAX_URL_LENGTH={config.max_url_length}",
                ),
                "",
                "",
            )
        if config.max_path_repeats:
            run = repeated_run(urlsplit(url).path, config.max_path_repeats)
            if run is not None:
                return (
                    TrapCheck(
                        "repeated_segments",
                        f"repeated_segments: {'/'.join(run)!r} more than "
                        f"CRAWLER_MAX_PATH_REPEATS={config.max_path_repeats} times in a row",
                    ),
                    "",
                    "",
                )
        if config.max_pages_per_pattern:
            return None, url_pattern(url), canonicalize_url(url)
        return None, "", ""

    def _budget(self, pattern: str, key: str, budget: int) -> TrapCheck | None:
        followed = self._followed.setdefault(pattern, set())
        if key in followed:
            return None  # already followed: the duplicate filter's business
        if len(followed) < budget:
            followed.add(key)
            if self._journal is not None:
                self._journal.remember(JOURNAL_NAME, pattern, key)
            return None
        if pattern not in self._spent_patterns:
            self._spent_patterns.add(pattern)
            logger.warning(
                "%d URLs of the pattern %s were followed: no more are "
                "(CRAWLER_MAX_PAGES_PER_PATTERN=%d; 0 turns the budget off)",
                budget,
                pattern,
                budget,
            )
        return TrapCheck(
            "pattern_budget",
            f"pattern_budget: {budget} URLs of {pattern} already followed "
            f"(CRAWLER_MAX_PAGES_PER_PATTERN={budget})",
        )
