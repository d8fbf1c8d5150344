"""Session cookies in and out of a crawl: Scrapy's cookie jar and Netscape cookies.txt files.

``crawler login --save-cookies FILE`` writes the jar after a login with
:func:`save_cookies_txt` (the format of ``curl -b``/``-c`` and of browser
export add-ons; mode 0600); ``crawler crawl --cookies FILE``
(``CRAWLER_COOKIES_FILE``) loads one into the crawl's jar with the
:class:`CookiesFile` extension before the first request.
"""

from __future__ import annotations

import logging
import os
from http.cookiejar import LoadError, MozillaCookieJar
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.downloadermiddlewares.cookies import CookiesMiddleware
from scrapy.exceptions import NotConfigured

from crawler import redaction
from crawler.exceptions import LoginConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from http.cookiejar import Cookie, CookieJar
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

COOKIE_FILE_MODE = 0o600
COOKIES_TXT_HEADER = (
    "# Netscape HTTP Cookie File\n"
    "# Written by `crawler login`: session cookies; keep this file private.\n\n"
)


def crawl_cookie_jar(crawler: Crawler) -> CookieJar:
    """The jar Scrapy's ``CookiesMiddleware`` keeps for requests without ``cookiejar`` meta."""
    for middleware in crawler.engine.downloader.middleware.middlewares:
        if isinstance(middleware, CookiesMiddleware):
            return middleware.jars[None].jar
    raise LoginConfigError(
        "logins and cookie files need Scrapy's CookiesMiddleware: set COOKIES_ENABLED=True"
    )


def load_cookies_txt(path: str | Path) -> list[Cookie]:
    """The cookies of a Netscape cookies.txt file, session cookies included."""
    jar = MozillaCookieJar()
    try:
        jar.load(str(path), ignore_discard=True, ignore_expires=True)
    except FileNotFoundError:
        raise LoginConfigError(f"the cookies file {path} does not exist") from None
    except (LoadError, OSError, UnicodeDecodeError) as e:
        raise LoginConfigError(
            f"{path} is not a readable Netscape cookies.txt file ({type(e).__name__}); "
            "export one with `crawler login --save-cookies`, `curl -c` or a browser add-on"
        ) from None
    cookies = list(jar)
    for cookie in cookies:
        if not cookie.expires:  # "0" or empty: a session cookie, not an expired one
            cookie.expires = None
            cookie.discard = True
    return cookies


def _is_http_only(cookie: Cookie) -> bool:
    return any(cookie.has_nonstandard_attr(name) for name in ("HttpOnly", "HTTPOnly", "httponly"))


def cookies_txt_line(cookie: Cookie) -> str:
    """One cookies.txt line: domain, subdomains, path, secure, expiry, name, value.

    Session cookies get the expiry ``0`` (curl skips a line whose expiry is
    empty, which is what ``MozillaCookieJar.save`` writes); HttpOnly cookies
    get the ``#HttpOnly_`` domain prefix that curl and ``MozillaCookieJar`` read.
    """
    domain = cookie.domain
    fields = [
        ("#HttpOnly_" if _is_http_only(cookie) else "") + domain,
        "TRUE" if domain.startswith(".") else "FALSE",
        cookie.path,
        "TRUE" if cookie.secure else "FALSE",
        str(int(cookie.expires)) if cookie.expires else "0",
        cookie.name,
        cookie.value or "",
    ]
    return "\t".join(fields)


def save_cookies_txt(cookies: Iterable[Cookie], path: str | Path) -> int:
    """Write ``cookies`` as a Netscape cookies.txt readable only by the owner; how many."""
    lines = [cookies_txt_line(c) for c in cookies]
    target = Path(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, COOKIE_FILE_MODE)
    os.fchmod(fd, COOKIE_FILE_MODE)  # a file that existed keeps its mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(COOKIES_TXT_HEADER + "".join(line + "\n" for line in lines))
    return len(lines)


def check_cookies_file(settings: BaseSettings) -> None:
    """Read ``CRAWLER_COOKIES_FILE`` (when set) as :class:`CookiesFile` will: a
    :class:`~crawler.exceptions.LoginConfigError` if it is missing or not a
    cookies.txt file.  One of the settings check's validators."""
    path = settings.get("CRAWLER_COOKIES_FILE")
    if path:
        load_cookies_txt(path)


class CookiesFile:
    """Extension: loads ``CRAWLER_COOKIES_FILE`` into the crawl's cookie jar when it opens."""

    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path
        self.cookies = load_cookies_txt(path)  # fail before the crawl starts
        redaction.MASKER.add(*(c.value for c in self.cookies))
        redaction.install()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        path = crawler.settings.get("CRAWLER_COOKIES_FILE")
        if not path:
            raise NotConfigured  # off without a message, so no warning in every crawl
        extension = cls(crawler, Path(path))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        return extension

    def spider_opened(self) -> None:
        jar = crawl_cookie_jar(self.crawler)
        for cookie in self.cookies:
            jar.set_cookie(cookie)
        self.crawler.stats.set_value("login/cookies_loaded", len(self.cookies))
        logger.info("Loaded %d cookies from %s", len(self.cookies), self.path)
