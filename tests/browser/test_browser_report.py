"""The run report in headless Chromium: every chart drawn, no console error, hostile text inert.

The report of two real tinysite crawls (``report_crawls``) is written to a
file and opened over ``file://`` (no network: Plotly is inside the file).
"""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.driver import create_driver
from crawler.report import render_report
from crawler.report.html import REPORT_SCRIPT_HASH
from crawler.storage.sql import SqlStore
from tests.browser.conftest import browser_settings, needs_chromium, processes_under
from tests.reporttools import HOSTILE_TITLE, ReportCrawls

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from selenium.webdriver.remote.webdriver import WebDriver

    from crawler.browser.driver import DriverHandle

pytestmark = needs_chromium

CHARTS = (
    "chart-status-time",
    "chart-latency",
    "chart-found-via",
    "chart-rendered",
    "chart-depth",
    "chart-patterns",
    "chart-changes",
)
HOSTILE_URL_PATH = '/x/"><img src=x onerror=alert(3)>'


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriverHandle]:
    """One Chromium for the module, 1280 pixels wide; none of its processes outlives it."""
    root = str(tmp_path_factory.mktemp("report-browsers"))
    settings = browser_settings(root, SELENIUM_WINDOW_SIZE="1280,900")
    handle = create_driver(BrowserConfig.from_settings(framework_settings(settings)))
    yield handle
    handle.close()
    assert processes_under(root) == []


def open_report(driver: WebDriver, path: Path) -> list[str]:
    """Load the report at ``path``; wait until each chart div holds Plotly's SVG;
    return the ids of the chart divs."""
    driver.get_log("performance")  # drop what earlier pages logged
    driver.get(path.as_uri())
    ids: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('div.chart')].map(d => d.id)"
    )
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script(
            "return [...document.querySelectorAll('div.chart')]"
            ".every(d => d.querySelector('.main-svg'))"
        )
    )
    return ids


def dialogs_opened(driver: WebDriver) -> list[str]:
    """Dialogs (``alert``...) the page opened: Chromium's DevTools events, from the
    performance log (the driver answers dialogs itself, so none stays open)."""
    opened = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Page.javascriptDialogOpening":
            opened.append(message["params"]["message"])
    return opened


def test_the_report_draws_every_chart_and_shows_hostile_text_as_text(
    handle: DriverHandle, report_crawls: ReportCrawls, tmp_path: Path
) -> None:
    driver = handle.driver
    store = SqlStore.open(report_crawls.store_url, create=False)
    try:
        html = render_report(store, report_crawls.second, compare_with=report_crawls.first)
    finally:
        store.close()
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    assert open_report(driver, path) == list(CHARTS)
    for chart in CHARTS:
        svg = driver.find_element(By.ID, chart).find_elements(By.CSS_SELECTOR, ".main-svg")
        assert svg and svg[0].size["width"] > 300, chart
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    assert dialogs_opened(driver) == []
    # The slowest page is the one with the hostile title: its title is a cell's text.
    first_row = driver.find_elements(By.CSS_SELECTOR, "#slowest tr")[1]
    assert first_row.find_elements(By.TAG_NAME, "td")[1].text == HOSTILE_TITLE
    assert driver.find_elements(By.TAG_NAME, "img") == []
    assert len(driver.find_elements(By.TAG_NAME, "script")) == 3
    driver.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").read_bytes().startswith(b"\x89PNG")


def test_hostile_urls_in_a_chart_are_drawn_as_text(handle: DriverHandle, tmp_path: Path) -> None:
    """A URL pattern Plotly draws on an axis (its text markup is HTML-like) is the
    literal URL, not markup."""
    store = SqlStore.open(f"sqlite:///{tmp_path / 'crawl.db'}")
    try:
        run_id = store.start_run("site", "http://h/", {})
        row = {
            "url": "http://h" + HOSTILE_URL_PATH,
            "final_url": "http://h/",
            "status": 200,
            "title": HOSTILE_TITLE,
            "depth": 0,
            "found_via": "start",
            "rendered": False,
            "fetched_at": "2026-12-01T10:00:00.000+00:00",
            "latency": 0.1,
        }
        store.write_pages(run_id, [row])
        store.finish_run(run_id, "finished", {})
        html = render_report(store, run_id)
    finally:
        store.close()
    path = tmp_path / "hostile.html"
    path.write_text(html, encoding="utf-8")
    open_report(driver := handle.driver, path)
    ticks = driver.execute_script(
        "return [...document.querySelectorAll('#chart-patterns .ytick text')]"
        ".map(t => t.textContent)"
    )
    assert ticks == [HOSTILE_URL_PATH.replace("3", "{n}")]
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    assert dialogs_opened(driver) == []
    assert driver.find_elements(By.TAG_NAME, "img") == []


