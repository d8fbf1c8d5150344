"""CPU per 1,000 rows of a crawl written through ``SqlStore.write_batch``: PostgreSQL and SQLite.

``python -m bench.bench_store_rows [--pages 5000] [--links 11] [--batch-size 1000] [--rounds 3]``

The rows a plain crawl of the benchmark catalogue sends to the store (one page
row and ``--links`` link rows per page, the page's own links; URLs, titles and
columns as :class:`crawler.items.PageRecord` and the store pipeline make them)
are cut into batches as the pipeline cuts them (a batch is sent once
``--batch-size`` rows wait, ``CRAWLER_STORE_BATCH_SIZE``) and written again,
batch after batch, into an empty store.  Reported per 1,000 rows: the client's
CPU milliseconds (this process: SQLAlchemy, the driver) and, for PostgreSQL, the
server's (postmaster and backends, :func:`bench.sites.process_tree_cpu`), both
user + system.  CPU times, not wall: the machine is shared.  PostgreSQL is a
throwaway server (``tests.pgserver``) started here.  Stores take turns within
each round; the best round counts.

Run it with another tree's code to compare (the module only needs
``crawler.storage.sql``): ``PYTHONPATH=OTHER python bench/bench_store_rows.py``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.sites import process_tree_cpu
from crawler.storage.sql import SqlStore
from tests.pgserver import PostgresServer

if TYPE_CHECKING:
    from collections.abc import Callable

Batch = tuple[list[dict[str, Any]], list[dict[str, Any]]]  # page rows, link rows
BASE = "http://127.0.0.1:8000/catalog/item"


def crawl_batches(pages: int, links: int, batch_size: int) -> list[Batch]:
    """The page and link rows of a crawl of ``pages`` pages, in the pipeline's batches."""
    batches: list[Batch] = []
    page_rows: list[dict[str, Any]] = []
    link_rows: list[dict[str, Any]] = []
    for n in range(pages):
        url = f"{BASE}/{n}.html"
        page_rows.append(
            {
                "url": url,
                "final_url": url,
                "status": 200,
                "content_type": "text/html",
                "title": f"Compact Oak Desk Lamp {n} | Tiny Shop",
                "depth": 1 + n % 7,
                "found_via": "link",
                "referer": f"{BASE}/{max(0, n - 1)}.html",
                "rendered": False,
                "fetched_at": f"2026-12-02T04:{n // 600 % 60:02d}:{n // 10 % 60:02d}.{n:06d}+00:00",
                "error": None,
                "notes": None,
                "etag": None,
                "last_modified": "Wed, 02 Dec 2026 04:00:00 GMT",
                "digest": f"{n:064x}",
                "unchanged": False,
                "latency": 0.001 + n % 13 / 1000,
            }
        )
        for k in range(links):
            target = (n * 7 + k * 131) % pages
            link_rows.append(
                {
                    "source": url,
                    "url": f"{BASE}/{target}.html",
                    "found_via": "link",
                    "text": f"Related product {target}",
                    "refused": None,
                }
            )
        if len(page_rows) + len(link_rows) >= batch_size:
            batches.append((page_rows, link_rows))
            page_rows, link_rows = [], []
    if page_rows or link_rows:
        batches.append((page_rows, link_rows))
    return batches


def write(url: str, batches: list[Batch], server_pid: int | None) -> tuple[float, float, int]:
    """(client CPU s, server CPU s, rows) to write ``batches`` into a fresh run at ``url``."""
    store = SqlStore.open(url)
    try:
        run_id = store.start_run("bench_store_rows", f"{BASE}/0.html", {})
        rows = sum(len(p) + len(links) for p, links in batches)
        server = process_tree_cpu(server_pid) if server_pid else 0.0
        client = time.process_time()
        for page_rows, link_rows in batches:
            store.write_batch(run_id, page_rows=page_rows, link_rows=link_rows)
        client = time.process_time() - client
        server = (process_tree_cpu(server_pid) - server) if server_pid else 0.0
        stored = len(store.link_rows(run_id)) + len(store.pages(run_id))
        assert stored == len({(r["source"], r["url"]) for _, ls in batches for r in ls}) + sum(
            len(p) for p, _ in batches
        ), "every row stored"
    finally:
        store.close()
    return client, server, rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--links", type=int, default=11, help="link rows per page")
    parser.add_argument("--batch-size", type=int, default=1000, help="rows per batch")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best one counts")
    args = parser.parse_args(argv)
    batches = crawl_batches(args.pages, args.links, args.batch_size)
    best: dict[str, tuple[float, float, int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-store-rows-") as tmp:
        runs = iter(range(1_000_000))
        server = PostgresServer(database="bench").start()
        try:
            postmaster = int((server.dir / "postmaster.pid").read_text().split()[0])

            def fresh_sqlite() -> tuple[str, int | None]:
                return f"sqlite:///{Path(tmp) / f'rows-{next(runs)}.db'}", None

            def fresh_postgresql() -> tuple[str, int | None]:
                server.reset()
                return server.url, postmaster

            stores: dict[str, Callable[[], tuple[str, int | None]]] = {
                "postgresql": fresh_postgresql,
                "sqlite": fresh_sqlite,
            }
            for _ in range(args.rounds):
                for name, fresh in stores.items():
                    url, pid = fresh()
                    result = write(url, batches, pid)
                    if name not in best or sum(result[:2]) < sum(best[name][:2]):
                        best[name] = result
        finally:
            server.stop()
    header = f"{'store':<11} {'rows':>7} {'batches':>7} {'client ms/1k':>12} {'server ms/1k':>12}"
    print(header)
    print("-" * len(header))
    for name, (client, server_cpu, rows) in best.items():
        shown = f"{server_cpu / rows * 1e6:>12.1f}" if name == "postgresql" else f"{'-':>12}"
        print(f"{name:<11} {rows:>7} {len(batches):>7} {client / rows * 1e6:>12.1f} {shown}")


if __name__ == "__main__":
    main()
