from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.test import get_crawler

from crawler.addon import CrawlerAddon
from crawler.login.logout import LogoutGuardMiddleware

if TYPE_CHECKING:
    from pathlib import Path


# A whole login: the settings check of every crawl refuses half of one.
LOGIN = {
    "CRAWLER_LOGIN_URL": "http://h/login",
    "CRAWLER_LOGIN_USERNAME": "alice",
    "CRAWLER_LOGIN_PASSWORD_ENV": "LOGOUTGUARD_TEST_PASSWORD",
}


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGOUTGUARD_TEST_PASSWORD", "s3cret")


def guard(**settings: object) -> LogoutGuardMiddleware:
    crawler = get_crawler(Spider, {"ADDONS": {CrawlerAddon: 0}, **settings})
    crawler.stats.open_spider()
    return LogoutGuardMiddleware.from_crawler(crawler)


def test_off_without_a_session_or_with_logout_detection_off() -> None:
    with pytest.raises(NotConfigured):
        guard()
    with pytest.raises(NotConfigured, match="CRAWLER_LOGOUT_PATTERN is empty"):
        guard(**LOGIN, CRAWLER_LOGOUT_PATTERN="")


@pytest.mark.parametrize("session", ["login", "cookies"])
def test_logouts_are_dropped_whoever_asks(session: str, tmp_path: Path) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    mw = guard(**LOGIN) if session == "login" else guard(CRAWLER_COOKIES_FILE=str(cookies))
    with pytest.raises(IgnoreRequest, match="looks like a logout"):
        mw.process_request(Request("http://h/pay/logout"))
    assert mw.process_request(Request("http://h/pay/area/")) is None
    assert mw.process_request(Request("http://h/logout", meta={"allow_logout": True})) is None
    assert mw.process_request(Request("http://h/logout", meta={"login_request": True})) is None
    assert mw.crawler.stats.get_value("login/logout_blocked") == 1
