"""Items/s into SQLite and PostgreSQL through the store pipeline: batched vs a commit per item.

Run with ``python -m bench.bench_store``.  The pipeline is built with
``get_crawler`` and driven directly on an asyncio loop, as Scrapy drives it:
``open_spider``, ``process_item`` for every item, ``close_spider`` (the last
flush).  The time is from the first item to the end of the last flush, so it
includes the worker-thread hand-offs, JSON encoding, upserts and commits.  Every
configuration stores the same extracted items into an empty store; PostgreSQL
is a throwaway server (``tests.pgserver``) started here and stopped at the end.
Configurations take turns within each round; the best round counts.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import Spider
from scrapy.utils.test import get_crawler

from crawler import default_settings
from crawler.extract.result import ExtractedItem
from crawler.pipelines.store import StorePipeline
from tests.pgserver import PostgresServer

if TYPE_CHECKING:
    from collections.abc import Callable


class BenchSpider(Spider):
    name = "bench_store"


def make_items(count: int) -> list[ExtractedItem]:
    """Catalogue-like products: six fields, a list among them, keyed by SKU."""
    return [
        ExtractedItem(
            "product",
            f"http://127.0.0.1:8000/catalog/item/{n}.html",
            {
                "sku": f"TS-{n:07d}",
                "name": f"Compact Oak Desk Lamp {n}",
                "price": round(4.99 + (n * 7.31) % 495, 2),
                "stock": n % 250,
                "in_stock": n % 3 != 0,
                "features": ["Tool-free adjustment", "Low-energy operation", f"Model {n % 17}"],
            },
            {},
            ("sku",),
        )
        for n in range(count)
    ]


def store_items(url: str, batch_size: int, items: list[ExtractedItem]) -> float:
    """Seconds to push ``items`` through a fresh pipeline into ``url``."""
    crawler = get_crawler(
        BenchSpider,
        {
            # get_crawler knows Scrapy's defaults only, not crawler.default_settings
            "CRAWLER_STORE_ENABLED": True,
            "CRAWLER_STORE_URL": url,
            "CRAWLER_STORE_BATCH_SIZE": batch_size,
        },
    )
    crawler.spider = BenchSpider.from_crawler(crawler)
    pipeline = StorePipeline.from_crawler(crawler)

    async def run() -> float:
        await pipeline.open_spider()
        start = time.perf_counter()
        for item in items:
            await pipeline.process_item(item)
        await pipeline.close_spider()
        elapsed = time.perf_counter() - start
        await pipeline.spider_closed(crawler.spider, "finished")
        assert crawler.stats.get_value("store/items_written") == len(items), "all written"
        return elapsed

    return asyncio.run(run())


def measure(
    stores: dict[str, Callable[[], str]], batch_sizes: list[int], count: int, rounds: int
) -> dict[tuple[str, int], float]:
    """Best-round seconds by (store, batch size); each run starts from an empty store."""
    items = make_items(count)
    timings: dict[tuple[str, int], list[float]] = {
        (store, size): [] for store in stores for size in batch_sizes
    }
    for _ in range(rounds):
        for store, fresh_url in stores.items():
            for size in batch_sizes:
                timings[(store, size)].append(store_items(fresh_url(), size, items))
    return {config: min(values) for config, values in timings.items()}


def print_table(results: dict[tuple[str, int], float], count: int) -> None:
    header = (
        f"{'store':<12} {'batch size':>10} {'items':>7} {'seconds':>8} {'items/s':>9} {'vs 1':>7}"
    )
    print(header)
    print("-" * len(header))
    for (store, size), seconds in results.items():
        one_by_one = results[(store, 1)]
        print(
            f"{store:<12} {size:>10} {count:>7} {seconds:>8.3f} {count / seconds:>9.0f} "
            f"{one_by_one / seconds:>6.1f}x"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000, help="items per run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best one counts")
    args = parser.parse_args(argv)
    batched = default_settings.CRAWLER_STORE_BATCH_SIZE
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        runs = iter(range(1_000_000))
        server = PostgresServer(database="bench").start()
        try:

            def fresh_sqlite() -> str:
                return f"sqlite:///{Path(tmp) / f'bench-{next(runs)}.db'}"

            def fresh_postgresql() -> str:
                server.reset()
                return server.url

            stores = {"sqlite": fresh_sqlite, "postgresql": fresh_postgresql}
            results = measure(stores, [batched, 1], args.items, args.rounds)
        finally:
            server.stop()
    print_table(results, args.items)


if __name__ == "__main__":
    main()
