"""``make demo``: serve the tinysite fixture, crawl it into ``crawl.db``, print a summary
and write the run's HTML report (``report-RUN.html``, ``crawler report``)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

from crawler.cli import main as crawler_main
from crawler.exceptions import LoginError
from crawler.storage.sql import SqlStore
from crawler.summary import pages_table
from examples import mscrape
from fixtures.tinysite import payments
from spiders.payments import parse_bs4, parse_lxml

STORE_URL = "sqlite:///crawl.db"
DEMO_USER = mscrape.BOOK_USERNAME  # the book's brandon, with the book's password


def start_fixture() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "fixtures.tinysite", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert server.stdout is not None
    base_url = server.stdout.readline().strip()
    if not base_url.startswith("http"):
        server.kill()
        raise SystemExit("error: the tinysite fixture did not start")
    return server, base_url


def print_payments(base_url: str) -> None:
    """The book's second example (``mscrape.py -s``): log in as brandon, total his payments.

    The login runs in the browser (it would work for a script-only login too) and
    hands its cookies to a plain ``requests`` session, which fetches the index;
    lxml and BeautifulSoup both read it.
    """
    app = base_url + payments.INDEX_PATH
    print(
        f"\nThe book's mscrape.py: logging in to {app} as {DEMO_USER} "
        "(in the browser, then plain HTTP)...\n"
    )
    page = mscrape.download_page(app, DEMO_USER, mscrape.BOOK_PASSWORD, via="browser")
    by_lxml, by_bs4 = parse_lxml(page.content), parse_bs4(page.content)
    for line in mscrape.report(by_bs4):
        print(line)
    agree = "the same" if by_lxml == by_bs4 else "DIFFERENT"
    made = sum(p.amount for p in by_lxml if p.direction == "to")
    print(
        f"\nBeautifulSoup and lxml read {agree} {len(by_bs4)} payments "
        f"(payments made: {made} by lxml)"
    )


def main() -> int:
    server, base_url = start_fixture()
    try:
        print(f"tinysite fixture at {base_url}\n")
        code = crawler_main(
            [
                "crawl",
                base_url + "/",
                "--render",
                "auto",
                "--forms",
                "get",
                "--store",
                STORE_URL,
                "--log-level",
                "WARNING",
                # the fixture is on loopback: the browser has nothing else to look up
                "-s",
                "SELENIUM_ALLOWED_HOSTS=127.0.0.1",
            ]
        )
        if code != 0:
            return code
        store = SqlStore.open(STORE_URL)
        try:
            run_id = store.runs(limit=1)[0]["id"]
            print("\nPages of this run:\n")
            print(pages_table(store, run_id, base_url))
        finally:
            store.close()
        # crawler report names the file twice (a line on stderr, the path on stdout):
        # the demo says it once, and shows crawler report's words only if it failed.
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = crawler_main(["report", str(run_id), "--store", STORE_URL])
        if code != 0:
            print(err.getvalue(), end="", file=sys.stderr)
            return code
        path = out.getvalue().strip()
        print(f"\nThe run's report (charts, errors, traps; `crawler report RUN`): {path}")
        try:
            print_payments(base_url)
        except (LoginError, mscrape.ScrapeError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
