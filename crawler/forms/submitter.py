"""The forms part of a crawl: discover, decide, deduplicate, count, build requests.

One :class:`FormSubmitter` per crawl.  For every HTML response it finds the
forms, counts them (``forms/found/<kind>``), asks the :class:`FormPolicy`
whether each may be submitted, and yields a request for each that may and has
not been submitted yet, from whatever page (``forms/submitted/<method>``);
every other form is counted with its reason (``forms/skipped/<reason>``:
``login``, ``logout``, ``dialog``, ``scheme``, ``policy``, ``depth``,
``duplicate``).  A form on a rendered page is submitted in the browser
(``forms/submitted_in_browser``) unless it cannot be clicked there
(``forms/browser_fallback/<reason>``); everything else goes over HTTP.

Two submissions are the same when method, action and sorted entries (with the
supplied values) are equal.  A form result is one hop deeper than its page,
so a page at ``DEPTH_LIMIT`` submits nothing (and does not use up the form).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from crawler.browser.rendered import is_rendered
from crawler.forms.discovery import discover_forms
from crawler.forms.policy import FormPolicy
from crawler.forms.submission import browser_blocker, browser_request, http_request

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import TextResponse
    from scrapy.statscollectors import StatsCollector

    from crawler.forms.discovery import HtmlForm

logger = logging.getLogger(__name__)

SubmissionKey = tuple[str, str, tuple[tuple[str, str], ...]]


def submission_key(form: HtmlForm, values: dict[str, str]) -> SubmissionKey:
    return form.method, form.action, tuple(sorted(form.data(values)))


class FormSubmitter:
    def __init__(
        self,
        policy: FormPolicy,
        depth_limit: int = 0,
        browser: bool = True,
        crawler: Crawler | None = None,
    ) -> None:
        self.policy = policy
        self.depth_limit = depth_limit
        self.browser = browser  # False: rendered pages' forms go over HTTP too
        self.crawler = crawler  # for its stats, which exist once the crawl starts
        self._submitted: set[SubmissionKey] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        return cls(
            FormPolicy.from_settings(settings),
            depth_limit=settings.getint("DEPTH_LIMIT"),
            browser=settings.getbool("SELENIUM_ENABLED"),
            crawler=crawler,
        )

    @property
    def stats(self) -> StatsCollector | None:
        return self.crawler.stats if self.crawler is not None else None

    def requests(self, response: TextResponse, **request_kwargs: Any) -> Iterator[Request]:
        """Requests submitting the forms of ``response`` that the policy allows."""
        in_browser = self.browser and is_rendered(response)
        deeper = response.meta.get("depth", 0) + 1
        values = self.policy.values
        for form in discover_forms(response):
            kind = self.policy.kind(form)
            self._count(f"forms/found/{kind}")
            reason = self.policy.refusal(form, kind)
            key = submission_key(form, values)
            if reason is None and self.depth_limit and deeper > self.depth_limit:
                reason = "depth"
            if reason is None and key in self._submitted:
                reason = "duplicate"
            if reason is not None:
                self._count(f"forms/skipped/{reason}")
                logger.debug(
                    "Not submitting %s form %s %s on %s: %s",
                    kind,
                    form.method,
                    form.action,
                    response.url,
                    reason,
                )
                continue
            self._submitted.add(key)
            self._count(f"forms/submitted/{form.method.lower()}")
            blocker = browser_blocker(form, values) if in_browser else None
            if in_browser and blocker is None:
                self._count("forms/submitted_in_browser")
                logger.debug("Submitting form %s %s in the browser", form.method, form.action)
                yield browser_request(form, values, **request_kwargs)
                continue
            if blocker is not None:
                self._count(f"forms/browser_fallback/{blocker}")
            logger.debug("Submitting form %s %s over HTTP", form.method, form.action)
            yield http_request(form, values, response.encoding, **request_kwargs)

    def _count(self, key: str) -> None:
        stats = self.stats
        if stats is not None:
            stats.inc_value(key)
