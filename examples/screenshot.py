"""A full-page PNG of a report in headless Chromium.

``python -m examples.screenshot REPORT.html OUT.png`` (a missing REPORT.html:
one line on standard error, exit code 2, no browser started).

How the README's ``docs/report.png`` was taken (the report ``make demo``
writes).  The browser is started as a crawl starts it
(:func:`crawler.browser.driver.create_driver`: offline, private HOME and
TMPDIR, nothing left running), 1280 CSS pixels wide; the page is made as
tall as the report, once every chart has been drawn.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from selenium.webdriver.support.wait import WebDriverWait

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.driver import create_driver

WIDTH = 1280  # CSS pixels
CHARTS_DRAWN = (
    "return [...document.querySelectorAll('div.chart')].every(d => d.querySelector('.main-svg'))"
)


def screenshot(report: str, output: str) -> None:
    """Write a PNG of the whole page ``report`` (an HTML file) to ``output``."""
    # A copy the browser can read wherever the report is: as root, Chromium runs
    # as a user of its own (crawler.browser.confine).
    folder = tempfile.mkdtemp(prefix="report-shot-")
    os.chmod(folder, 0o711)
    page = os.path.join(folder, "report.html")
    shutil.copyfile(report, page)
    os.chmod(page, 0o644)
    settings = {"SELENIUM_WINDOW_SIZE": f"{WIDTH},900", "SELENIUM_ALLOWED_HOSTS": ["127.0.0.1"]}
    handle = create_driver(BrowserConfig.from_settings(framework_settings(settings)))
    try:
        driver = handle.driver
        driver.get(f"file://{page}")
        WebDriverWait(driver, 20).until(lambda d: d.execute_script(CHARTS_DRAWN))
        # The window's size counts its frame: the viewport is made the page's size.
        extra_w, extra_h, height = driver.execute_script(
            "return [outerWidth - innerWidth, outerHeight - innerHeight,"
            " document.documentElement.scrollHeight]"
        )
        driver.set_window_size(WIDTH + extra_w, height + extra_h)
        driver.save_screenshot(output)
    finally:
        handle.close()
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.screenshot", description=__doc__)
    parser.add_argument("report", help="the report's HTML file (crawler report)")
    parser.add_argument("output", help="the PNG to write")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.report):
        print(
            f"error: no report file {args.report}: write one with `crawler report RUN`",
            file=sys.stderr,
        )
        return 2
    screenshot(args.report, args.output)
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
