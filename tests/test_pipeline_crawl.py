"""The extraction chain in real crawls: extract -> validate -> dedup -> store.

Each crawl is a ``crawler`` (or test spider) subprocess against the tinysite,
into a real SQLite file or the session's real PostgreSQL server.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from crawler.cli import main
from crawler.storage.sql import SqlStore
from fixtures.tinysite.payments import EXPECTED_PAYMENTS, RESET_PATH, USERS
from tests.crawltools import crawl, run_crawler, run_scrapy, subprocess_env

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite
    from tests.pgserver import PostgresServer

SPECS = Path(__file__).parent / "specs"
CATALOG_SPEC = str(SPECS / "catalog.yaml")
STRICT_SPEC = str(SPECS / "catalog_strict.yaml")
STORE_PASSWORD = "pw-never-shown-42"


def stored(url: str) -> SqlStore:
    return SqlStore.open(url)


@pytest.mark.parametrize("mode", ["http", "rendered"])
def test_payments_are_extracted_with_integer_amounts(
    tinysite: TinySite, tmp_path: Path, mode: str
) -> None:
    urllib.request.urlopen(urllib.request.Request(tinysite.url(RESET_PATH), method="POST")).close()
    db = tmp_path / "pay.db"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.payments_crawl", tinysite.base_url, str(db), mode],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=subprocess_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    store = stored(f"sqlite:///{db}")
    try:
        [run] = store.runs()
        items = store.items("payment")
    finally:
        store.close()
    assert run["stats"]["payments_test/rendered"] is (mode == "rendered")
    assert run["stats"]["extract/items/payment"] == len(EXPECTED_PAYMENTS["alice"])
    got = sorted((i["data"] for i in items), key=lambda d: (d["amount"], d["counterparty"]))
    expected = sorted(
        (asdict(p) for p in EXPECTED_PAYMENTS["alice"]),
        key=lambda d: (d["amount"], d["counterparty"]),
    )
    assert got == expected
    assert all(type(d["amount"]) is int for d in got)
    assert {i["url"] for i in items} == {tinysite.url("/pay/")}
    # the login went through the crawl; its password reached neither the store nor the log
    assert USERS["alice"].encode() not in db.read_bytes()
    assert USERS["alice"] not in proc.stderr


@pytest.fixture(scope="module")
def strict_crawl(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One crawl of 40 catalogue items with a spec that 6 of them break."""
    tmp_path = tmp_path_factory.mktemp("strict")
    result = crawl(tinysite.url("/catalog/?size=40"), tmp_path, "--extract", STRICT_SPEC)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "items of spec" in result.stdout
    return result.db


def test_invalid_items_land_in_the_rejects_table_and_stats_match(strict_crawl: Path) -> None:
    store = stored(f"sqlite:///{strict_crawl}")
    try:
        [run] = store.runs()
        rejects = store.rejects(run["id"])
        items = store.items("strict_product")
    finally:
        store.close()
    stats = run["stats"]
    kinds = Counter(r["reason"].split(":", 1)[0] for r in rejects)
    assert kinds == {"missing_required": 4, "conversion": 2}
    assert kinds == {
        key.removeprefix("validate/dropped/"): n
        for key, n in stats.items()
        if key.startswith("validate/dropped/")
    }
    assert stats["store/rejects_written"] == len(rejects)
    assert stats["extract/items/strict_product"] == len(items) + len(rejects) == 40
    assert stats["store/items_written"] == len(items)
    for reject in rejects:
        assert reject["spec"] == "strict_product"
        assert reject["url"].startswith("http://127.0.0.1:")
        if reject["reason"].startswith("missing_required"):
            assert reject["reason"].startswith("missing_required: colour: required field")
            assert reject["data"]["colour"] is None
        else:
            assert reject["reason"].startswith("conversion: rating: float: not a number: '")
            assert reject["data"]["rating"] is None
        assert reject["data"]["sku"].startswith("TS-")


def test_runs_lists_pages_items_and_rejects(
    strict_crawl: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "--store", f"sqlite:///{strict_crawl}"]) == 0
    header, _, row = capsys.readouterr().out.splitlines()
    assert header.split()[-3:] == ["pages", "items", "rejects"]
    assert row.split()[-4:] == ["finished", "41", "34", "6"]


