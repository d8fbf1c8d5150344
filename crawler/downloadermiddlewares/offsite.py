"""Scrapy's offsite filter, with the start URL's own redirects followed.

A start URL often answers with a redirect to another host (``example.com`` to
``www.example.com``, by HTTP 3xx or ``<meta http-equiv=refresh>``).  Scrapy's
``OffsiteMiddleware`` refuses the redirected request (the start host only is
allowed) and the crawl ends with no page.  :class:`SiteOffsiteMiddleware`
replaces it (``DOWNLOADER_MIDDLEWARES`` order 50, Scrapy's own place):

* a redirect of the start request (``meta["found_via"] == "start"``, which
  Scrapy's redirect middlewares copy to the redirected request, with the hops
  in ``meta["redirect_urls"]``) to another host is followed, and that host is
  added to the spider's ``allowed_domains`` for the rest of the crawl, as a
  person typing the start URL would see that site; logged once per host at
  INFO ("the start URL redirected to HOST; crawling HOST too"), counted in
  ``offsite/start_redirect_hosts``.  Scrapy's filter re-reads
  ``allowed_domains`` when it changes (``OffsiteMiddleware._update_host_regex``).
* a redirect of any other page to another host stays refused, counted in
  ``offsite/redirects_refused`` and logged at INFO once per host with the
  page, the target and the ``--allow-domain HOST`` that would follow it.

With a ``JOBDIR`` the added hosts are kept in the request journal
(:meth:`crawler.journal.RequestJournal.register_state`), so a resumed crawl,
whose start request is done, keeps them.  They are not the crawl's arguments:
the spider lists them in ``start_redirect_domains``, which
:func:`crawler.journal.job_arguments` leaves out of the comparison on resume.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.httpobj import urlparse_cached

from crawler.items import FoundVia
from crawler.journal import RequestJournal

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: The journal state holding the hosts the start URL redirected to (a list).
JOURNAL_STATE = "start_redirect_domains"
#: The spider attribute listing them (added to ``allowed_domains`` too).
SPIDER_ATTRIBUTE = "start_redirect_domains"


class SiteOffsiteMiddleware(OffsiteMiddleware):
    """See the module docstring."""

    def __init__(self, stats: StatsCollector) -> None:
        super().__init__(stats)
        self._refused_hosts: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        middleware = super().from_crawler(crawler)
        crawler.signals.connect(middleware._keep_hosts, signal=signals.spider_opened)
        return middleware

    def _keep_hosts(self, spider: Spider) -> None:
        """Save the added hosts in the job's journal; on resume, add them back."""
        journal = RequestJournal.for_crawler(self.crawler)
        if journal is not None:
            journal.register_state(JOURNAL_STATE, lambda: _added(spider), self._load)

    def _load(self, hosts: Any) -> None:
        assert self.crawler.spider
        for host in hosts or ():
            _add(self.crawler.spider, str(host))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        try:
            super().process_request(request)
        except IgnoreRequest:
            redirects = request.meta.get("redirect_urls")
            host = urlparse_cached(request).hostname
            if not redirects or not host:
                raise
            crawl_spider = self.crawler.spider
            assert crawl_spider
            if request.meta.get("found_via") != FoundVia.START:
                self._refused(redirects[-1], request.url, host)
                raise
            if not _add(crawl_spider, host):
                return
            self.stats.inc_value("offsite/start_redirect_hosts")
            logger.info(
                "the start URL redirected to %s; crawling %s too",
                host,
                host,
                extra={"spider": crawl_spider},
            )

    def _refused(self, source: str, target: str, host: str) -> None:
        self.stats.inc_value("offsite/redirects_refused")
        if host in self._refused_hosts:
            return
        self._refused_hosts.add(host)
        logger.info(
            "Not following the redirect of %s to %s: another host (--allow-domain %s follows it)",
            source,
            target,
            host,
            extra={"spider": self.crawler.spider},
        )


def _added(spider: Spider) -> list[str]:
    return list(getattr(spider, SPIDER_ATTRIBUTE, ()))


def _add(spider: Spider, host: str) -> bool:
    """Allow ``host`` for the rest of the crawl (``allowed_domains``); False if it
    was added before."""
    added = _added(spider)
    if host in added:
        return False
    setattr(spider, SPIDER_ATTRIBUTE, [*added, host])
    domains = list(getattr(spider, "allowed_domains", None) or [])
    if domains and host not in domains:
        spider.allowed_domains = [*domains, host]  # type: ignore[attr-defined]
    return True
