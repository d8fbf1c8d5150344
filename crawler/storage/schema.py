"""Tables shared by every SQL store (SQLite, PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("spider", String(200), nullable=False),
    Column("start_url", Text),
    Column("settings", JSON, nullable=False),  # secrets are removed before storing
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("finish_reason", String(200)),
    Column("stats", JSON),
)

pages = Table(
    "pages",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("url", Text, primary_key=True),
    Column("final_url", Text, nullable=False),
    Column("status", Integer),
    Column("content_type", Text),
    Column("title", Text),
    Column("depth", Integer, nullable=False),
    Column("found_via", String(20), nullable=False),
    Column("referer", Text),
    Column("rendered", Boolean, nullable=False),
    Column("fetched_at", String(40), nullable=False),
    Column("error", Text),
    Column("notes", Text),  # how a render went (PageRecord.notes)
    # Incremental re-crawls (crawler.incremental): the response's validators, the
    # sha256 of the body as served, and whether the page was unchanged since the
    # previous run (then not parsed: its links are the previous run's).  NULL in
    # rows of older versions.
    Column("etag", Text),
    Column("last_modified", String(64)),  # crawler.incremental.LAST_MODIFIED_MAX_LENGTH
    Column("digest", String(64)),
    Column("unchanged", Boolean),
    # Seconds from sending the request to the response's headers (Scrapy's
    # ``download_latency`` meta), or the render's duration for a rendered page
    # (crawler.browser.middleware).  NULL without a response, and in rows of
    # older versions.
    Column("latency", Float),
)

items = Table(
    "items",
    metadata,
    Column("spec", String(200), primary_key=True),  # the spec (or item class) name
    Column("key", Text, primary_key=True),  # canonical JSON of the key fields' values
    Column("data", JSON, nullable=False),
    Column("url", Text),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),  # last written by
    Column("first_run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

rejects = Table(
    "rejects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("spec", String(200), nullable=False),
    Column("url", Text),
    Column("reason", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # sha256 of spec, URL, reason and data: a page fetched again (a resumed crawl)
    # does not store its rejects twice.  NULL in rows of older versions.
    Column("digest", String(64)),
    Index("rejects_once", "run_id", "digest", unique=True),
)

# Every URL a page led to, fetched or not (crawler.items.PageLinks): "where did
# this URL come from?".  ``source`` is the page's final URL (or a robots.txt or
# sitemap file's), ``text`` the anchor text, rel, header or sitemap kind,
# ``refused`` the reason a URL was not requested (a trap), NULL if it was.
links = Table(
    "links",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("source", Text, primary_key=True),
    Column("url", Text, primary_key=True),
    Column("found_via", String(20), primary_key=True),
    Column("text", Text),
    Column("refused", Text),  # why it was not followed (crawler.traps); NULL: requested
    Index("links_by_url", "run_id", "url"),
)

PAGE_COLUMNS = tuple(c.name for c in pages.columns if c.name != "run_id")
LINK_COLUMNS = tuple(c.name for c in links.columns if c.name != "run_id")
