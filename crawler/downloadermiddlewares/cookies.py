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
"""

from __future__ import annotations

from collections import defaultdict
from http.cookiejar import DefaultCookiePolicy, eff_request_host
from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.cookies import CookiesMiddleware
from scrapy.http.cookies import CookieJar

if TYPE_CHECKING:
    from http.cookiejar import Cookie
    from urllib.request import Request as UrllibRequest


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


def _browser_jar() -> CookieJar:
    return CookieJar(policy=BrowserCookiePolicy())


class BrowserCookiesMiddleware(CookiesMiddleware):
    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self.jars: defaultdict[Any, CookieJar] = defaultdict(_browser_jar)
