from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig, blocked_url_patterns
from crawler.exceptions import BrowserConfigError, BrowserNotFoundError

needs_chromium = pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="chromium and chromedriver are not on PATH",
)


def config(**values: object) -> BrowserConfig:
    return BrowserConfig.from_settings(framework_settings(values))


@needs_chromium
def test_defaults_find_chromium_on_path() -> None:
    c = config(USER_AGENT="ua/1")
    assert c.browser == "chromium"
    assert (c.browser_executable, c.driver_executable) == (None, None)  # not looked up yet
    assert c.local_executables() == (shutil.which("chromium"), shutil.which("chromedriver"))
    assert (c.pool_size, c.max_pages_per_session) == (4, 100)
    assert (c.page_load_timeout, c.wait_timeout) == (30.0, 10.0)
    assert c.headless and c.politeness and not c.is_remote
    assert c.user_agent == "ua/1"
    assert c.window_size == (1366, 900)
    assert c.concurrent_starts == max(1, (os.cpu_count() or 2) // 2)


@needs_chromium
def test_values_are_parsed() -> None:
    c = config(
        SELENIUM_POOL_SIZE="2",
        SELENIUM_MAX_PAGES_PER_SESSION=0,
        SELENIUM_PAGE_LOAD_TIMEOUT="2.5",
        SELENIUM_BROWSER_ARGUMENTS="--lang=fr --mute-audio",
        SELENIUM_BLOCK_RESOURCES=["image", "*.pdf"],
        SELENIUM_WINDOW_SIZE="800,600",
        SELENIUM_HEADLESS=False,
        SELENIUM_CONCURRENT_STARTS="3",
        SELENIUM_SETTLE="0",
        SELENIUM_SETTLE_TIMEOUT=1,
    )
    assert c.pool_size == 2 and c.max_pages_per_session == 0
    assert c.concurrent_starts == 3
    assert (c.settle, c.settle_timeout) == (0, 1)
    assert c.page_load_timeout == 2.5
    assert c.arguments == ("--lang=fr", "--mute-audio")
    assert c.block_resources == ("image", "*.pdf")
    assert c.window_size == (800, 600)
    assert not c.headless


def test_remote_url_needs_no_local_executables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    c = config(SELENIUM_REMOTE_URL="http://127.0.0.1:4444")
    assert c.is_remote and c.driver_executable is None


@pytest.mark.parametrize(
    "value",
    [
        "http://a:4444, https://u:pw@b/wd/hub#max=3",
        "http://a:4444\nhttps://u:pw@b/wd/hub#max=3",
        ["http://a:4444", "https://u:pw@b/wd/hub#max=3"],
    ],
)
def test_several_remote_nodes_with_their_session_caps(value: object) -> None:
    c = config(SELENIUM_REMOTE_URL=value, SELENIUM_REMOTE_MAX_SESSIONS=2)
    assert [(n.url, n.label, n.max_sessions) for n in c.remote_nodes] == [
        ("http://a:4444", "a:4444", 2),  # SELENIUM_REMOTE_MAX_SESSIONS
        ("https://u:pw@b/wd/hub", "b:443", 3),  # its own #max=3; no password in the label
    ]
    assert c.remote_url == "http://a:4444" and c.remote_cooldown == 30


def test_one_server_under_two_paths_gets_two_labels() -> None:
    c = config(SELENIUM_REMOTE_URL="http://[::1]:4444/a http://[::1]:4444/b")
    assert [n.label for n in c.remote_nodes] == ["[::1]:4444", "[::1]:4444-2"]
    assert [n.max_sessions for n in c.remote_nodes] == [0, 0]  # the pool's limit only


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"SELENIUM_REMOTE_URL": "http://h:1 http://h:1"}, "lists 'http://h:1' twice"),
        ({"SELENIUM_REMOTE_URL": "http://h:1#max=0"}, "the only fragment a node takes"),
        ({"SELENIUM_REMOTE_URL": "http://u:pw@h:1#x"}, "'http://u:***@h:1#x' ends with '#x'"),
        ({"SELENIUM_REMOTE_URL": "http://h:1, h:2"}, "must be an http(s) URL (or several)"),
        ({"SELENIUM_REMOTE_MAX_SESSIONS": -1}, "must be a whole number >= 0"),
        ({"SELENIUM_REMOTE_COOLDOWN": "soon"}, "must be a number >= 0"),
        ({"SELENIUM_REMOTE_COMMAND_MARGIN": 0}, "must be a number > 0"),
        ({"SELENIUM_BROWSER": "opera"}, "SELENIUM_BROWSER must be one of"),
        ({"SELENIUM_POOL_SIZE": 0}, "SELENIUM_POOL_SIZE must be a whole number >= 1, not 0"),
        ({"SELENIUM_POOL_SIZE": "many"}, "SELENIUM_POOL_SIZE must be a whole number >= 1"),
        (
            {"SELENIUM_CONCURRENT_STARTS": 0},
            "SELENIUM_CONCURRENT_STARTS must be a whole number >= 1",
        ),
        ({"SELENIUM_SETTLE": -1}, "SELENIUM_SETTLE must be a number >= 0"),
        ({"SELENIUM_PAGE_LOAD_TIMEOUT": 0}, "SELENIUM_PAGE_LOAD_TIMEOUT must be a number >= 0.1"),
        ({"SELENIUM_HEADLESS": "nope"}, "SELENIUM_HEADLESS must be True or False, not 'nope'"),
        ({"SELENIUM_REMOTE_URL": "ftp://x"}, "must be an http(s) URL"),
        (
            {"SELENIUM_REMOTE_URL": "http://h:4444", "SELENIUM_DRIVER_EXECUTABLE_PATH": "/x"},
            "conflicts with",
        ),
        ({"SELENIUM_BLOCK_RESOURCES": ["pictures"]}, "unknown resource type 'pictures'"),
        ({"SELENIUM_WINDOW_SIZE": "big"}, "SELENIUM_WINDOW_SIZE must be 'width,height'"),
        ({"SELENIUM_BROWSER_ARGUMENTS": ["--headless=new"]}, "use SELENIUM_HEADLESS"),
    ],
)
def test_invalid_settings_are_explained(values: dict[str, object], message: str) -> None:
    with pytest.raises(BrowserConfigError, match=re.escape(message)):
        config(**values)


