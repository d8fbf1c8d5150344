"""The form lab's expected submissions are what a real Chromium sends.

Each submitter is clicked in Chromium and the request the fixture recorded is
compared with the module's constants, so crawl tests that assert against those
constants hold the crawler to a browser's behaviour (and to the HTML standard,
which the constants document; where Chromium departs from it, the constant
says so).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from selenium.webdriver.common.by import By

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.driver import create_driver
from fixtures.tinysite import formlab as fl
from fixtures.tinysite.server import TinySite
from tests.browser.conftest import browser_settings, needs_chromium, processes_under

if TYPE_CHECKING:
    from collections.abc import Iterator

    from selenium.webdriver.remote.webdriver import WebDriver

    from crawler.browser.driver import DriverHandle
    from fixtures.tinysite.formlab import FormLabApp, Submission

pytestmark = needs_chromium

# (page, CSS selector of the submitter to click, action, method, content type, entries)
CLICKS = [
    (fl.OWNER_PAGE, "button[name=via]", fl.OWNER_ACTION, "GET", "", fl.OWNER_FIELDS),
    (fl.OWNER_PAGE, "#b button", fl.OWNER_B_ACTION, "GET", "", fl.OWNER_B_FIELDS),
    (
        fl.MULTIPART_PAGE,
        "button",
        fl.MULTIPART_ACTION,
        "POST",
        "multipart/form-data",
        fl.MULTIPART_FIELDS,
    ),
    (fl.PLAIN_PAGE, "button", fl.PLAIN_ACTION, "POST", "text/plain", fl.PLAIN_FIELDS),
    (fl.TABLE_PAGE, "input[type=submit]", fl.TABLE_ACTION, "GET", "", fl.TABLE_FIELDS),
    (
        fl.SUBMIT_PAGE,
        "button[value=default]",
        fl.SUBMIT_DEFAULT_ACTION,
        "GET",
        "",
        fl.SUBMIT_DEFAULT_FIELDS,
    ),
    (
        fl.SUBMIT_PAGE,
        "button[value=alt]",
        fl.SUBMIT_ALT_ACTION,
        "POST",
        "multipart/form-data",
        fl.SUBMIT_ALT_FIELDS,
    ),
    (
        fl.SUBMIT_PAGE,
        "button[formtarget]",
        fl.SUBMIT_BLANK_ACTION,
        "GET",
        "",
        fl.SUBMIT_BLANK_FIELDS,
    ),
    (fl.SELECT_PAGE, "button", fl.SELECT_ACTION, "GET", "", fl.SELECT_FIELDS_CHROMIUM),
    (fl.FIELDSET_PAGE, "button", fl.FIELDSET_ACTION, "GET", "", fl.FIELDSET_FIELDS),
    (fl.TYPED_PAGE, "button", fl.TYPED_ACTION, "GET", "", fl.TYPED_FIELDS),
    (fl.FILTER_PAGE, "button", fl.FILTER_ACTION, "GET", "", fl.FILTER_FIELDS),
    (fl.CHARSET_PAGE, "#legacy button", fl.CHARSET_ACTION, "GET", "", fl.CHARSET_FIELDS),
    (fl.CHARSET_PAGE, "#utf8 button", fl.CHARSET_UTF8_ACTION, "GET", "", fl.CHARSET_UTF8_FIELDS),
]


@pytest.fixture(scope="module")
def lab_site() -> Iterator[TinySite]:
    with TinySite(apps=[fl.FormLabApp()]) as server:
        yield server


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriverHandle]:
    """One Chromium for the module; no process of it may outlive the module."""
    root = str(tmp_path_factory.mktemp("formlab-browsers"))
    config = BrowserConfig.from_settings(framework_settings(browser_settings(root)))
    handle = create_driver(config)
    yield handle
    handle.close()
    assert processes_under(root) == []


def click_and_wait(
    driver: WebDriver,
    site: TinySite,
    lab: FormLabApp,
    page: str,
    selector: str,
    action: str,
    method: str | None = None,
) -> Submission:
    """Load ``page``, click ``selector`` and return the one request (of ``method``,
    if given) the click sent to ``action``."""
    lab.clear()
    driver.get(site.url(page))
    if method is not None:
        lab.clear()  # the page may be its own action (a postback)
    driver.find_element(By.CSS_SELECTOR, selector).click()
    deadline = time.monotonic() + 5
    while not lab.submissions_to(action, method) and time.monotonic() < deadline:
        time.sleep(0.02)
    [sub] = lab.submissions_to(action, method)
    return sub


def test_each_submitter_sends_the_documented_request(
    handle: DriverHandle, lab_site: TinySite
) -> None:
    lab, driver = fl.formlab_app(lab_site), handle.driver
    wrong = []
    for page, selector, action, method, content_type, entries in CLICKS:
        sub = click_and_wait(driver, lab_site, lab, page, selector, action)
        got = (sub.method, sub.content_type, sub.entries)
        if got != (method, content_type, entries):
            wrong.append((page, selector, got))
    assert wrong == []


def test_multipart_and_plain_bodies_are_as_documented(
    handle: DriverHandle, lab_site: TinySite
) -> None:
    lab, driver = fl.formlab_app(lab_site), handle.driver
    multipart = click_and_wait(
        driver, lab_site, lab, fl.MULTIPART_PAGE, "button", fl.MULTIPART_ACTION
    )
    assert multipart.files == fl.MULTIPART_FILES
    plain = click_and_wait(driver, lab_site, lab, fl.PLAIN_PAGE, "button", fl.PLAIN_ACTION)
    assert plain.body == fl.PLAIN_BODY
    legacy = click_and_wait(
        driver, lab_site, lab, fl.CHARSET_PAGE, "#legacy button", fl.CHARSET_ACTION
    )
    assert legacy.raw_query == fl.CHARSET_QUERY.encode()
    utf8 = click_and_wait(
        driver, lab_site, lab, fl.CHARSET_PAGE, "#utf8 button", fl.CHARSET_UTF8_ACTION
    )
    assert utf8.raw_query == fl.CHARSET_UTF8_QUERY.encode()


def test_image_submitter_sends_coordinates_inside_the_image(
    handle: DriverHandle, lab_site: TinySite
) -> None:
    lab, driver = fl.formlab_app(lab_site), handle.driver
    sub = click_and_wait(
        driver, lab_site, lab, fl.SUBMIT_PAGE, "input[type=image]", fl.SUBMIT_IMAGE_ACTION
    )
    assert [name for name, _ in sub.query] == list(fl.SUBMIT_IMAGE_NAMES)
    values = dict(sub.query)
    width, height = fl.PIXEL_SIZE
    assert 0 <= int(values["map.x"]) < width
    assert 0 <= int(values["map.y"]) < height


def test_table_form_is_empty_in_the_dom_and_loses_its_fields_when_reparsed(
    handle: DriverHandle, lab_site: TinySite
) -> None:
    driver = handle.driver
    driver.get(lab_site.url(fl.TABLE_PAGE))
    live = driver.execute_script(
        "var f = document.forms[0];"
        "return [f.parentNode.tagName, f.children.length, f.elements.length];"
    )
    assert live == ["TABLE", 0, 3]  # empty, yet owning both inputs and the button
    reparsed = driver.execute_script(
        "var html = document.documentElement.outerHTML;"
        "var doc = new DOMParser().parseFromString(html, 'text/html');"
        "return doc.forms[0].elements.length;"
    )
    assert reparsed == 0


def test_aspnet_default_postback_sends_every_field_and_shows_the_form_again(
    handle: DriverHandle, lab_site: TinySite
) -> None:
    lab, driver = fl.formlab_app(lab_site), handle.driver
    posted = click_and_wait(
        driver,
        lab_site,
        lab,
        fl.ASPNET_SEARCH_PATH,
        "input[type=submit]",
        fl.ASPNET_SEARCH_PATH,
        "POST",
    )
    assert posted.content_type == "application/x-www-form-urlencoded"
    assert [name for name, _ in posted.fields] == list(fl.ASPNET_FIELD_NAMES)
    assert dict(posted.fields)[fl.ASPNET_CAT_FIELD] == fl.ASPNET_DEFAULT_CAT
    deadline = time.monotonic() + 5
    while fl.ASPNET_MESSAGE not in driver.page_source and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fl.ASPNET_MESSAGE in driver.page_source
