"""Cost of :func:`crawler.redaction.redact_text` on 100,000 typical log records.

Run with ``python -m bench.bench_redaction [--baseline PATH]``.  The records
are what a crawl logs most (Scrapy's "Crawled", "Scraped from", offsite and
retry lines, our outcome lines), a few with a query string, an ``@`` or a
cookie header.  ``--baseline``: another ``redaction.py`` (say, ``git show
main:crawler/redaction.py > /tmp/old_redaction.py``) timed in the same run,
alternating rounds; the best of 5 rounds is reported for each.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable
from pathlib import Path

from crawler.redaction import redact_text

RECORDS = 100_000
ROUNDS = 5
TYPICAL = (
    "Crawled (200) <GET http://127.0.0.1:8000/catalog/item/{i}.html> "
    "(referer: http://127.0.0.1:8000/catalog/)",
    "Scraped from <200 http://127.0.0.1:8000/catalog/item/{i}.html>\n"
    "{{'url': 'http://127.0.0.1:8000/catalog/item/{i}.html', 'title': 'Item {i}', 'price': 12}}",
    "Filtered offsite request to 'cdn.example.org': <GET https://cdn.example.org/a/{i}.js>",
    "Retrying <GET http://127.0.0.1:8000/slow?page={i}&sort=asc> (failed 1 times): 503",
    "Crawled (404) <GET http://127.0.0.1:8000/missing/{i}> (referer: None)",
    "Ignoring link http://127.0.0.1:8000/search?q=item{i}&page=2: max_query_params",
    "Sending cookies to: <GET http://127.0.0.1:8000/pay/{i}>\nCookie: session=abc{i}",
    "Gave up on mailto:sales{i}@example.org: not an http URL",
)


def records(count: int = RECORDS) -> list[str]:
    """``count`` records, the :data:`TYPICAL` shapes in turn with a page number."""
    return [TYPICAL[i % len(TYPICAL)].format(i=i) for i in range(count)]


def timed(redact: Callable[[str], str], texts: list[str]) -> float:
    """Seconds to redact every text once."""
    start = time.perf_counter()
    for text in texts:
        redact(text)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another redaction.py to time alongside")
    args = parser.parse_args(argv)
    candidates: dict[str, Callable[[str], str]] = {"this tree": redact_text}
    if args.baseline:
        spec = importlib.util.spec_from_file_location("baseline_redaction", args.baseline)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        candidates["baseline"] = module.redact_text
    texts = records()
    best = {name: float("inf") for name in candidates}
    for _ in range(ROUNDS):
        for name, redact in candidates.items():
            best[name] = min(best[name], timed(redact, texts))
    print(f"{'redact_text':<12} {'s / 100k':>9} {'us / record':>12}")
    for name, seconds in best.items():
        print(f"{name:<12} {seconds:>9.3f} {seconds / len(texts) * 1e6:>12.2f}")


if __name__ == "__main__":
    main()
