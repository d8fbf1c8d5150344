"""``make demo``: serve the tinysite fixture, crawl it into ``crawl.db``, print a summary."""

from __future__ import annotations

import subprocess
import sys

from crawler.cli import main as crawler_main
from crawler.storage.sql import SqlStore
from crawler.summary import pages_table

STORE_URL = "sqlite:///crawl.db"


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
        if code == 0:
            store = SqlStore.open(STORE_URL)
            try:
                run_id = store.runs(limit=1)[0]["id"]
                print("\nPages of this run:\n")
                print(pages_table(store, run_id, base_url))
            finally:
                store.close()
        return code
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
