"""What a plain crawl imports at start: nothing it will not use.

A ``crawler crawl URL --render never`` pays every import at every start (each
crawl, worker and scheduled job).  Selenium and the browser session load with
the first render, redis and scrapy-redis with a frontier, SQLAlchemy's
PostgreSQL dialect with a PostgreSQL store, Scrapy's remote control (aiohttp)
and telnet console only when switched on, and ``crawler COMMAND`` imports the
module of COMMAND only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from scrapy.settings import Settings

from crawler.addon import OFF_EXTENSIONS, drop_off_extensions
from crawler.cli import COMMANDS, build_parser
from tests.crawltools import subprocess_env

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

# Runs a whole crawl in the child's own process, then lists what it imported.
_CHILD = """
import json, sys
from crawler.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

#: Modules (and their submodules) a plain crawl must not import.
NOT_FOR_A_PLAIN_CRAWL = (
    "selenium",
    "crawler.browser.session",
    "crawler.browser.driver",
    "aiohttp",
    "scrapy.extensions.remote_control",
    "twisted.conch",
    "redis",
    "scrapy_redis",
    "sqlalchemy.dialects.postgresql",
    "psycopg",
    "apscheduler",
    "crawler.commands.jobs",
    "crawler.commands.serve",
    "crawler.commands.worker",
    "crawler.dashboard",
    "jinja2",
    "flask",
    "rich",
    "plotly",
)


def test_a_plain_crawl_imports_no_browser_redis_remote_control_or_other_command(
    tinysite: TinySite, tmp_path: Path
) -> None:
    argv = ["crawl", tinysite.url("/"), "--render", "never", "--max-pages", "3"]
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, *argv, "--progress", "off"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=subprocess_env(),
    )
    assert child.returncode == 0, child.stderr[-2000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, child.stderr[-2000:]
    modules = report["modules"]
    assert "crawler.browser.middleware" in modules  # enabled, idle: the check is not vacuous
    assert "crawler.pipelines.store" in modules
    loaded = [
        name
        for name in modules
        for banned in NOT_FOR_A_PLAIN_CRAWL
        if name == banned or name.startswith(banned + ".")
    ]
    assert loaded == []


@pytest.mark.parametrize("flag", sorted(OFF_EXTENSIONS))
def test_an_extension_whose_flag_is_off_leaves_extensions_base(flag: str) -> None:
    settings = Settings({flag: False})
    drop_off_extensions(settings)
    base = settings.getdict("EXTENSIONS_BASE")
    assert OFF_EXTENSIONS[flag] not in base
    assert "scrapy.extensions.corestats.CoreStats" in base  # the others stay


@pytest.mark.parametrize("value", [True, "on"])  # on, or not a boolean (the check says so)
@pytest.mark.parametrize("flag", sorted(OFF_EXTENSIONS))
def test_an_extension_whose_flag_is_on_or_invalid_stays(flag: str, value: object) -> None:
    settings = Settings({flag: value})
    drop_off_extensions(settings)
    assert OFF_EXTENSIONS[flag] in settings.getdict("EXTENSIONS_BASE")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_alone_parses_as_with_every_command(command: str) -> None:
    alone, full = build_parser(command), build_parser()
    assert alone.format_usage() == full.format_usage()
    (sub_alone,) = alone._subparsers._group_actions  # type: ignore[union-attr]
    (sub_full,) = full._subparsers._group_actions  # type: ignore[union-attr]
    assert list(sub_alone.choices) == [command]
    assert list(sub_full.choices) == list(COMMANDS)
    assert sub_alone.choices[command].format_help() == sub_full.choices[command].format_help()
