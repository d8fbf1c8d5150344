from __future__ import annotations

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.test import get_crawler

from crawler.addon import CrawlerAddon
from crawler.login.logout import LogoutGuardMiddleware


def guard(**settings: object) -> LogoutGuardMiddleware:
    crawler = get_crawler(Spider, {"ADDONS": {CrawlerAddon: 0}, **settings})
    crawler.stats.open_spider()
    return LogoutGuardMiddleware.from_crawler(crawler)


def test_off_without_a_session_or_with_logout_detection_off() -> None:
    with pytest.raises(NotConfigured):
        guard()
    with pytest.raises(NotConfigured, match="CRAWLER_LOGOUT_PATTERN is empty"):
        guard(CRAWLER_LOGIN_URL="http://h/login", CRAWLER_LOGOUT_PATTERN="")


@pytest.mark.parametrize(
    "session", [{"CRAWLER_LOGIN_URL": "http://h/login"}, {"CRAWLER_COOKIES_FILE": "cookies.txt"}]
)
def test_logouts_are_dropped_whoever_asks(session: dict[str, str]) -> None:
    mw = guard(**session)
    with pytest.raises(IgnoreRequest, match="looks like a logout"):
        mw.process_request(Request("http://h/pay/logout"))
    assert mw.process_request(Request("http://h/pay/area/")) is None
    assert mw.process_request(Request("http://h/logout", meta={"allow_logout": True})) is None
    assert mw.process_request(Request("http://h/logout", meta={"login_request": True})) is None
    assert mw.crawler.stats.get_value("login/logout_blocked") == 1
