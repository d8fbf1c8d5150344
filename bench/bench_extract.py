"""Per-page extraction time: lxml engine vs BeautifulSoup (lxml) vs BeautifulSoup (html.parser).

Run with ``python -m bench.bench_extract``.  Each workload is a page and a
spec; every engine decodes, parses and extracts the same bytes, and the
engines take turns within each round so they see the same machine state.
The time per page is the best round's mean.  Two baselines give the floor on
the generated catalogue page: lxml parsing alone, and hand-written lxml +
XPath code that produces the same items (checked) without a spec.

``--against REV`` adds the html.parser engine as it was at git revision REV
(its ``crawler/extract/soup.py`` loaded beside today's), to measure a change
to the soup building side by side in one run.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from lxml import etree

from crawler.extract.bs4_engine import Bs4Engine, SoupPage
from crawler.extract.engines import ENGINE_NAMES, get_engine
from crawler.extract.loader import load_spec, spec_from_dict
from crawler.extract.lxml_engine import parse_html
from crawler.extract.spec import ItemSpec
from crawler.extract.text import decode_body
from tests.test_extract_golden import CASES

if TYPE_CHECKING:
    from crawler.extract.engine import Engine

CATALOGUE_SPEC = {
    "name": "product",
    "item": "css:div.product",
    "key": ["sku"],
    "fields": {
        "sku": {"take": "attr:data-sku", "required": True},
        "name": {"selector": "css:h2 a", "required": True},
        "url": {"selector": "css:h2 a::attr(href)", "process": ["absolute_url"]},
        "price": {"selector": "css:.price", "process": [{"regex": r"([\d.]+)"}, "decimal"]},
        "in_stock": {"selector": "css:.stock::attr(data-available)", "process": ["bool"]},
        "tags": {"selector": "css:ul.tags li", "many": True},
    },
}


def catalogue_page(products: int = 16) -> bytes:
    """A catalogue-like page of about 5 KB (16 products)."""
    cards = []
    for n in range(products):
        tags = "".join(f"<li>tag{(n + k) % 7}</li>" for k in range(3))
        cards.append(
            f'<div class="product" data-sku="SKU-{n:04d}">\n'
            f'  <h2><a href="/catalogue/item/{n}.html">Product number {n}</a></h2>\n'
            f'  <p class="price">&pound; {10 + n * 1.25:.2f}</p>\n'
            f'  <p class="stock" data-available="{"yes" if n % 3 else "no"}">Stock</p>\n'
            f'  <ul class="tags">{tags}</ul>\n'
            "</div>"
        )
    nav = " | ".join(f'<a href="/catalogue/?page={p}">{p}</a>' for p in range(1, 11))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Catalogue</title>"
        "<link rel=stylesheet href=/style.css></head><body>"
        f"<header><h1>Catalogue</h1><nav>{nav}</nav></header>"
        f"<main class='grid'>\n{chr(10).join(cards)}\n</main>"
        "<footer><p>All prices include VAT.</p></footer></body></html>"
    ).encode()


_XPATHS = {
    "items": etree.XPath("//div[@class='product']"),
    "name": etree.XPath(".//h2/a"),
    "url": etree.XPath(".//h2/a/@href"),
    "price": etree.XPath(".//p[@class='price']/text()"),
    "stock": etree.XPath(".//p[@class='stock']/@data-available"),
    "tags": etree.XPath(".//ul[@class='tags']/li/text()"),
}
_PRICE = re.compile(r"([\d.]+)")


def raw_lxml_extract(body: bytes, url: str) -> list[dict[str, object]]:
    """The floor: what a careful hand-written lxml + XPath script does for
    the same items and values, without a spec."""
    root = parse_html(decode_body(body))
    items = []
    for item in _XPATHS["items"](root):
        (name,) = _XPATHS["name"](item)
        price = _PRICE.search(" ".join(_XPATHS["price"](item)))
        items.append(
            {
                "sku": item.get("data-sku"),
                "name": " ".join((name.text or "").split()),
                "url": urljoin(url, _XPATHS["url"](item)[0].strip()),
                "price": Decimal(price.group(1)) if price else None,
                "in_stock": _XPATHS["stock"](item)[0].strip().lower() == "yes",
                "tags": [" ".join(t.split()) for t in _XPATHS["tags"](item)],
            }
        )
    return items


Job = tuple[ItemSpec, bytes, str, str | None]


def _engine_runner(engine: Engine, jobs: list[Job], repeat: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(repeat):
            for spec, body, url, encoding in jobs:
                engine.extract(spec, body, url, encoding)

    return run


def _baseline_runner(
    func: Callable[[bytes], object], body: bytes, repeat: int
) -> Callable[[], None]:
    def run() -> None:
        for _ in range(repeat):
            func(body)

    return run


class SoupAtRevision(Bs4Engine):
    """The html.parser engine with the soup building of another revision."""

    def __init__(self, revision: str) -> None:
        super().__init__("html.parser")
        source = subprocess.run(
            ["git", "show", f"{revision}:crawler/extract/soup.py"],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(source)
        spec = importlib.util.spec_from_file_location(f"soup_at_{revision}", f.name)
        assert spec is not None and spec.loader is not None
        self.module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = self.module
        spec.loader.exec_module(self.module)
        self.name = f"bs4-html.parser@{revision}"

    def _make_page(self, url: str, text: str) -> SoupPage:
        return SoupPage(url, text, self.module.parse_soup(text, self.parser))


def _reads(engine: Engine, job: Job) -> bool:
    try:
        engine.extract(*job)
    except Exception:
        return False
    return True


def measure(
    workloads: dict[str, list[Job]], repeat: int, rounds: int, extra: Engine | None = None
) -> dict[str, dict[str, float]]:
    """Best-round milliseconds per page, by workload and engine (and ``extra``)."""
    engines: dict[str, Engine] = {name: get_engine(name) for name in ENGINE_NAMES}
    if extra is not None:
        engines[extra.name] = extra
    results: dict[str, dict[str, float]] = {}
    for workload, jobs in workloads.items():
        runners = {name: _engine_runner(e, jobs, repeat) for name, e in engines.items()}
        if len(jobs) == 1:
            body = jobs[0][1]
            runners["lxml parse only"] = _baseline_runner(
                lambda b: parse_html(decode_body(b)), body, repeat
            )
            url = jobs[0][2]
            runners["hand-written lxml"] = _baseline_runner(
                partial(raw_lxml_extract, url=url), body, repeat
            )
            engine_items = [i.data for i in engines["lxml"].extract(*jobs[0])]
            assert engine_items == raw_lxml_extract(body, url), "the baseline must agree"
        for run in runners.values():
            run()  # warm up: compile selectors, fill caches
        timings: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(rounds):
            for name, run in runners.items():
                start = time.perf_counter()
                run()
                timings[name].append((time.perf_counter() - start) * 1000 / (repeat * len(jobs)))
        results[workload] = {name: min(values) for name, values in timings.items()}
    return results


def golden_jobs() -> list[Job]:
    return [(load_spec(c.spec_path), c.body, c.url, c.encoding) for c in CASES]


def print_table(results: dict[str, dict[str, float]], sizes: dict[str, str]) -> None:
    header = f"{'workload':<40} {'engine':<26} {'ms/page':>9} {'vs lxml':>8}"
    print(header)
    print("-" * len(header))
    for workload, timings in results.items():
        base = timings["lxml"]
        for name, ms in timings.items():
            label = f"{workload} ({sizes[workload]})" if name == "lxml" else ""
            print(f"{label:<40} {name:<26} {ms:>9.3f} {ms / base:>7.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="passes over the pages per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best one counts")
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also time the html.parser engine with crawler/extract/soup.py of git revision REV",
    )
    args = parser.parse_args(argv)
    catalogue = catalogue_page()
    golden = golden_jobs()
    old = SoupAtRevision(args.against) if args.against else None
    if old is not None:  # only the pages the old revision can read, for every engine alike
        golden = [job for job in golden if _reads(old, job)]
    workloads = {
        "catalogue page, 16 items": [
            (spec_from_dict(CATALOGUE_SPEC), catalogue, "http://127.0.0.1:8000/catalogue/", None)
        ],
        "golden corpus": golden,
    }
    sizes = {
        "catalogue page, 16 items": f"{len(catalogue) / 1024:.1f} KB",
        "golden corpus": f"{len(golden)} pages, "
        f"{sum(len(j[1]) for j in golden) / len(golden) / 1024:.1f} KB avg",
    }
    results = measure(workloads, args.repeat, args.rounds, old)
    print_table(results, sizes)


if __name__ == "__main__":
    main()
