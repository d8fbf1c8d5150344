"""``LoginMiddleware``: log in before the first request, and again when the session expires.

Enabled at 650 in ``crawler/settings.py``: after ``RedirectMiddleware`` (600)
for requests, before ``CookiesMiddleware`` (700), so a request that waited
for the login leaves with the new session cookie; and for responses it sees a
redirect to the login page before ``RedirectMiddleware`` follows it.

The login's own requests go through ``engine.download_async`` and so through
every downloader middleware: Scrapy's cookies and redirect middlewares apply,
and the session lands in Scrapy's cookie jar (the default one; requests with
a ``cookiejar`` meta key do not share it).  Modes (``CRAWLER_LOGIN_WITH``):

* ``http``: GET the login page, submit its login form (hidden CSRF fields
  carried) with a ``FormRequest``;
* ``browser``: render the login page with ``Fill``/``Click`` actions
  (:mod:`crawler.login.browser`); the browser's cookies come back as
  ``Set-Cookie`` headers that the jar merges, so the rest of the crawl runs
  over plain HTTP (rendering only where ``CRAWLER_RENDER`` says);
* ``auto``: HTTP, then the browser if HTTP found no login form or failed.

A failed login logs an error naming the login URL and closes the spider with
the finish reason ``login_failed``; no page is requested without a session.

Per-request meta keys: ``login_request`` (set on the login's own requests:
they pass untouched), ``dont_relogin`` (a response that lands on the login page
is returned as it is).  Requests without a callback (``robots.txt``) do not
wait for the login.  Logout URLs are kept out by
:class:`~crawler.login.logout.LogoutGuardMiddleware`.

Stats: ``login/logins`` (successful logins, re-logins included),
``login/relogins``, ``login/failures``, ``login/expired_responses`` (responses
that were the login page and were retried), ``login/expired_again`` (retried
responses that were the login page again: kept as they are),
``login/relogins_refused`` (after ``CRAWLER_LOGIN_MAX_RELOGINS`` re-logins in a
row that brought no page back), ``login/http_fallbacks`` (auto mode used the
browser).  A re-login that fails stops the crawl like a failed first login.
"""

from __future__ import annotations

import logging
import os
from contextlib import suppress
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import FormRequest, TextResponse
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import Deferred

from crawler import redaction
from crawler.browser.rendered import is_rendered
from crawler.browser.request import BrowserRequest
from crawler.childenv import PROMPT_ENV
from crawler.exceptions import LoginError
from crawler.login.browser import login_actions
from crawler.login.check import login_problem, same_page, scrub
from crawler.login.config import LoginConfig, login_config
from crawler.login.cookies import crawl_cookie_jar
from crawler.login.form import find_login_form

if TYPE_CHECKING:
    from http.cookiejar import Cookie, CookieJar
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

LOGIN_META = "login_request"
FAILED_REASON = "login_failed"
_REDIRECTS = (301, 302, 303, 307, 308)

CookieKey = tuple[str, str, str]  # domain, path, name


