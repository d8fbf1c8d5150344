"""``crawler export`` and ``crawler runs``: what a crawl stored, as its feeds would write it.

A real crawl of the tinysite's catalogue writes feeds (``--output-items``,
``--output``) and a SQLite store; the export of the store must give the same
rows and columns.  Byte for byte where the order cannot differ (one item):
the store gives rows by spec and key, a feed in crawl order.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crawler.cli import main
from crawler.commands.export import item_row, write
from crawler.storage.sql import SqlStore
from tests.crawltools import crawl

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite

SPECS = Path(__file__).parent / "specs"
FEEDS = ("csv", "json", "jsonl")


def _crawl_with_feeds(tmp_path: Path, start_url: str) -> Path:
    feeds = []
    for fmt in FEEDS:
        feeds += ["--output-items", str(tmp_path / f"feed.{fmt}")]
        feeds += ["-o", str(tmp_path / f"pages.{fmt}")]
    result = crawl(start_url, tmp_path, "--extract", str(SPECS / "catalog.yaml"), *feeds)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.db


@pytest.fixture(scope="module")
def catalog(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A crawl of 8 products (a list field each) with item and page feeds next to its store."""
    return _crawl_with_feeds(tmp_path_factory.mktemp("catalog"), tinysite.url("/catalog/?size=8"))


