"""crawler.traps: session ids, URL patterns, repeated segments and the guard's budgets."""

from __future__ import annotations

import logging

import pytest
from scrapy import Spider
from scrapy.utils.test import get_crawler

from crawler.addon import CrawlerAddon, framework_settings
from crawler.traps import (
    TrapConfig,
    TrapConfigError,
    TrapGuard,
    repeated_run,
    strip_session_ids,
    url_pattern,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/a/p;jsessionid=0A1B2C?x=1", "http://h/a/p?x=1"),
        ("http://h/a/p;JSESSIONID=0A1B2C;lang=en", "http://h/a/p;lang=en"),
        ("http://h/p?sid=ab12&x=1&PHPSESSID=9f", "http://h/p?x=1"),
        ("http://h/p?x=1&SessionId=7#top", "http://h/p?x=1#top"),
        ("http://h/p?ASPSESSIONIDQQGGQGPG=KLM&y=2", "http://h/p?y=2"),
        ("http://h/(S(lit3py55t21z5v55vlm25s55))/page.aspx?a=1", "http://h/page.aspx?a=1"),
        ("http://h/(A(x)S(y)F(z))/p", "http://h/p"),
        ("http://h/p?sid=1", "http://h/p"),
    ],
)
def test_session_ids_are_removed(url: str, expected: str) -> None:
    assert strip_session_ids(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://h/p?ssid=1&sidebar=2&q=a%20b&&z",  # other names, odd query kept byte for byte
        "http://h/(draft)/p;v=2",
        "http://h/p",
    ],
)
def test_other_urls_are_left_alone(url: str) -> None:
    assert strip_session_ids(url) is url


def test_more_session_names_can_be_given() -> None:
    names = TrapConfig.from_settings(
        framework_settings({"CRAWLER_SESSION_ID_NAMES": "token,X-Sess*"})
    ).session_id_names
    assert strip_session_ids("http://h/p?token=1&x-sess-a=2&b=3", names) == "http://h/p?b=3"


def test_a_session_name_that_is_not_a_name_is_refused() -> None:
    with pytest.raises(TrapConfigError, match="CRAWLER_SESSION_ID_NAMES takes parameter names"):
        TrapConfig.from_settings(framework_settings({"CRAWLER_SESSION_ID_NAMES": ["a=b"]}))


def test_url_patterns() -> None:
    assert url_pattern("http://H:81/cal/2024/05?y=2&month=5#x") == (
        "http://h:81/cal/{n}/{n}?month={n}&y={n}"
    )
    assert url_pattern("http://h/cal?month=5") == url_pattern("http://h/cal?month=10001")
    assert url_pattern("http://h/cal?month=5") != url_pattern("http://h/cal?month=5&day=1")
    assert url_pattern("http://h/o/5f3a9c2e-1b7d-4a60-9e0b-2f6c1d3e4a5b") == "http://h/o/{id}"
    # Words stay: a blog's posts are not one pattern.
    assert url_pattern("http://h/blog/2024/first-post") != url_pattern("http://h/blog/2024/second")
    assert url_pattern("http://h/x?v=accessed") == "http://h/x?v=accessed"


@pytest.mark.parametrize(
    ("path", "run"),
    [
        ("/traps/loop/a/b/a/b/a/b/", ["a", "b"]),
        ("/img/img/img/x.png", ["img"]),
        ("/a/b/c/a/b/c/a/b/c", ["a", "b", "c"]),
        ("/traps/loop/a/b/a/b/", None),
        ("/", None),
        ("", None),
    ],
)
def test_repeated_runs(path: str, run: list[str] | None) -> None:
    assert repeated_run(path, 2) == run


def test_a_run_repeated_up_to_the_limit_passes() -> None:
    assert repeated_run("/2024/01/01/01/post", 3) is None
    assert repeated_run("/2024/01/01/01/post", 2) == ["01"]


def _guard(**settings: object) -> TrapGuard:
    crawler = get_crawler(Spider, {"ADDONS": {CrawlerAddon: 0}, **settings})
    crawler._apply_settings()
    crawler.stats.open_spider()
    return TrapGuard.from_crawler(crawler)


def test_the_pattern_budget_counts_different_urls(caplog: pytest.LogCaptureFixture) -> None:
    guard = _guard(CRAWLER_MAX_PAGES_PER_PATTERN=3)
    for month in (1, 2, 3):
        assert guard.refusal(f"http://h/cal?month={month}") is None
    assert guard.refusal("http://h/cal?month=2") is None  # already followed: not a new page
    with caplog.at_level(logging.WARNING):
        reason = guard.refusal("http://h/cal?month=4")
    assert reason == (
        "pattern_budget: 3 URLs of http://h/cal?month={n} already followed "
        "(CRAWLER_MAX_PAGES_PER_PATTERN=3)"
    )
    assert guard.refusal("http://other/cal?month=4") is None  # per host
    assert guard.refusal("http://h/cal?month=5") is not None
    assert guard.crawler.stats.get_value("crawler/traps/pattern_budget") == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "http://h/cal?month={n}" in warnings[0]


def test_zero_turns_each_rule_off() -> None:
    guard = _guard(
        CRAWLER_MAX_PAGES_PER_PATTERN=0, CRAWLER_MAX_URL_LENGTH=0, CRAWLER_MAX_PATH_REPEATS=0
    )
    for month in range(500):
        assert guard.refusal(f"http://h/cal?month={month}") is None
    assert guard.refusal("http://h/a/a/a/a?x=" + "y" * 5000) is None


def test_long_urls_and_repeated_segments_are_refused_and_counted() -> None:
    guard = _guard()
    long_url = "http://h/p?x=" + "y" * 2000
    assert guard.refusal(long_url) == (
        f"url_too_long: {len(long_url)} characters, more than CRAWLER_MAX_URL_LENGTH=2000"
    )
    assert guard.refusal("http://h/a/b/a/b/a/b") is not None
    assert guard.clean("http://h/p;jsessionid=1") == "http://h/p"
    stats = guard.crawler.stats
    assert stats.get_value("crawler/traps/url_too_long") == 1
    assert stats.get_value("crawler/traps/repeated_segments") == 1
    assert stats.get_value("crawler/traps/session_id") == 1