def test_reading_the_settings_looks_for_no_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert config().enabled
    assert config(SELENIUM_BROWSER="firefox").browser == "firefox"
    assert config(SELENIUM_DRIVER_EXECUTABLE_PATH="/no/such/driver").enabled


def test_a_missing_browser_names_the_fixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BrowserNotFoundError, match=r"firefox, firefox-esr on PATH") as raised:
        config(SELENIUM_BROWSER="firefox").local_executables()
    for fix in ("SELENIUM_BROWSER_EXECUTABLE_PATH", "SELENIUM_REMOTE_URL", "--render never"):
        assert fix in str(raised.value)


def test_one_missing_executable_is_named_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Chromium found, chromedriver not: "needs chromedriver", not "needs one of chromedriver"."""
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrowserNotFoundError) as raised:
        config().local_executables()
    assert str(raised.value).startswith(
        "rendering with SELENIUM_BROWSER='chromium' needs chromedriver on PATH: install it, "
        "set SELENIUM_DRIVER_EXECUTABLE_PATH,"
    )


def test_the_allowed_hosts_error_quotes_the_whole_value() -> None:
    with pytest.raises(BrowserConfigError) as raised:
        config(SELENIUM_ALLOWED_HOSTS='["a","b"]')
    assert str(raised.value) == (
        "SELENIUM_ALLOWED_HOSTS takes host names (or *.domain patterns), a list or "
        """comma-separated, not '["a","b"]'"""
    )


@needs_chromium
def test_a_missing_driver_names_its_setting() -> None:
    with pytest.raises(BrowserNotFoundError, match="SELENIUM_DRIVER_EXECUTABLE_PATH='/no/such"):
        config(SELENIUM_DRIVER_EXECUTABLE_PATH="/no/such/driver").local_executables()


def test_blocked_url_patterns() -> None:
    patterns = blocked_url_patterns(("image", "*.pdf"))
    assert "*.png" in patterns and "*.png?*" in patterns and "*.pdf" in patterns
    assert "*.css" not in patterns