@pytest.fixture(scope="module")
def one_product(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A crawl with one product, so its feed has one order only."""
    return _crawl_with_feeds(tmp_path_factory.mktemp("one"), tinysite.url("/catalog/?size=1"))


def export(db: Path, *options: str) -> int:
    return main(["export", "1", "--store", f"sqlite:///{db}", *options])


@pytest.mark.parametrize("fmt", FEEDS)
def test_one_item_exports_byte_for_byte_as_its_feed(one_product: Path, fmt: str) -> None:
    out = one_product.parent / f"export.{fmt}"
    assert export(one_product, "--format", fmt, "-o", str(out)) == 0
    feed = (one_product.parent / f"feed.{fmt}").read_bytes()
    assert b"TS-0000000" in feed
    assert out.read_bytes() == feed


def test_csv_export_has_the_feeds_columns_and_rows(catalog: Path) -> None:
    out = catalog.parent / "export.csv"
    assert export(catalog, "--format", "csv", "-o", str(out)) == 0
    feed = (catalog.parent / "feed.csv").read_text(encoding="utf-8").splitlines()
    exported = out.read_text(encoding="utf-8").splitlines()
    assert exported[0] == feed[0] == "url,sku,name,price,stock,features"
    assert len(exported) == 1 + 8
    assert sorted(exported[1:]) == sorted(feed[1:])
    # a list is joined with commas, as Scrapy's CsvItemExporter does
    assert all('","' not in line and "[" not in line for line in exported)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_exports_have_the_feeds_items(catalog: Path, fmt: str) -> None:
    out = catalog.parent / f"export.{fmt}"
    assert export(catalog, "-o", str(out)) == 0  # the format from the extension
    feed_text = (catalog.parent / f"feed.{fmt}").read_text(encoding="utf-8")
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        feed, exported = json.loads(feed_text), json.loads(text)
    else:
        feed = [json.loads(line) for line in feed_text.splitlines()]
        exported = [json.loads(line) for line in text.splitlines()]
        assert sorted(text.splitlines()) == sorted(feed_text.splitlines())  # the same bytes
    assert len(exported) == 8
    assert sorted(exported, key=json.dumps) == sorted(feed, key=json.dumps)
    columns = ["url", "sku", "name", "price", "stock", "features"]
    assert all(list(row) == columns for row in exported)


def test_xml_export(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert export(catalog, "--format", "xml") == 0
    root = ET.fromstring(capsys.readouterr().out)
    assert root.tag == "items"
    items = root.findall("item")
    assert len(items) == 8
    first = items[0]
    assert [child.tag for child in first] == ["url", "sku", "name", "price", "stock", "features"]
    assert len(first.findall("features/value")) > 1  # a list: one element per value


@pytest.mark.parametrize("fmt", FEEDS)
def test_pages_export_as_the_page_feed(catalog: Path, fmt: str) -> None:
    out = catalog.parent / f"export-pages.{fmt}"
    assert export(catalog, "--what", "pages", "--format", fmt, "-o", str(out)) == 0
    feed = (catalog.parent / f"pages.{fmt}").read_text(encoding="utf-8")
    exported = out.read_text(encoding="utf-8")
    if fmt == "json":
        assert sorted(json.loads(exported), key=json.dumps) == sorted(
            json.loads(feed), key=json.dumps
        )
    else:
        assert exported.splitlines()[0] == feed.splitlines()[0]
        assert sorted(exported.splitlines()) == sorted(feed.splitlines())
    assert "run_id" not in exported


def test_export_of_one_spec(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert export(catalog, "--spec", "product") == 0
    assert len(capsys.readouterr().out.splitlines()) == 8
    assert export(catalog, "--spec", "nothing-of-that-name") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "error: run 1 has no items or rejects of spec 'nothing-of-that-name' (its specs: product)\n"
    )


def test_csv_columns_are_every_rows_fields() -> None:
    out = io.BytesIO()
    write([{"url": "u1", "a": ["x", "y"]}, {"url": "u2", "b": 2}], "csv", out)
    assert out.getvalue() == b'url,a,b\r\nu1,"x,y",\r\nu2,,2\r\n'


@pytest.mark.parametrize(
    ("url", "data", "row"),
    [
        ("http://p/", {"sku": "1"}, {"url": "http://p/", "sku": "1"}),  # an extracted item
        (None, {"sku": "1"}, {"sku": "1"}),  # a spider's item without url
        ("http://p/", {"sku": "1", "url": "http://p/"}, {"sku": "1", "url": "http://p/"}),
        ("http://p/", {"sku": "1", "url": "/x"}, {"url": "/x", "sku": "1"}),  # a url field
    ],
)
def test_a_stored_item_as_its_feed_row(
    url: str | None, data: dict[str, Any], row: dict[str, Any]
) -> None:
    assert list(item_row("spec", url, data).items()) == list(row.items())


@pytest.mark.parametrize("command", ["runs", "export"])
def test_a_missing_store_is_an_error_and_is_not_created(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    run = ["1"] if command == "export" else []
    assert main([command, *run, "--store", "sqlite:///nope.db"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: store sqlite:///nope.db does not exist (there is no file {tmp_path / 'nope.db'})"
        ": give the URL of a store a crawl wrote to\n"
    )
    assert main([command, *run]) == 2  # the default store, crawl.db, is not there either
    assert "error: store sqlite:///crawl.db does not exist" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "stores").mkdir()
    assert main([command, *run, "--store", "sqlite:///stores"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: store sqlite:///stores is a directory, not a SQLite file"
    )


@pytest.mark.parametrize(
    "arguments",
    [
        ["runs", "--store", "crawl.db"],
        ["export", "1", "--store", "crawl.db"],
        ["crawl", "http://127.0.0.1:1/", "--store", "crawl.db"],
        ["crawl", "http://127.0.0.1:1/", "-s", "CRAWLER_STORE_URL=crawl.db"],
    ],
    ids=["runs", "export", "crawl", "crawl-setting"],
)
def test_a_bare_path_as_store_is_refused_with_the_url_to_write(
    arguments: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(arguments) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 'crawl.db' is a path, not a store URL: write sqlite:///crawl.db")
    assert len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_runs_on_a_database_that_is_no_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "empty.db"
    SqlStore.open(f"sqlite:///{db}").close()
    assert main(["runs", "--store", f"sqlite:///{db}"]) == 0
    assert capsys.readouterr().out == "no runs in this store yet\n"
    assert main(["export", "1", "--store", f"sqlite:///{db}"]) == 2
    assert capsys.readouterr().err == f"error: there is no run 1 in sqlite:///{db}\n"


def test_export_cannot_guess_a_format(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert export(catalog, "-o", str(catalog.parent / "out.txt")) == 2
    assert "cannot tell the format of" in capsys.readouterr().err
    assert not (catalog.parent / "out.txt").exists()


def test_export_to_a_file_uri_writes_the_file(catalog: Path) -> None:
    out = catalog.parent / "uri-export.jsonl"
    assert export(catalog, "--what", "pages", "-o", out.as_uri()) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 9  # 8 products and the list


@pytest.mark.parametrize(
    "uri",
    ["s3://user:s3cr3t@bucket/x.jsonl", "s3://bucket/x.csv", "gs://u:s3cr3t@h/x.json"],
)
def test_export_to_a_remote_uri_is_a_one_line_error_without_the_password(
    catalog: Path, uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export(catalog, "-o", uri) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: crawler export writes a local file, stdout or an ftp://, ftps:// or sftp:// "
        "URI, not "
    )
    assert len(err.splitlines()) == 1
    assert "s3cr3t" not in err


def test_links_options_that_do_not_fit_are_usage_errors(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export(catalog, "--url", "http://x/") == 2
    assert capsys.readouterr().err == "error: --url picks links (--what links)\n"
    assert export(catalog, "--what", "links", "--spec", "product") == 2
    assert capsys.readouterr().err == "error: --spec picks items or rejects; links have no spec\n"


def test_the_catalog_crawl_stored_its_links(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export(catalog, "--what", "links") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and {r["found_via"] for r in rows} <= {"link", "sitemap", "rel", "header"}
    assert all(set(r) == {"source", "url", "found_via", "text", "refused", "fetched"} for r in rows)
