"""crawler.downloadermiddlewares.cookies: a Domain=localhost cookie comes back, as in Chromium."""

from __future__ import annotations

import pytest
from scrapy import Request, Spider
from scrapy.downloadermiddlewares.cookies import CookiesMiddleware
from scrapy.http import Response
from scrapy.http.cookies import CookieJar
from scrapy.utils.test import get_crawler

from crawler.downloadermiddlewares.cookies import BrowserCookiePolicy, BrowserCookiesMiddleware


def _sent(jar: CookieJar, set_on: str, domain: str | None, sent_to: str) -> bytes | None:
    url = f"http://{set_on}:8080/a"
    scope = f"; Domain={domain}" if domain else ""
    response = Response(url, headers={"Set-Cookie": f"s=1; Path=/{scope}"}, request=Request(url))
    jar.extract_cookies(response, response.request)
    request = Request(f"http://{sent_to}:8080/b")
    jar.add_cookie_header(request)
    return request.headers.get("Cookie")


# (host that sets it, Domain attribute, host asked later, sent?) -- Chromium's answers,
# measured for localhost and 127.0.0.1 (a host-only cookie of the host itself).
CASES = [
    ("localhost", "localhost", "localhost", True),
    ("localhost", ".LOCALHOST", "localhost", True),
    ("localhost", "localhost", "other.localhost", False),  # host-only
    ("intranet", "intranet", "intranet", True),
    ("127.0.0.1", "127.0.0.1", "127.0.0.1", True),
    ("127.0.0.1", "127.0.0.1", "127.0.0.2", False),
    ("localhost", None, "localhost", True),
    ("a.example.com", "example.com", "b.example.com", True),  # a domain cookie, as before
    ("a.example.com", "other.com", "other.com", False),
]


@pytest.mark.parametrize(("set_on", "domain", "sent_to", "sent"), CASES)
def test_the_browsers_rule(set_on: str, domain: str | None, sent_to: str, sent: bool) -> None:
    jar = CookieJar(policy=BrowserCookiePolicy())
    assert (_sent(jar, set_on, domain, sent_to) == b"s=1") is sent


def test_pythons_jar_drops_it() -> None:
    """Why the policy exists: http.cookiejar keeps the cookie and never sends it."""
    assert _sent(CookieJar(), "localhost", "localhost", "localhost") is None


def test_every_jar_of_the_middleware_has_the_policy() -> None:
    crawler = get_crawler(Spider, {"COOKIES_ENABLED": True})
    middleware = BrowserCookiesMiddleware.from_crawler(crawler)
    assert isinstance(middleware, CookiesMiddleware)  # login and cookie files find its jar
    for key in (None, "second session"):
        assert isinstance(middleware.jars[key].policy, BrowserCookiePolicy)


def test_it_replaces_scrapys_middleware_in_the_project_settings() -> None:
    from crawler import settings

    middlewares = settings.DOWNLOADER_MIDDLEWARES
    assert middlewares["scrapy.downloadermiddlewares.cookies.CookiesMiddleware"] is None
    assert middlewares["crawler.downloadermiddlewares.cookies.BrowserCookiesMiddleware"] == 700
