"""Two real crawls of the tinysite into one store, for the run report's tests.

:class:`ReportApp` (mounted at ``/report/``, beside the default apps) is a
start page whose links reach what a report shows: the classic site (a GET
form, plain links), a page with a hostile title served slowly (the slowest
page), a 404, a 500, a trap (``repeated_segments``), numbered pages (one URL
pattern), and pages that change between the two crawls (a new one, a gone
one, one whose body changes).  :func:`report_crawls` (session-scoped, in
``tests/conftest.py``) runs ``crawler crawl`` twice from the start page into
one SQLite store, bumping :attr:`ReportApp.generation` in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

import pytest

from fixtures.tinysite.apps import default_apps
from fixtures.tinysite.pages import html_page, link
from fixtures.tinysite.server import SiteResponse, TinySite, server_error
from tests.crawltools import run_crawler

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fixtures.tinysite.server import SiteRequest

START_PATH = "/report/"
#: The title of the slow page: it shows in the report's "slowest pages" table.
HOSTILE_TITLE = '<script>alert(1)</script> "><img src=x onerror=alert(2)>'
HOSTILE_PATH = "/report/hostile.html"
SLOW_MS = 400  # the hostile page answers this late: the run's slowest page
TRAP_LINK = "a/b/a/b/a/b/c.html"  # refused: repeated_segments
ITEM_PATHS = tuple(f"/report/items/{n}.html" for n in range(1, 6))
GONE_PATH = "/report/old.html"  # linked in the first crawl only
NEW_PATH = "/report/new.html"  # linked in the second crawl only
CHANGING_PATH = "/report/changing.html"  # its body names the generation


class ReportApp:
    prefix = START_PATH

    def __init__(self) -> None:
        self.generation = 1

    def handle(self, request: SiteRequest, site: TinySite) -> SiteResponse | None:
        path = request.path
        if path == START_PATH:
            links = [
                link("/", "the classic site"),
                link(f"{HOSTILE_PATH}?delay={SLOW_MS}", "a slow page"),
                link("missing.html", "a missing page"),
                link("broken.html", "a broken page"),
                link(TRAP_LINK, "a trap"),
                link("changing.html", "a changing page"),
                link("old.html" if self.generation == 1 else "new.html", "this crawl only"),
                *(link(p, f"item {n}") for n, p in enumerate(ITEM_PATHS, 1)),
            ]
            return SiteResponse(body=html_page("Report test", "<br>\n".join(links)))
        if path == HOSTILE_PATH:
            return SiteResponse(body=html_page(HOSTILE_TITLE, "<p>Nothing to see.</p>"))
        if path == "/report/broken.html":
            return server_error("the report test's broken page")
        if path == CHANGING_PATH:
            text = f"Generation {self.generation}."
            return SiteResponse(body=html_page("Changing", f"<p>{escape(text)}</p>"))
        if path in (*ITEM_PATHS, GONE_PATH, NEW_PATH):
            return SiteResponse(body=html_page(f"Page {path}", "<p>An item.</p>"))
        return None


@dataclass(frozen=True)
class ReportCrawls:
    """The store both crawls wrote (``store_url``), their run ids (``first``,
    ``second``), and the site."""

    store_url: str
    db: Path
    first: int
    second: int
    site: TinySite


CRAWL_OPTIONS = ("--forms", "get", "--log-level", "WARNING")


@pytest.fixture(scope="session")
def report_crawls(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ReportCrawls]:
    """Two crawls of the tinysite from :data:`START_PATH` into one store."""
    app = ReportApp()
    workdir = tmp_path_factory.mktemp("report-crawls")
    db = workdir / "crawl.db"
    store_url = f"sqlite:///{db}"
    with TinySite(apps=[*default_apps(), app]) as site:
        for generation in (1, 2):
            app.generation = generation
            proc = run_crawler(
                "crawl", site.url(START_PATH), "--store", store_url, *CRAWL_OPTIONS, cwd=workdir
            )
            assert proc.returncode in (0, 1), proc.stderr[-3000:]
        yield ReportCrawls(store_url, db, 1, 2, site)
