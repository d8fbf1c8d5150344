"""Cookies a render deleted leave Scrapy's jar, wherever the jar filed them."""

from __future__ import annotations

from scrapy import Request
from scrapy.http import Headers, HtmlResponse
from scrapy.http.cookies import CookieJar

from crawler.browser.cookies import expire_cookie_headers


def _respond(jar: CookieJar, url: str, set_cookies: list[str]) -> None:
    headers = Headers()
    for value in set_cookies:
        headers.appendlist("Set-Cookie", value)
    request = Request(url)
    jar.extract_cookies(HtmlResponse(url, headers=headers, body=b""), request)


def _names(jar: CookieJar) -> set[tuple[str, str, str]]:
    return {(c.name, c.domain, c.path) for c in jar}


def test_deleted_cookie_leaves_the_jar_under_any_domain_and_path() -> None:
    jar = CookieJar()
    _respond(
        jar,
        "http://www.shop.example.com/a/b/page.html",
        [
            "sid=1; Path=/",
            "sid=2; Path=/a/b; Domain=shop.example.com",
            "sid=3; Path=/a/; Domain=.example.com",
            "keep=1; Path=/",
        ],
    )
    assert {name for name, _, _ in _names(jar)} == {"sid", "keep"}
    assert len(_names(jar)) == 4
    url = "http://www.shop.example.com/a/b/page.html?x=1"
    _respond(jar, url, expire_cookie_headers("sid", url))
    assert _names(jar) == {("keep", "www.shop.example.com", "/")}


def test_ip_hosts_get_host_only_deletions() -> None:
    headers = expire_cookie_headers("sid", "http://127.0.0.1:8080/x/")
    assert headers == [
        "sid=; Max-Age=0; Path=/",
        "sid=; Max-Age=0; Path=/x",
        "sid=; Max-Age=0; Path=/x/",
    ]
    jar = CookieJar()
    _respond(jar, "http://127.0.0.1:8080/x/", ["sid=1; Path=/", "other=2; Path=/"])
    _respond(jar, "http://127.0.0.1:8080/x/", headers)
    assert {name for name, _, _ in _names(jar)} == {"other"}