def test_export_writes_items_and_rejects_as_csv_and_jsonl(
    strict_crawl: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_url = f"sqlite:///{strict_crawl}"
    out = strict_crawl.parent / "items.csv"
    assert main(["export", "1", "--format", "csv", "--store", store_url, "-o", str(out)]) == 0
    assert "34 items written" in capsys.readouterr().err
    lines = out.read_text().splitlines()
    assert lines[0] == "url,sku,colour,rating"  # as the --output-items feed has them
    assert len(lines) == 1 + 34
    assert all(line.startswith("http://127.0.0.1:") for line in lines[1:])

    assert main(["export", "1", "--what", "rejects", "--store", store_url]) == 0
    rejects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rejects) == 6
    assert set(rejects[0]) == {"spec", "url", "reason", "sku", "colour", "rating"}

    assert main(["export", "1", "--what", "pages", "--format", "csv", "--store", store_url]) == 0
    pages = capsys.readouterr().out.splitlines()
    assert pages[0].startswith("url,final_url,status") and len(pages) == 1 + 41

    assert main(["export", "9", "--store", store_url]) == 2
    assert "there is no run 9" in capsys.readouterr().err


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "postgresql?password="])
def test_the_same_crawl_twice_updates_each_item_once(
    tinysite: TinySite, tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    if database == "sqlite":
        store_url = f"sqlite:///{tmp_path / 'twice.db'}"
    elif database == "postgresql":
        # The test server trusts every local connection: the password is only checked
        # for never reaching the log or the run's recorded settings.
        store_url = request.getfixturevalue("postgres_url").replace(
            "postgres@", f"postgres:{STORE_PASSWORD}@"
        )
    else:  # libpq also takes it as a query parameter
        store_url = request.getfixturevalue("postgres_url") + f"?password={STORE_PASSWORD}"
    start = tinysite.url("/catalog/?size=20")
    for _ in range(2):
        proc = run_crawler(
            "crawl", start, "--store", store_url, "--extract", CATALOG_SPEC, cwd=tmp_path
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert STORE_PASSWORD not in proc.stdout + proc.stderr
    store = stored(store_url)
    try:
        runs = store.runs()
        items = store.items("product")
    finally:
        store.close()
    assert [r["finish_reason"] for r in runs] == ["finished", "finished"]
    second, first = (r["id"] for r in runs)
    assert len(items) == 20
    assert sorted(i["data"]["sku"] for i in items) == [f"TS-{n:07d}" for n in range(20)]
    assert {(i["run_id"], i["first_run_id"]) for i in items} == {(second, first)}
    assert all(isinstance(i["data"]["price"], float) for i in items)
    # both runs wrote (and so show) every item
    assert [r["stats"]["store/items_written"] for r in runs] == [20, 20]
    assert STORE_PASSWORD not in json.dumps([r["settings"] for r in runs])


def _stored_items(server: PostgresServer) -> int:
    try:
        with psycopg.connect(
            f"host=127.0.0.1 port={server.port} user=postgres dbname={server.database}",
            connect_timeout=2,
        ) as conn:
            row = conn.execute("select count(*) from items").fetchone()
    except psycopg.Error:  # the tables do not exist yet
        return 0
    return int(row[0]) if row else 0


def test_killing_postgresql_mid_crawl_stops_it_and_keeps_the_items(
    tinysite: TinySite, tmp_path: Path, postgres_server: PostgresServer, postgres_url: str
) -> None:
    fallback_dir = tmp_path / "unwritten"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "crawl",
            tinysite.url("/catalog/?size=400&delay=40"),
            "--store",
            postgres_url,
            "--extract",
            CATALOG_SPEC,
            "-s",
            "CRAWLER_STORE_BATCH_SIZE=5",
            "-s",
            f"CRAWLER_STORE_FALLBACK_DIR={fallback_dir}",
            "-s",
            "CONCURRENT_REQUESTS=4",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    try:
        deadline = time.monotonic() + 30
        while _stored_items(postgres_server) < 10:
            assert time.monotonic() < deadline, "the crawl never stored anything"
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.05)
        postgres_server.kill()
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        postgres_server.restart()

    assert proc.returncode == 1, stderr[-3000:]
    assert re.search(rf"error: cannot write [a-z ]+ to store {re.escape(postgres_url)}: ", stderr)
    summary = stderr.splitlines()[-1]  # the final line: rows saved in the run's file, rows lost
    [fallback] = fallback_dir.iterdir()
    assert summary.startswith("not written to the store: ")
    assert summary.endswith("; 0 lost")
    assert f" saved in {fallback} (" in summary
    counts = {table: int(n) for n, table in re.findall(r"(\d+) (items|pages|rejects)", summary)}
    assert counts["items"] > 0
    lines = [json.loads(line) for line in fallback.read_text().splitlines()]
    by_table = Counter(line["table"] for line in lines)
    assert by_table["items"] == counts["items"]
    assert by_table["pages"] == counts["pages"]
    unwritten = [line for line in lines if line["table"] == "items"]
    assert all(line["spec"] == "product" and line["data"]["sku"] for line in unwritten)
    # The table is not checked after the restart: the test server runs with
    # synchronous_commit=off, so a crash may lose its last commits.
    assert "Traceback" not in stderr
    assert "Stored in" not in stdout


def test_crawl_with_a_bad_spec_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text('name = "x"\n[fields.price]\nselector = "css:.p"\ntake = "texts"\n')
    assert main(["crawl", "http://127.0.0.1:1/", "--extract", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {spec}: spec 'x': field 'price': take must be one of")


def test_scrapy_crawl_site_extracts_too(tinysite: TinySite, tmp_path: Path) -> None:
    out = tmp_path / "items.jsonl"
    proc = run_scrapy(
        "crawl",
        "site",
        "-a",
        f"start_url={tinysite.url('/catalog/?size=5')}",
        "-s",
        f"CRAWLER_STORE_URL=sqlite:///{tmp_path / 'x.db'}",
        "-s",
        f"CRAWLER_EXTRACT_SPECS={CATALOG_SPEC}",
        "-s",
        "CRAWLER_EXTRACT_ENGINE=bs4",
        "-O",
        f"{out}:jsonlines",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows: list[dict[str, Any]] = [json.loads(line) for line in out.read_text().splitlines()]
    products = [r for r in rows if "sku" in r]
    assert len(products) == 5
    assert set(products[0]) == {"url", "sku", "name", "price", "stock", "features"}
