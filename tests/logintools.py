"""Shared helpers of the login tests: logged-in CLI crawls of the tinysite payments app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fixtures.tinysite import payments
from tests.crawltools import CrawlResult, crawl

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import SeenRequest, TinySite

# Offline: the browser resolves nothing but the fixture's host.
BROWSER_OPTIONS = ("-s", "SELENIUM_ALLOWED_HOSTS=127.0.0.1", "-s", "SELENIUM_POOL_SIZE=2")
PASSWORD_ENV = "TINYSITE_PAY_PASSWORD"


@dataclass
class LoginCrawl:
    result: CrawlResult
    seen: list[SeenRequest]  # what the server got during the crawl
    login_url: str

    def seen_paths(self, method: str | None = None) -> list[str]:
        return [urlsplit(r.target).path for r in self.seen if method is None or r.method == method]

    def ok_targets(self) -> set[str]:
        """Path-plus-query of every page stored with status 200."""
        return {path for path, page in self.result.by_path().items() if page["status"] == 200}


def login_crawl(
    site: TinySite,
    tmp_path: Path,
    *options: str,
    start: str = payments.INDEX_PATH,
    login: str = payments.LOGIN_PATH,
    username: str = "alice",
) -> LoginCrawl:
    """``crawler crawl START --login LOGIN --username U --password-env ...`` in a subprocess.

    The password must be in :data:`PASSWORD_ENV` (``monkeypatch.setenv``).
    """
    first = len(site.requests_seen)
    result = crawl(
        site.url(start),
        tmp_path,
        "--login",
        site.url(login),
        "--username",
        username,
        "--password-env",
        PASSWORD_ENV,
        *options,
    )
    return LoginCrawl(result, site.requests_seen[first:], site.url(login))


def logouts_avoided(stats: dict[str, Any]) -> int:
    """Logout links the crawl did not follow: skipped by the spider or blocked by the guard."""
    return stats.get("crawler/links/skipped_logout", 0) + stats.get("login/logout_blocked", 0)
