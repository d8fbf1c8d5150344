"""Cookies between Scrapy's cookie jar and the browser.

Scrapy's jar is the truth: a render starts with exactly the cookies of the
request's ``Cookie`` header (:func:`load_request_cookies`), and the cookies the
page created, changed or deleted go back to the jar as ``Set-Cookie`` headers
of the rendered response (:func:`set_cookie_header`,
:func:`expire_cookie_headers`), which Scrapy's ``CookiesMiddleware`` reads.
"""

from __future__ import annotations

import ipaddress
from email.utils import formatdate
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


def parse_cookie_header(value: bytes | str | None) -> tuple[tuple[str, str], ...]:
    """``b"a=1; b=2"`` -> ``(("a", "1"), ("b", "2"))``."""
    if not value:
        return ()
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    pairs = []
    for part in text.split(";"):
        name, sep, val = part.strip().partition("=")
        if sep and name:
            pairs.append((name, val))
    return tuple(pairs)


def domain_matches(host: str, cookie_domain: str) -> bool:
    if cookie_domain.startswith("."):
        bare = cookie_domain[1:]
        return host == bare or host.endswith(cookie_domain)
    return host == cookie_domain


def set_cookie_header(cookie: dict[str, Any]) -> str:
    """A ``Set-Cookie`` value for a WebDriver cookie dict (host-only unless ``.domain``)."""
    parts = [f"{cookie['name']}={cookie['value']}"]
    domain = cookie.get("domain") or ""
    if domain.startswith("."):
        parts.append(f"Domain={domain}")
    parts.append(f"Path={cookie.get('path') or '/'}")
    if cookie.get("expiry"):
        parts.append(f"Expires={formatdate(float(cookie['expiry']), usegmt=True)}")
    if cookie.get("secure"):
        parts.append("Secure")
    if cookie.get("httpOnly"):
        parts.append("HttpOnly")
    if cookie.get("sameSite"):
        parts.append(f"SameSite={cookie['sameSite']}")
    return "; ".join(parts)


def expire_cookie_headers(name: str, url: str) -> list[str]:
    """``Set-Cookie`` values that delete cookie ``name`` from a jar, wherever it is filed.

    The request's ``Cookie`` header does not say under which domain and path the
    jar holds a cookie, only that they match ``url``: so expire it host-only and
    for every parent domain, at every path prefix of ``url``.  An expired
    ``Set-Cookie`` for a cookie that is not there is a no-op.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    domains = [""]
    if not _is_ip(host):
        labels = host.split(".")
        domains += [".".join(labels[i:]) for i in range(len(labels) - 1)]
    segments = [s for s in (parts.path or "/").split("/") if s]
    paths = ["/"]
    for i in range(1, len(segments) + 1):
        prefix = "/" + "/".join(segments[:i])
        paths += [prefix, prefix + "/"]
    headers = []
    for domain in domains:
        scope = f"; Domain={domain}" if domain else ""
        headers += [f"{name}=; Max-Age=0; Path={path}{scope}" for path in paths]
    return headers


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def load_request_cookies_cdp(
    driver: WebDriver, url: str, cookies: tuple[tuple[str, str], ...]
) -> None:
    """Chromium: the browser holds exactly ``cookies`` (for ``url``) before navigating.

    DevTools ``Network.setCookies`` sets them before the first visit of the
    site, so jars (meta ``"cookiejar"``) never mix between renders.
    """
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    if cookies:
        driver.execute_cdp_cmd(
            "Network.setCookies",
            {
                "cookies": [
                    {"name": name, "value": value, "url": url, "path": "/"}
                    for name, value in cookies
                ]
            },
        )


def load_request_cookies_webdriver(
    driver: WebDriver, url: str, cookies: tuple[tuple[str, str], ...], page_load_timeout: float
) -> None:
    """Without DevTools a cookie can only be added on a page of its site: visit the
    site's ``/robots.txt`` first when the browser is elsewhere."""
    if not cookies:
        return
    parts = urlsplit(url)
    current = urlsplit(driver.current_url)
    if (current.scheme, current.netloc) != (parts.scheme, parts.netloc):
        driver.set_page_load_timeout(page_load_timeout)
        driver.get(f"{parts.scheme}://{parts.netloc}/robots.txt")
    driver.delete_all_cookies()
    for name, value in cookies:
        driver.add_cookie({"name": name, "value": value, "path": "/"})


def browser_cookies(driver: WebDriver, cdp: bool, url: str, final_url: str) -> list[dict[str, Any]]:
    """The cookies the browser holds for the page's site, as WebDriver cookie dicts.

    Without DevTools WebDriver only shows the cookies of the page it is on.
    """
    if not cdp:
        return driver.get_cookies()
    raw = driver.execute_cdp_cmd("Network.getCookies", {"urls": [url, final_url]})
    cookies = []
    for c in raw.get("cookies", []):
        cookie = {
            "name": c["name"],
            "value": c["value"],
            "domain": c.get("domain", ""),
            "path": c.get("path", "/"),
            "secure": bool(c.get("secure")),
            "httpOnly": bool(c.get("httpOnly")),
        }
        if not c.get("session") and c.get("expires", -1) > 0:
            cookie["expiry"] = int(c["expires"])
        if c.get("sameSite"):
            cookie["sameSite"] = c["sameSite"]
        cookies.append(cookie)
    return cookies
