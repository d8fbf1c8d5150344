"""``make demo``: serve the tinysite fixture, crawl it into ``crawl.db``, print a summary."""

from __future__ import annotations

import subprocess
import sys

from crawler.cli import main as crawler_main
from crawler.login.session import login_session
from crawler.storage.sql import SqlStore
from crawler.summary import pages_table
from fixtures.tinysite import payments
from spiders.payments import parse_bs4, parse_lxml, payments_table, total

STORE_URL = "sqlite:///crawl.db"
DEMO_USER = "alice"


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
    """The book's second example: log in to the bank, total the payments with lxml and bs4.

    The login runs in the browser (it would work for a script-only login too) and
    hands its cookies to a plain ``requests`` session, which fetches the page.
    """
    user = DEMO_USER
    print(f"\nLogging in to the payments app as {user} (in the browser, then plain HTTP)...\n")
    with login_session(
        base_url + payments.LOGIN_PATH,
        user,
        payments.USERS[user],  # the fixture's own demo account
        via="browser",
        browser_settings={"SELENIUM_ALLOWED_HOSTS": ["127.0.0.1"]},
    ) as http:
        page = http.get(base_url + payments.INDEX_PATH, timeout=30)
    page.raise_for_status()
    by_lxml, by_bs4 = parse_lxml(page.content), parse_bs4(page.content)
    print(payments_table(by_lxml))
    agree = "the same" if by_lxml == by_bs4 else "DIFFERENT"
    print(
        f"BeautifulSoup and lxml read {agree} {len(by_bs4)} payments: "
        f"total {total(by_bs4).total:+d} and {total(by_lxml).total:+d}"
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
        print_payments(base_url)
        return 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