class LoginMiddleware:
    def __init__(self, crawler: Crawler, config: LoginConfig) -> None:
        self.crawler = crawler
        self.config = config
        self.stats = crawler.stats
        self.generation = 0  # successful logins so far; requests remember the one they left with
        self.error: LoginError | None = None
        self._busy = False
        self._waiters: list[Deferred[None]] = []
        self._fruitless = 0  # re-logins since a retried request last got a page
        self._session_cookies: list[CookieKey] = []  # what the last login put in the jar
        self._task: Deferred[None] | None = None
        redaction.MASKER.add(config.password)
        redaction.install()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        config = login_config(settings)
        if config is None:
            raise NotConfigured  # no login: off without a message, so no warning in every crawl
        if settings.get("CRAWLER_LOGIN_PASSWORD_ENV") == PROMPT_ENV:
            # Typed at crawler crawl's prompt: no browser or other child process inherits it.
            os.environ.pop(PROMPT_ENV, None)
        if settings.getbool("COOKIES_DEBUG"):
            logger.warning("COOKIES_DEBUG is on during a login crawl: cookie values are masked")
        middleware = cls(crawler, config)
        crawler.signals.connect(middleware.engine_started, signal=signals.engine_started)
        return middleware

    def engine_started(self) -> None:
        redaction.install()  # in case a handler was added after from_crawler

    # -- the request side ----------------------------------------------------

    async def process_request(self, request: Request) -> None:
        if request.meta.get(LOGIN_META):
            return
        if request.callback is not NO_CALLBACK and not await self.ensure_login():
            raise IgnoreRequest(f"not requesting {request.url}: {self.error}")
        request.meta["login_generation"] = self.generation

    async def ensure_login(self) -> bool:
        """Log in unless logged in (or logging in); whether the crawl has a session."""
        if self.generation == 0 and not self._busy and self.error is None:
            self._start_login(relogin=False)
        while self._busy:
            waiter: Deferred[None] = Deferred()
            self._waiters.append(waiter)
            await maybe_deferred_to_future(waiter)
        return self.error is None

    # -- the response side ---------------------------------------------------

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if (
            request.meta.get(LOGIN_META)
            or request.meta.get("dont_relogin")
            or self.generation == 0
            or self.error is not None
        ):
            return response
        retries = request.meta.get("login_retries", 0)
        if not self._sent_to_login(request, response):
            if retries and not same_page(response.url, self.config.url):
                self._fruitless = 0  # a re-login brought a page back
            return response
        if retries >= 1:
            # Not an expiry, then: this page wants another account (or no robot).
            self.stats.inc_value("login/expired_again")
            logger.warning(
                "%s still leads to the login page after a fresh login; keeping that response",
                request.url,
            )
            return response
        left_with = request.meta.get("login_generation", self.generation)
        if left_with >= self.generation and not self._busy:
            if self._fruitless >= self.config.max_relogins:
                self.stats.inc_value("login/relogins_refused")
                if self._fruitless == self.config.max_relogins:
                    self._fruitless += 1  # warn once
                    logger.warning(
                        "%d re-logins in a row brought no page back "
                        "(CRAWLER_LOGIN_MAX_RELOGINS); not logging in again",
                        self.config.max_relogins,
                    )
                return response
            self._fruitless += 1
            logger.info(
                "The session expired (%s was sent to the login page); logging in again",
                request.url,
            )
            self._start_login(relogin=True)
        self.stats.inc_value("login/expired_responses")
        retry = request.replace(dont_filter=True)
        retry.meta["login_retries"] = retries + 1
        retry.meta.pop("login_generation", None)
        retry.headers.pop(b"Cookie", None)
        return retry

    def _sent_to_login(self, request: Request, response: Response) -> bool:
        login_url = self.config.url
        if response.status in _REDIRECTS:
            location = response.headers.get(b"Location")
            if not location:
                return False
            return same_page(urljoin(response.url, location.decode("latin-1")), login_url)
        return same_page(response.url, login_url) and not same_page(request.url, login_url)

    # -- logging in ----------------------------------------------------------

    def _start_login(self, relogin: bool) -> None:
        self._busy = True
        self._task = deferred_from_coro(self._login(relogin))

    async def _login(self, relogin: bool) -> None:
        try:
            jar = crawl_cookie_jar(self.crawler)
            if relogin:
                self._forget_session(jar)
            before = {_key(c): c.value for c in jar}
            how = await self._attempt()
            self._learn_session(jar, before)
            self.generation += 1
            self.stats.inc_value("login/logins")
            if relogin:
                self.stats.inc_value("login/relogins")
            logger.info("Logged in at %s (%s)%s", self.config.url, how, " again" if relogin else "")
        except LoginError as e:
            self._fail(e)
        except Exception as e:  # a download error, robots.txt, a closed engine
            reason = scrub(f"{type(e).__name__}: {e}", self.config.password)
            self._fail(LoginError(self.config.url, reason))
        finally:
            self._busy = False
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter.callback(None)

    async def _attempt(self) -> str:
        mode = self.config.login_with
        if mode == "http":
            await self._login_http()
            return "over HTTP"
        if mode == "browser":
            await self._login_browser()
            return "in the browser"
        try:
            await self._login_http()
            return "over HTTP"
        except LoginError as http_error:
            logger.info("Login over HTTP failed (%s); trying the browser", http_error.reason)
            self.stats.inc_value("login/http_fallbacks")
            try:
                await self._login_browser()
            except LoginError as browser_error:
                raise LoginError(
                    self.config.url,
                    f"over HTTP: {http_error.reason}; in the browser: {browser_error.reason}",
                ) from None
            return "in the browser, after HTTP failed"

    def _meta(self) -> dict[str, object]:
        return {LOGIN_META: True, "dont_obey_robotstxt": True, "allow_offsite": True}

    async def _download(self, request: Request) -> Response:
        return await self.crawler.engine.download_async(request)

    async def _login_http(self) -> None:
        url = self.config.url
        page = await self._download(
            Request(url, callback=NO_CALLBACK, meta=self._meta(), dont_filter=True)
        )
        if page.status >= 400:
            raise LoginError(url, f"the login page answered HTTP {page.status}")
        if not isinstance(page, TextResponse):
            raise LoginError(url, "the login page is not HTML")
        form = find_login_form(
            page.text, page.url, self.config.username_field, self.config.password_field
        )
        if form is None:
            raise LoginError(
                url,
                "the page has no form with a password field to submit over HTTP "
                "(a login made by JavaScript needs --login-with browser)",
            )
        if form.username_field is None:
            raise LoginError(
                url,
                "no username field found in the login form; name it with "
                "CRAWLER_LOGIN_USERNAME_FIELD",
            )
        submit = FormRequest(
            form.action,
            method=form.method,
            formdata=form.submission(self.config.username, self.config.password),
            headers={"Referer": page.url},
            callback=NO_CALLBACK,
            meta=self._meta(),
            dont_filter=True,
        )
        result = await self._download(submit)
        self._check(result)

    async def _login_browser(self) -> None:
        request = BrowserRequest(
            self.config.url,
            actions=login_actions(self.config),
            wait_timeout=self.config.timeout,
            callback=NO_CALLBACK,
            meta={**self._meta(), "dont_retry": True},
            dont_filter=True,
        )
        result = await self._download(request)
        if not is_rendered(result):
            raise LoginError(
                self.config.url,
                "the login page was not rendered: the browser is disabled "
                "(SELENIUM_ENABLED) or its middleware is not in DOWNLOADER_MIDDLEWARES",
            )
        self._check(result)

    def _check(self, response: Response) -> None:
        html = response.text if isinstance(response, TextResponse) else ""
        problem = login_problem(self.config, response.url, response.status, html)
        if problem is not None:
            raise LoginError(self.config.url, scrub(problem, self.config.password))

    # -- the session's cookies -----------------------------------------------

    def _learn_session(self, jar: CookieJar, before: dict[CookieKey, str | None]) -> None:
        """The cookies the login set or changed are the session: mask them, forget them later."""
        self._session_cookies = [_key(c) for c in jar if before.get(_key(c), object()) != c.value]
        redaction.MASKER.add(*(c.value for c in jar if _key(c) in self._session_cookies))

    def _forget_session(self, jar: CookieJar) -> None:
        """Drop the expired session's cookies, so the new login does not send them along."""
        for domain, path, name in self._session_cookies:
            with suppress(KeyError):
                jar.clear(domain, path, name)
        self._session_cookies = []

    def _fail(self, error: LoginError) -> None:
        if self.error is not None:
            return
        self.error = error
        self.stats.inc_value("login/failures")
        self.stats.set_value("login/error", str(error))
        logger.error("%s; stopping the crawl", error)
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=FAILED_REASON))


def _key(cookie: Cookie) -> CookieKey:
    return (cookie.domain, cookie.path, cookie.name)


def find_login_middleware(crawler: Crawler) -> LoginMiddleware | None:
    """The crawl's login middleware, or ``None`` when no login is configured."""
    for middleware in crawler.engine.downloader.middleware.middlewares:
        if isinstance(middleware, LoginMiddleware):
            return middleware
    return None
