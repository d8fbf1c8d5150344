"""Every page of ``crawler serve`` in headless Chromium, against a store a real crawl wrote.

The store (``dashboard_data``, tests/dashboardtools.py) holds a page titled
``<script>alert(1)</script>`` and an item named ``"><img src=x onerror=alert(2)>``:
each page must show them as text, run no dialog (Chromium's performance log
records every ``Page.javascriptDialogOpening``), log no SEVERE console entry
(a blocked inline handler, a failed image or script load are SEVERE), and hold
no ``<script>`` or ``<img>`` of its own.  A screenshot of each page goes to the
test's temp dir.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.driver import create_driver
from tests.browser.conftest import browser_settings, needs_chromium, processes_under
from tests.dashboardtools import HOSTILE_NAME, HOSTILE_TITLE, JOB, ServeProcess

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from selenium.webdriver.remote.webdriver import WebDriver

    from crawler.browser.driver import DriverHandle
    from tests.dashboardtools import DashboardData

pytestmark = needs_chromium

HAS_REPORT = importlib.util.find_spec("crawler.report") is not None


@pytest.fixture(scope="module")
def server(dashboard_data: DashboardData) -> Iterator[ServeProcess]:
    data = dashboard_data
    process = ServeProcess(
        "--store", data.store_url, "--jobs-file", str(data.jobs_file), cwd=data.workdir
    )
    try:
        yield process
        code, _, err = process.stop()
        assert code == 0, err
    finally:
        process.kill()


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriverHandle]:
    """One Chromium for the module; no process of it may outlive the module."""
    root = str(tmp_path_factory.mktemp("dashboard-browsers"))
    config = BrowserConfig.from_settings(framework_settings(browser_settings(root)))
    handle = create_driver(config)
    yield handle
    handle.close()
    assert processes_under(root) == []


def texts(driver: WebDriver, selector: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, selector)]


def check_index(driver: WebDriver, data: DashboardData) -> None:
    [run] = driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr")
    cells = [c.text for c in run.find_elements(By.TAG_NAME, "td")]
    assert cells[:3] == [str(data.run_id), "site", data.start_url]
    assert cells[5] == "succeeded"
    [job] = driver.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")
    assert job.text.startswith(f"{JOB} every 6h")
    assert "succeeded" in job.text


def check_run(driver: WebDriver, data: DashboardData) -> None:
    assert driver.find_element(By.TAG_NAME, "h1").text == f"Run {data.run_id} succeeded"
    assert "404" in texts(driver, "#by-status td")
    assert texts(driver, "#specs td") == ["gadget", "2", "0"]
    assert texts(driver, "#links td")[0] == "followed"
    stats = dict(zip(texts(driver, "#stats th"), texts(driver, "#stats td"), strict=True))
    assert stats["outcome/status"] == "succeeded"
    assert f"{JOB}, history run 1" in driver.find_element(By.CSS_SELECTOR, "dl.summary").text


def check_pages(driver: WebDriver, data: DashboardData) -> None:
    titles = texts(driver, "#pages td.title")
    assert HOSTILE_TITLE in titles
    assert "Tinysite page 1" in titles


def check_search(driver: WebDriver, data: DashboardData) -> None:
    assert texts(driver, "#pages tbody td:first-child") == [data.start_url + "missing.html"]


def check_items(driver: WebDriver, data: DashboardData) -> None:
    found = " ".join(texts(driver, "#items pre.data"))
    assert HOSTILE_NAME in found and "Plain widget 100%_off" in found


def check_log(driver: WebDriver, data: DashboardData) -> None:
    log = driver.find_element(By.ID, "log").text
    assert "Spider closed (finished)" in log


def check_job(driver: WebDriver, data: DashboardData) -> None:
    [row] = driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")
    assert "succeeded" in row.text and "manual" in row.text
    row.find_element(By.LINK_TEXT, str(data.run_id))  # linked to the run


def check_report(driver: WebDriver, data: DashboardData) -> None:
    if not HAS_REPORT:
        assert driver.find_element(By.TAG_NAME, "h1").text == "Report not available"
        return
    WebDriverWait(driver, 15).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".main-svg"), "no chart rendered"
    )


PAGES: list[tuple[str, str, Callable[[WebDriver, Any], None]]] = [
    ("index", "/", check_index),
    ("run", "/runs/{run}", check_run),
    ("pages", "/runs/{run}/pages", check_pages),
    ("search", "/runs/{run}/pages?q=MISSING&status=4xx", check_search),
    ("items", "/runs/{run}/items?spec=gadget", check_items),
    ("log", "/runs/{run}/log", check_log),
    ("job", f"/jobs/{JOB}", check_job),
    ("report", "/runs/{run}/report", check_report),
]


@pytest.mark.parametrize(("name", "path", "check"), PAGES, ids=[p[0] for p in PAGES])
def test_page_renders_without_errors(
    name: str,
    path: str,
    check: Callable[[WebDriver, Any], None],
    handle: DriverHandle,
    server: ServeProcess,
    dashboard_data: DashboardData,
    tmp_path: Path,
) -> None:
    driver = handle.driver
    driver.get_log("performance")  # drop the previous pages' events
    driver.get(server.base() + path.format(run=dashboard_data.run_id))
    check(driver, dashboard_data)
    driver.save_screenshot(str(tmp_path / f"{name}.png"))
    assert (tmp_path / f"{name}.png").stat().st_size > 1000
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    dialogs = [
        e["message"]
        for e in driver.get_log("performance")
        if "Page.javascriptDialogOpening" in e["message"]
    ]
    assert dialogs == []
    if name != "report":  # the dashboard's own pages run no script and show no image
        assert driver.find_elements(By.CSS_SELECTOR, "script, img") == []
