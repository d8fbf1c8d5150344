"""Scrapy's ``CookiesMiddleware``, keeping ``Domain=localhost`` cookies as the browser does.

A server at ``http://localhost:8000/`` that answers ``Set-Cookie: s=1;
Domain=localhost`` gets the cookie back from Chromium (measured: Chromium
keeps it as a host-only cookie of ``localhost``; ``Domain=.localhost`` and
``Domain=LOCALHOST`` too, and ``Domain=127.0.0.1`` from ``http://127.0.0.1/``),
but not from Scrapy: Python's ``http.cookiejar``, which Scrapy's jar wraps,
files the cookie under ``.localhost`` and then never sends it, because it
names a request host without a dot ``localhost.local`` (RFC 2965's effective
host name) and ``.localhost.local`` is not within ``.localhost``.  (An IP
address works already: ``.127.0.0.1`` matches ``127.0.0.1``.)

The rule the browser follows is RFC 6265, 5.3 (Storage Model), step 5: a
``Domain`` that is a public suffix, or here a host without a registrable
domain, and is identical to the request host, makes a host-only cookie
(Chromium: ``cookie_util::GetCookieDomainWithString``).
:class:`BrowserCookiePolicy` applies it to hosts without a dot: such a cookie
is filed as the jar files one without a ``Domain`` (host-only, under the
effective host name), so it goes back to that host only, never to
``other.localhost``.  Every other rule is ``http.cookiejar.DefaultCookiePolicy``'s.
:class:`BrowserCookiesMiddleware` gives every jar (``cookiejar`` meta keys
included) that policy; it replaces Scrapy's middleware at 700 in
:mod:`crawler.settings`.

Offline: Scrapy's middleware asks ``tldextract`` whether a cookie's ``Domain``
is a public suffix, through a module-level ``TLDExtract()`` with tldextract's
defaults, which downloads the Public Suffix List from the internet on first use
(and caches it under ``~/.cache``); on a machine without internet that is a
dozen logged tracebacks per crawl, and on any machine a connection nobody asked
for.  :class:`BrowserCookiesMiddleware` asks an extractor that reads only the
snapshot bundled with tldextract (``suffix_list_urls=()``, ``cache_dir=None``,
``fallback_to_snapshot=True``: tldextract's documented way, ``TLDExtract``'s
docstring), with the same ``include_psl_private_domains=True``.
"""

from __future__ import annotations

from collections import defaultdict
from http.cookiejar import DefaultCookiePolicy, eff_request_host
from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.cookies import CookiesMiddleware
from scrapy.http.cookies import CookieJar
from scrapy.utils.httpobj import urlparse_cached
from tldextract import TLDExtract

if TYPE_CHECKING:
    from collections.abc import Iterable
    from http.cookiejar import Cookie
    from urllib.request import Request as UrllibRequest

    from scrapy import Request


class BrowserCookiePolicy(DefaultCookiePolicy):
    def set_ok_domain(self, cookie: Cookie, request: UrllibRequest) -> bool:
        if cookie.domain_specified:
            req_host, erhn = eff_request_host(request)
            domain = cookie.domain.removeprefix(".").lower()
            if "." not in domain and domain == req_host:
                # RFC 6265, 5.3 step 5: the Domain is the request host itself and
                # no registrable domain: a host-only cookie, filed as one.
                cookie.domain = erhn
                cookie.domain_specified = False
                cookie.domain_initial_dot = False
        return super().set_ok_domain(cookie, request)


#: The Public Suffix List as bundled with tldextract: never fetched, never cached.
_split_domain = TLDExtract(
    cache_dir=None,
    suffix_list_urls=(),
    fallback_to_snapshot=True,
    include_psl_private_domains=True,
)


def is_public_domain(domain: str) -> bool:
    """Whether ``domain`` (``co.uk``, ``github.io``) has no registrable domain of
    its own, by the bundled Public Suffix List (private domains included, as Scrapy's)."""
    return not _split_domain(domain).domain


def _browser_jar() -> CookieJar:
    return CookieJar(policy=BrowserCookiePolicy())


class BrowserCookiesMiddleware(CookiesMiddleware):
    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self.jars: defaultdict[Any, CookieJar] = defaultdict(_browser_jar)

    def _process_cookies(
        self, cookies: Iterable[Cookie], *, jar: CookieJar, request: Request
    ) -> None:
        """Scrapy's (2.19), with the offline public-suffix check (module docstring):
        a cookie whose ``Domain`` is a public suffix is kept for the request host
        only when it is that host, as browsers do (RFC 6265, 5.3 step 5)."""
        for cookie in cookies:
            cookie_domain = cookie.domain.removeprefix(".")
            hostname = urlparse_cached(request).hostname
            if hostname is None:
                continue
            request_domain = hostname.lower()
            if cookie_domain and is_public_domain(cookie_domain):
                if cookie_domain != request_domain:
                    continue
                cookie.domain = request_domain
            jar.set_cookie_if_ok(cookie, request)