#: What a server of reports can send (the dashboard): no inline script but the
#: report's own, Plotly from the server, Plotly's inline styles.
STRICT_CSP = (
    f"default-src 'none'; script-src 'self' {REPORT_SCRIPT_HASH}; "
    "style-src 'unsafe-inline'; img-src data:"
)


class _CspHandler(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", STRICT_CSP)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_report_draws_under_a_strict_content_security_policy(
    handle: DriverHandle, report_crawls: ReportCrawls, tmp_path: Path
) -> None:
    """Served with Plotly as a ``<script src>`` and a CSP that allows no inline
    script but :data:`REPORT_SCRIPT_HASH`, every chart is still drawn."""
    from plotly.offline import get_plotlyjs

    store = SqlStore.open(report_crawls.store_url, create=False)
    try:
        html = render_report(store, report_crawls.second, plotlyjs="/plotly.min.js")
    finally:
        store.close()
    (tmp_path / "report.html").write_text(html, encoding="utf-8")
    (tmp_path / "plotly.min.js").write_text(get_plotlyjs(), encoding="utf-8")
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_CspHandler, directory=str(tmp_path))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    driver = handle.driver
    try:
        driver.get(f"http://127.0.0.1:{server.server_address[1]}/report.html")
        WebDriverWait(driver, 10).until(
            lambda d: d.execute_script(
                "return [...document.querySelectorAll('div.chart')]"
                ".every(d => d.querySelector('.main-svg'))"
            )
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert len(driver.find_elements(By.CSS_SELECTOR, "div.chart .main-svg")) >= 6
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []


def long_text_store(path: Path) -> tuple[SqlStore, int]:
    """A store with one run of long text: a 3,000-character title without a
    space, 1,500-character URLs (in the slowest pages, the errors and the refused
    links), a long error and a failed login's long message."""
    store = SqlStore.open(f"sqlite:///{path}")
    long_path = "/" + "segment" * 200 + "?q=" + "x" * 100
    run_id = store.start_run("site", "http://h" + long_path, {})
    rows = [
        {
            "url": f"http://h{long_path}{n}",
            "final_url": f"http://h{long_path}{n}",
            "status": 500 if n else 200,
            "title": "T" * 3000,
            "depth": n,
            "found_via": "link",
            "rendered": False,
            "fetched_at": "2026-12-01T10:00:00.000+00:00",
            "latency": 0.1 * (n + 1),
            "error": ("E" * 800 + ": failed") if n == 2 else None,
        }
        for n in range(3)
    ]
    store.write_batch(
        run_id,
        page_rows=rows,
        link_rows=[
            {
                "source": "http://h/",
                "url": f"http://h{long_path}/refused",
                "found_via": "link",
                "text": None,
                "refused": "url_too_long: " + "R" * 600,
            }
        ],
    )
    error = "the page after the login still shows the form: " + "W" * 700
    store.finish_run(run_id, "finished", {"login/error": error, "login/attempts": 1})
    return store, run_id


@pytest.mark.parametrize("width", [1280, 500])
def test_long_text_wraps_inside_the_window(
    handle: DriverHandle, tmp_path: Path, width: int
) -> None:
    """No horizontal overflow at 1280 and at 500 pixels (the grid's columns are
    at most the page wide), however long the titles, URLs and messages are; a
    failed login is a sentence."""
    store, run_id = long_text_store(tmp_path / "long.db")
    try:
        html = render_report(store, run_id)
    finally:
        store.close()
    path = tmp_path / "long.html"
    path.write_text(html, encoding="utf-8")
    driver = handle.driver
    driver.set_window_size(width, 900)
    try:
        open_report(driver, path)
        viewport, page = driver.execute_script(
            "return [document.documentElement.clientWidth, document.documentElement.scrollWidth]"
        )
        sentence = driver.find_element(By.ID, "login-failed").text
    finally:
        driver.set_window_size(1280, 900)
    assert page == viewport, (page, viewport)
    assert sentence.startswith("Login failed: the page after the login still shows the form")
