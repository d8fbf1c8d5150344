"""The forms part of a crawl: discover, decide, vary, deduplicate, count, build requests.

One :class:`FormSubmitter` per crawl.  For every HTML response it reads the
forms (a rendered page's from its live document, :mod:`crawler.forms.live`;
others from the HTML, :mod:`crawler.forms.discovery`), counts them
(``forms/found/<kind>``), asks the :class:`FormPolicy` whether each may be
submitted, and yields a request for its default submission and its variants
(:mod:`crawler.forms.variants`) that were not made yet, from whatever page
(``forms/submitted/<method>``, ``forms/variants/submitted``).  Every
submission not made is counted with its reason (``forms/skipped/<reason>``:
``login``, ``logout``, ``dialog``, ``scheme``, ``policy``, ``depth``,
``duplicate``, ``dangerous``, ``variant_budget``, ``repeats``).

A form on a rendered page is submitted in the browser
(``forms/submitted_in_browser``) unless it cannot be clicked there
(``forms/browser_fallback/<reason>``); everything else goes over HTTP.

Identity and repeats are :class:`~crawler.forms.memory.FormMemory`'s: volatile
hidden fields (tokens, ``__VIEWSTATE``, values that change between copies of
one page: ``forms/volatile_learned``) do not make a submission new, and a form
whose results were ``CRAWLER_FORM_MAX_REPEATS`` times a page already seen
(``forms/results_not_new``) is not submitted again (``forms/exhausted``).
A form result is one hop deeper than its page, so a page at ``DEPTH_LIMIT``
submits nothing (and does not use up the form).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lxml import etree

from crawler.browser.rendered import RenderedResponse, is_rendered
from crawler.forms.discovery import discover_forms
from crawler.forms.live import live_forms
from crawler.forms.memory import FormMemory, page_digest
from crawler.forms.policy import FormPolicy
from crawler.forms.submission import (
    META_KEY,
    browser_blocker,
    browser_request,
    http_request,
    missing_required,
)
from crawler.forms.variants import samples, variants
from crawler.safety import matches

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import TextResponse
    from scrapy.statscollectors import StatsCollector

    from crawler.forms.model import HtmlForm

logger = logging.getLogger(__name__)

_TEXT = etree.XPath(
    "//body//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::template)]"
)
_TITLE = etree.XPath("string(//title)")


def read_forms(response: TextResponse) -> list[HtmlForm]:
    """The forms of a response: from the live document when it was rendered and
    read, else from its HTML."""
    if isinstance(response, RenderedResponse) and response.render.live_forms is not None:
        return live_forms(response.render.live_forms, response.url)
    return discover_forms(response)


def response_digest(response: TextResponse) -> bytes | None:
    """:func:`~crawler.forms.memory.page_digest` of an HTML response's title and text."""
    root = response.selector.root
    if not hasattr(root, "xpath"):
        return None
    return page_digest(str(_TITLE(root)), (str(t) for t in _TEXT(root)))


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
        self.memory = FormMemory(policy.max_repeats, policy.volatile_pattern)

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
        forms = read_forms(response)
        submission = response.meta.get(META_KEY)
        digest = response_digest(response) if forms or submission is not None else None
        if digest is not None:
            self._note_page(digest, forms, submission, response.url)
        in_browser = self.browser and is_rendered(response)
        # A page a POST led to cannot be loaded again by its URL: its forms are
        # submitted over HTTP (clicking would need the page, and a GET of its URL
        # is another page).
        reloadable = submission is None or submission.method != "POST"
        deeper = response.meta.get("depth", 0) + 1
        for form in forms:
            kind = self.policy.kind(form)
            self._count(f"forms/found/{kind}")
            reason = self.policy.refusal(form, kind)
            if reason is None and self.depth_limit and deeper > self.depth_limit:
                reason = "depth"
            if reason is None and self.memory.exhausted(form):
                reason = "repeats"
            # The result of submitting this form holds it again (a pager, a refresh,
            # a postback): one more link in a chain that must end.
            chain = 0
            if submission is not None and submission.shape == form.identity():
                chain = submission.chain + 1
            if reason is None and chain >= self.policy.max_chain:
                reason = "chain_budget"
                if chain == self.policy.max_chain:
                    self._count("forms/chains_cut")
                    logger.info(
                        "Form %s %s gave back itself %d times in a row: not following it further",
                        form.method,
                        form.action,
                        chain,
                    )
            if reason is not None:
                self._skip(reason, form, "default", response.url)
                continue
            if in_browser and not reloadable:
                self._count("forms/browser_fallback/page_not_reloadable")
            clicks = in_browser and reloadable
            for request in self._submissions(form, clicks, response.url, request_kwargs):
                made = request.meta[META_KEY]
                request.meta[META_KEY] = replace(made, page_digest=digest, chain=chain)
                yield request

    def _submissions(
        self, form: HtmlForm, in_browser: bool, page_url: str, request_kwargs: dict[str, Any]
    ) -> Iterator[Request]:
        policy, memory = self.policy, self.memory
        values = dict(policy.values)
        if policy.samples_for(form):
            values.update(samples(form, values))
        shape = form.identity()
        for variant in variants(form, values, policy.danger):
            if variant.dangerous:
                self._skip("dangerous", form, variant.label, page_url)
                continue
            how = form.submission(variant.submitter)
            novalidate = form.novalidate or (
                variant.submitter is not None and variant.submitter.formnovalidate
            )
            if not novalidate and missing_required(form, variant.values):
                # A browser refuses to submit it (constraint validation) until a user
                # types something: samples do that for forms the user opened up.
                self._skip("required_empty", form, variant.label, page_url)
                continue
            if matches(policy.danger, urls=[how.action]):  # /items/delete, /unsubscribe
                self._skip("dangerous", form, variant.label, page_url)
                continue
            if how.method == "DIALOG":  # formmethod="dialog": closes a dialog, sends nothing
                self._skip("dialog", form, variant.label, page_url)
                continue
            if not policy.allows_method(how.method, how.action):
                self._skip("policy", form, variant.label, page_url)
                continue
            if urlsplit(how.action).scheme not in ("http", "https"):
                self._skip("scheme", form, variant.label, page_url)
                continue
            entries = form.entries_for(variant.submitter, variant.values)
            if memory.seen(form, how, entries):
                self._skip("duplicate", form, variant.label, page_url)
                continue
            if not variant.is_default:
                if memory.variants_used[shape] >= policy.max_variants:
                    self._skip("variant_budget", form, variant.label, page_url)
                    continue
                memory.variants_used[shape] += 1
                self._count("forms/variants/submitted")
            memory.remember(form, how, entries)
            self._count(f"forms/submitted/{how.method.lower()}")
            kwargs = dict(request_kwargs)
            blocker = (
                browser_blocker(form, variant.values, variant.submitter) if in_browser else None
            )
            if in_browser and blocker is None:
                self._count("forms/submitted_in_browser")
                logger.debug(
                    "Submitting form %s %s (%s) in the browser",
                    how.method,
                    how.action,
                    variant.label,
                )
                yield browser_request(
                    form, variant.values, variant.submitter, variant.label, **kwargs
                )
                continue
            if blocker is not None:
                self._count(f"forms/browser_fallback/{blocker}")
            logger.debug(
                "Submitting form %s %s (%s) over HTTP", how.method, how.action, variant.label
            )
            yield http_request(form, variant.values, variant.submitter, variant.label, **kwargs)

    def _note_page(self, digest: bytes, forms: list[HtmlForm], submission: Any, url: str) -> None:
        """Count a form result that is no new page against its form; learn volatile
        fields from a result that is a copy of the form's own page."""
        new = self.memory.page(digest)
        if submission is None or submission.shape is None:
            return
        if not new:
            self._count("forms/results_not_new")
            if self.memory.fruitless(submission.shape):
                self._count("forms/exhausted")
                logger.info(
                    "Form %s %s led %d times to no new page: not submitting it again",
                    submission.method,
                    submission.action,
                    self.policy.max_repeats,
                )
        if submission.page_digest == digest:
            learned = self.memory.learn(submission.shape, submission.entries, forms)
            if learned:
                self._count("forms/volatile_learned", len(learned))
                logger.debug("Volatile form fields on %s: %s", url, ", ".join(learned))

    def _skip(self, reason: str, form: HtmlForm, variant: str, page_url: str) -> None:
        self._count(f"forms/skipped/{reason}")
        logger.debug(
            "Not submitting form %s %s (%s) on %s: %s",
            form.method,
            form.action,
            variant,
            page_url,
            reason,
        )

    def _count(self, key: str, count: int = 1) -> None:
        stats = self.stats
        if stats is not None:
            stats.inc_value(key, count)
