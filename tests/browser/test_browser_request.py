from __future__ import annotations

import pytest
from scrapy import Request

from crawler.browser.request import (
    BrowserOptions,
    BrowserRequest,
    Click,
    Fill,
    ScrollToBottom,
    browser_options,
)
from crawler.exceptions import BrowserConfigError


def test_plain_requests_are_not_rendered() -> None:
    assert browser_options(Request("http://example.com")) is None
    assert browser_options(Request("http://example.com", meta={"browser": False})) is None


def test_meta_true_means_defaults() -> None:
    assert browser_options(Request("http://e.com", meta={"browser": True})) == BrowserOptions()


def test_meta_dict_and_unknown_keys() -> None:
    options = browser_options(Request("http://e.com", meta={"browser": {"wait_for": "#x"}}))
    assert options is not None and options.wait_for == "#x"
    with pytest.raises(BrowserConfigError, match="unknown keys"):
        browser_options(Request("http://e.com", meta={"browser": {"wiat_for": "#x"}}))


def test_browser_request_stores_options_and_survives_replace() -> None:
    actions = [Fill("#q", "x"), Click("#go", wait_for="#out"), ScrollToBottom()]
    request = BrowserRequest(
        "http://e.com",
        wait_for="#a",
        script="return 1",
        actions=actions,
        screenshot=True,
        block_resources=["image"],
        page_load_timeout=5,
        wait_timeout=2,
        settle=0.5,
    )
    options = request.browser_options
    assert options.actions == tuple(actions)
    assert options.settle == 0.5
    assert options.block_resources == ("image",)
    copy = request.replace(url="http://e.com/2")
    assert isinstance(copy, BrowserRequest) and copy.browser_options == options
    assert BrowserRequest("http://e.com").browser_options == BrowserOptions()


def test_invalid_options() -> None:
    with pytest.raises(BrowserConfigError, match="actions must be"):
        BrowserOptions(actions=("click",))  # type: ignore[arg-type]
    with pytest.raises(BrowserConfigError, match="wait_timeout must be positive"):
        BrowserOptions(wait_timeout=0)
    with pytest.raises(BrowserConfigError, match="settle must be 0 or more"):
        BrowserOptions(settle=-0.1)
    with pytest.raises(BrowserConfigError, match="unknown resource type"):
        BrowserRequest("http://e.com", block_resources=["gifs"])
