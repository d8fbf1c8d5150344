"""Settings and arguments Scrapy takes and then dies on or ignores, as a user meets
them: ``-o`` feeds with unknown URI parameters or storages, a per-IP limit, an
argument the spider does not take, and the ``crawler`` commands in another project."""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING

import pytest

from tests.crawltools import crawl, run_crawler, run_scrapy, scrapy_crawl_site, subprocess_env

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

UNREACHABLE = "http://127.0.0.1:9/"  # never fetched: the checks come first


def test_an_unknown_feed_uri_parameter_is_one_line_in_every_command(tmp_path: Path) -> None:
    template = str(tmp_path / "%(bad)s.jsonl")
    message = (
        f"error: FEEDS[{template!r}]: unknown parameter %(bad)s in the URI: use time, "
        "batch_time, batch_id or an attribute of the spider (name, or a spider argument)\n"
    )
    store = f"CRAWLER_STORE_URL=sqlite:///{tmp_path / 'crawl.db'}"
    result = run_scrapy(
        "crawl", "site", "-a", f"start_url={UNREACHABLE}", "-s", store, "-o", template
    )
    assert (result.returncode, result.stderr) == (2, message)
    result = run_crawler(
        "extract", UNREACHABLE, "--field", "t=css:h1", "-o", template, cwd=tmp_path
    )
    assert (result.returncode, result.stderr) == (2, message)
    assert list(tmp_path.iterdir()) == []


def test_a_feed_named_by_a_spider_argument_is_written(tinysite: TinySite, tmp_path: Path) -> None:
    result = scrapy_crawl_site(
        tinysite.url("/"),
        "-a",
        "max_pages=1",
        "-o",
        str(tmp_path / "%(name)s-%(max_pages)s.jsonl"),
        store=tmp_path / "crawl.db",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site-1.jsonl").read_text(encoding="utf-8").count("\n") == 1


@pytest.mark.skipif(importlib.util.find_spec("boto3") is not None, reason="boto3 installed")
def test_a_feed_storage_that_cannot_work_is_one_line_with_the_password_masked(
    tmp_path: Path,
) -> None:
    result = scrapy_crawl_site(
        UNREACHABLE,
        "-o",
        "s3://key:s3cret@bucket/pages.jsonl",
        store=tmp_path / "crawl.db",
    )
    assert result.returncode == 2
    assert result.stderr == (
        "error: FEEDS['s3://key:***@bucket/pages.jsonl']: the feed cannot be stored there: "
        "missing boto3 library; install boto3\n"
    )


def test_a_per_ip_limit_with_a_queue_that_takes_it_crawls(
    tinysite: TinySite, tmp_path: Path
) -> None:
    result = crawl(
        tinysite.url("/"),
        tmp_path,
        "-s",
        "CONCURRENT_REQUESTS_PER_IP=2",
        "-s",
        "SCHEDULER_PRIORITY_QUEUE=scrapy.pqueues.ScrapyPriorityQueue",
    )
    assert result.returncode == 0, result.stderr
    assert "Unknown setting" not in result.stderr  # Scrapy still reads it
    assert "Traceback" not in result.stderr
    assert {"/", "/page1.html", "/page2.html"} <= result.html_paths()


def test_an_argument_the_site_spider_does_not_take_is_an_error(
    tinysite: TinySite, tmp_path: Path
) -> None:
    """A misspelt argument would be ignored and the crawl go on unlimited: the site
    spider refuses it, naming what it takes (Scrapyd's ``_job`` is still taken)."""
    result = scrapy_crawl_site(
        tinysite.url("/"),
        "-a",
        "max_pages=1",
        "-a",
        "max_deph=1",
        "-a",
        "min_pages=500",
        "-a",
        "_job=abc",
        store=tmp_path / "crawl.db",
    )
    assert result.returncode == 2, result.stderr
    [error] = [line for line in result.stderr.splitlines() if "max_deph" in line]
    assert error.startswith("error: ")
    assert (
        "does not take the argument(s) max_deph (did you mean max_depth?), "
        "min_pages (a setting: -s CRAWLER_MIN_PAGES=...) (-a)"
    ) in error
    assert "it takes: start_url, allow_domains, max_depth, max_pages, render" in error
    assert "_job" not in error
    assert "Traceback" not in result.stderr
    ok = scrapy_crawl_site(
        tinysite.url("/"), "-a", "max_pages=1", "-a", "_job=abc", store=tmp_path / "ok.db"
    )
    assert ok.returncode == 0, ok.stderr[-3000:]


def other_project(tmp_path: Path, spider_modules: list[str]) -> dict[str, str]:
    """A Scrapy project of its own that uses the framework through the add-on."""
    package = tmp_path / "myproj"
    (package / "spiders").mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "spiders" / "__init__.py").write_text("")
    (package / "settings.py").write_text(
        f'SPIDER_MODULES = {spider_modules!r}\nADDONS = {{"crawler.addon.CrawlerAddon": 0}}\n'
    )
    env = subprocess_env()
    return {
        **env,
        "PYTHONPATH": os.pathsep.join((env["PYTHONPATH"], str(tmp_path))),
        "SCRAPY_SETTINGS_MODULE": "myproj.settings",
    }


def test_another_project_without_the_ready_made_spiders_is_told_what_to_add(
    tinysite: TinySite, tmp_path: Path
) -> None:
    env = other_project(tmp_path, ["myproj.spiders"])
    result = run_crawler(
        "crawl", UNREACHABLE, "--store", "sqlite:///crawl.db", cwd=tmp_path, env=env
    )
    assert result.returncode == 2
    assert result.stderr == (
        "error: no spider named 'site' in SPIDER_MODULES (myproj.spiders): add 'spiders' "
        "(the framework's ready-made spiders) to SPIDER_MODULES, or a spider named 'site' "
        "to one of its modules\n"
    )
    assert not (tmp_path / "crawl.db").exists()
    env = other_project(tmp_path, ["myproj.spiders", "spiders"])  # what the error says
    url = tinysite.url("/")
    result = run_crawler(
        "crawl", url, "--store", "sqlite:///crawl.db", "--max-pages", "1", cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
