"""``crawler export RUN``: a run's items, pages, rejects or links, through Scrapy's exporters.

``--what links`` lists every URL the run's pages led to (``source``, ``url``,
``found_via``, ``text``, ``fetched``), fetched or not; ``--url URL`` keeps the
rows leading to URL: where it came from.

The rows and the writing are those of the feed a crawl writes with
``--output-items`` / ``--output`` (or ``scrapy crawl -O``): the exporter class
comes from ``FEED_EXPORTERS`` (Scrapy's ``JsonItemExporter``,
``JsonLinesItemExporter``, ``CsvItemExporter``, ``XmlItemExporter`` unless a
project replaces them), built with ``FEED_EXPORT_ENCODING``,
``FEED_EXPORT_FIELDS`` and ``FEED_EXPORT_INDENT`` of the project settings; an
item is the row its feed has (``url``, then the spec's fields), a page a
:class:`~crawler.items.PageRecord`.  So a list field is ``a,b`` in CSV and a
JSON list in JSON, as in the feed.

Where the export cannot equal the crawl's feed, and why:

* order: the store keeps one row per spec and key, in no crawl order; rows
  come out by spec, then key (pages by URL);
* an item that changed within the run is one row (its last value), where the
  feed has every version;
* ``datetime`` values are stored as ISO 8601 (``2026-11-21T10:00:00+00:00``);
  a feed writes Scrapy's ``2026-11-21 10:00:00``;
* CSV columns: without ``FEED_EXPORT_FIELDS`` a feed takes the first item's
  fields; an export takes every field of every row (first seen first), so
  items of several specs keep all their columns (``--spec`` picks one).

Reading never creates a store: a missing one is an error (exit code 2).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

from scrapy.exceptions import UsageError
from scrapy.utils.conf import feed_complete_default_values_from_settings
from scrapy.utils.misc import load_object
from w3lib.url import file_uri_to_path

from crawler.commands.options import (
    FEED_FORMATS,
    FEED_SUFFIXES,
    add_store_option,
    check_output_file,
    has_scheme,
    store_url,
)
from crawler.exceptions import FeedDeliveryError
from crawler.feedstorage.config import FeedConfig, password_warning
from crawler.feedstorage.delivery import DeliveringFeedStorage
from crawler.items import PageRecord
from crawler.redaction import redact_url
from crawler.runner import project_settings
from crawler.storage.sql import SqlStore, display_url

if TYPE_CHECKING:
    import argparse

    from scrapy.exporters import BaseItemExporter
    from scrapy.settings import BaseSettings

# --format -> the FEED_EXPORTERS name Scrapy's feeds use; a file's suffix -> --format
# (the formats of every command that writes files)
FORMATS = FEED_FORMATS
SUFFIXES = FEED_SUFFIXES
WHAT = ("items", "pages", "rejects", "links")
# URI schemes -o sends to a server (crawler.feedstorage)
DELIVERED = ("ftp", "ftps", "sftp")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a run's items, pages, rejects or links (JSON, JSON lines, CSV, XML)",
        description="Write what run RUN stored, through Scrapy's item exporters: the same "
        "rows, columns and encoding as the feed a crawl writes with --output-items.",
    )
    p.add_argument("run_id", metavar="RUN", type=int, help="the run id (see `crawler runs`)")
    p.add_argument(
        "--format",
        choices=tuple(FORMATS),
        default=None,
        help="default: from the extension of -o FILE, else jsonl",
    )
    p.add_argument(
        "--what",
        choices=WHAT,
        default="items",
        help="items (default: those this run wrote last), pages, rejects or links "
        "(every URL a page led to, fetched or not)",
    )
    p.add_argument(
        "--url",
        metavar="URL",
        help="with --what links: only the links to URL (where did it come from?)",
    )
    p.add_argument("--spec", metavar="NAME", help="only the items (or rejects) of spec NAME")
    add_store_option(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(run=run)


def item_row(spec: str, url: str | None, data: dict[str, Any]) -> dict[str, Any]:
    """A stored item as its feed row.

    An extracted item's feed row is ``url`` (the page's) then the spec's fields
    (:class:`~crawler.extract.result.ExtractedItemAdapter`); an item a spider
    yields is its own fields, ``url`` among them if it has one (the store took
    its ``url`` from there).  A field named ``url`` wins over the page's, first.
    """
    if url is None or data.get("url") == url:
        return dict(data)
    return {"url": url, **data}


def rows(
    store: SqlStore, what: str, run_id: int, spec: str | None = None, url: str | None = None
) -> list[Any]:
    """What ``--what`` asks for: feed rows (dicts), or :class:`PageRecord` s for pages."""
    if what == "pages":
        return [
            PageRecord(**{k: v for k, v in row.items() if k != "run_id"})
            for row in store.pages(run_id)
        ]
    if what == "links":
        return store.links(run_id, url)
    if what == "rejects":
        return [
            {"spec": r["spec"], "url": r["url"], "reason": r["reason"], **r["data"]}
            for r in store.rejects(run_id)
            if spec is None or r["spec"] == spec
        ]
    return [item_row(r["spec"], r["url"], r["data"]) for r in store.items(spec, run_id=run_id)]


def build_exporter(
    fmt: str, file: BinaryIO, settings: BaseSettings, rows: list[Any]
) -> BaseItemExporter:
    """The exporter a feed of format ``fmt`` would use, with the feed's options.

    CSV gets every field of ``rows`` as its columns unless ``FEED_EXPORT_FIELDS``
    names them (a feed would take the first row's).
    """
    name = FORMATS[fmt]
    options = feed_complete_default_values_from_settings({"format": name}, settings)
    exporter_class = load_object(settings.getwithbase("FEED_EXPORTERS")[name])
    fields = options["fields"]
    if fields is None and name == "csv" and rows and isinstance(rows[0], dict):
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        fields = list(seen)
    exporter: BaseItemExporter = exporter_class(
        file,
        fields_to_export=fields,
        encoding=options["encoding"],
        indent=options["indent"],
        **options["item_export_kwargs"],
    )
    return exporter


def write(rows: list[Any], fmt: str, file: BinaryIO, settings: BaseSettings | None = None) -> None:
    """Write ``rows`` to the binary ``file`` in ``fmt`` (``json``, ``jsonl``, ``csv``, ``xml``)."""
    exporter = build_exporter(fmt, file, settings or project_settings(), rows)
    exporter.start_exporting()
    for row in rows:
        exporter.export_item(row)
    exporter.finish_exporting()


def output_format(fmt: str | None, output: str | None) -> str:
    if fmt is not None:
        return fmt
    if output is None:
        return "jsonl"
    suffix = Path(output).suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(
            f"cannot tell the format of {output}: give --format {'|'.join(FORMATS)} "
            f"or a file ending in {', '.join(SUFFIXES)}"
        )
    return SUFFIXES[suffix]


def local_output(output: str | None) -> str | None:
    """The local path ``-o`` names: a path, or a ``file:`` URI made a path; a
    URI of :data:`DELIVERED` as it is (sent by :func:`deliver`).

    Raises :class:`UsageError` (password masked) for any other URI: ``crawler
    export`` writes a local file, stdout or a server of its own storages; other
    feed URIs (``s3://``) are for ``crawler crawl -o``, through Scrapy's feed storages.
    """
    if output is None or not has_scheme(output):
        return output
    scheme = urlsplit(output).scheme.lower()
    if scheme == "file":
        return file_uri_to_path(output)
    if scheme in DELIVERED:
        return output
    raise UsageError(
        "crawler export writes a local file, stdout or an ftp://, ftps:// or sftp:// URI, "
        f"not {redact_url(output)}; write a file and copy it, or deliver with "
        "crawler crawl -o URI"
    )


def deliver(found: list[Any], what: str, fmt: str, uri: str, settings: BaseSettings) -> int:
    """Write ``found`` (rows of ``what``) to a temporary file and send it to ``uri`` with the feed
    storage ``FEED_STORAGES`` has for its scheme (:mod:`crawler.feedstorage`,
    the same login, host-key check and local copy as a crawl's ``-o URI``).
    Returns the exit code: 0, or 1 with ``error: ...`` printed (one line)."""
    storage_class = load_object(settings.getwithbase("FEED_STORAGES")[urlsplit(uri).scheme])
    if not issubclass(storage_class, DeliveringFeedStorage):
        raise UsageError(f"{redact_url(uri)}: FEED_STORAGES has another storage for it")
    storage = storage_class(uri, FeedConfig.from_settings(settings), feed_options={})
    if storage.uri_password:
        print(f"warning: {password_warning(uri, storage.host, storage.config)}", file=sys.stderr)
    with tempfile.NamedTemporaryFile(prefix="feed-", dir=settings.get("FEED_TEMPDIR")) as file:
        write(found, fmt, file, settings)
        try:
            storage.send(file)  # closes the file
        except FeedDeliveryError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    print(f"{len(found)} {what} written to {redact_url(uri)}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    args.output = local_output(args.output)
    fmt = output_format(args.format, args.output)
    if args.spec is not None and args.what in ("pages", "links"):
        raise UsageError(f"--spec picks items or rejects; {args.what} have no spec")
    if args.url is not None and args.what != "links":
        raise UsageError("--url picks links (--what links)")
    if args.output:
        check_output_file(args.output)
    settings = project_settings()
    url = store_url(args, settings)
    store = SqlStore.open(url, create=False)
    try:
        if store.run(args.run_id) is None:
            raise UsageError(f"there is no run {args.run_id} in {display_url(url)}")
        if args.spec is not None:
            specs = [spec for spec, *_ in store.spec_counts(args.run_id)]
            if args.spec not in specs:
                known = ", ".join(specs) if specs else "none"
                raise UsageError(
                    f"run {args.run_id} has no items or rejects of spec {args.spec!r} "
                    f"(its specs: {known})"
                )
        found = rows(store, args.what, args.run_id, args.spec, args.url)
    finally:
        store.close()
    if args.output and has_scheme(args.output):
        return deliver(found, args.what, fmt, args.output, settings)
    if args.output:
        with open(args.output, "wb") as f:
            write(found, fmt, f, settings)
        print(f"{len(found)} {args.what} written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.flush()
        write(found, fmt, sys.stdout.buffer, settings)
        sys.stdout.buffer.flush()
    return 0
