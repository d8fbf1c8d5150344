"""``GarbageCollectorTuning``: a higher gc threshold0 and start-up objects frozen while a
crawl's engine runs, everything set back when the last engine of the process stops."""

from __future__ import annotations

import gc
import json
from typing import TYPE_CHECKING

import pytest
from scrapy import Spider, signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.exceptions import ConfigError
from crawler.extensions.gctuning import GarbageCollectorTuning
from crawler.runner import project_settings
from crawler.settingscheck import check_settings
from tests.crawltools import crawl

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

ON = {"CRAWLER_GC_THRESHOLD": 10000, "CRAWLER_GC_FREEZE": True}


@pytest.fixture(autouse=True)
def python_defaults() -> Iterator[None]:
    """Each test starts from Python's own collector state and leaves it so."""
    saved = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, *saved[1:])
    yield
    gc.unfreeze()
    gc.set_threshold(*saved)


def crawler(**settings: object) -> GarbageCollectorTuning:
    return GarbageCollectorTuning.from_crawler(get_crawler(Spider, settings_dict=settings))


def send(extension: GarbageCollectorTuning, signal: object) -> None:
    """What the engine's signal calls (the extension connects these two)."""
    if signal is signals.engine_started:
        extension.engine_started()
    else:
        extension.engine_stopped()


def test_off_when_both_settings_are_off() -> None:
    with pytest.raises(NotConfigured):
        crawler(CRAWLER_GC_THRESHOLD=0, CRAWLER_GC_FREEZE=False)


def test_engine_run_tunes_then_restores() -> None:
    before = gc.get_threshold()
    built = crawler(**ON)
    assert gc.get_threshold() == before  # nothing before the engine starts
    send(built, signals.engine_started)
    assert gc.get_threshold() == (10000, before[1], before[2])
    assert gc.get_freeze_count() > 1000  # the modules, classes and settings of start-up
    garbage = []
    garbage.append(garbage)  # a reference cycle made during the crawl
    del garbage
    assert gc.collect() >= 1  # is still collected
    send(built, signals.engine_stopped)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert built.crawler.stats.get_value("gc/frozen") > 1000


def test_threshold_only_and_freeze_only() -> None:
    before = gc.get_threshold()
    built = crawler(CRAWLER_GC_THRESHOLD=5000, CRAWLER_GC_FREEZE=False)
    send(built, signals.engine_started)
    assert gc.get_threshold()[0] == 5000
    assert gc.get_freeze_count() == 0
    send(built, signals.engine_stopped)
    built = crawler(CRAWLER_GC_THRESHOLD=0, CRAWLER_GC_FREEZE=True)
    send(built, signals.engine_started)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() > 0
    send(built, signals.engine_stopped)
    assert gc.get_freeze_count() == 0


def test_a_higher_threshold_of_the_process_is_kept() -> None:
    gc.set_threshold(50000)
    built = crawler(**ON)
    send(built, signals.engine_started)
    assert gc.get_threshold()[0] == 50000
    send(built, signals.engine_stopped)
    assert gc.get_threshold()[0] == 50000


def test_two_crawls_in_one_process_restore_after_the_last() -> None:
    before = gc.get_threshold()
    first, second = crawler(**ON), crawler(**ON)
    send(first, signals.engine_started)
    send(second, signals.engine_started)
    send(first, signals.engine_stopped)
    assert gc.get_threshold()[0] == 10000  # the second crawl still runs
    assert gc.get_freeze_count() > 0
    send(second, signals.engine_stopped)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    send(second, signals.engine_stopped)  # a second stop changes nothing
    assert gc.get_threshold() == before


def test_on_in_the_framework_settings() -> None:
    """On by default: 10,000 and frozen (see the module for the memory it does not cost)."""
    settings = project_settings()
    assert settings.getdict("EXTENSIONS")["crawler.extensions.gctuning.GarbageCollectorTuning"] == 0
    assert settings.getint("CRAWLER_GC_THRESHOLD") == 10000
    assert settings.getbool("CRAWLER_GC_FREEZE") is True


def test_a_real_crawl(tinysite: TinySite, tmp_path: Path) -> None:
    """``crawler crawl`` with the tuning on (the default): the stats of the run show
    the objects frozen; turned off, there is no such stat."""
    result = crawl(tinysite.url("/"), tmp_path, "--render", "never")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.runs[-1]["stats"])
    assert stats["gc/frozen"] > 10000
    off = ["-s", "CRAWLER_GC_THRESHOLD=0", "-s", "CRAWLER_GC_FREEZE=false"]
    default = crawl(tinysite.url("/"), tmp_path, "--render", "never", *off, db_name="off.db")
    assert default.returncode == 0, default.stderr
    assert "gc/frozen" not in json.loads(default.runs[-1]["stats"])


def test_a_threshold_past_a_c_int_is_refused_before_the_crawl() -> None:
    """``gc.set_threshold`` takes a C int: a bigger value would fail at engine start."""
    with pytest.raises(
        ConfigError, match="CRAWLER_GC_THRESHOLD must be a whole number between 0 and 2147483647"
    ):
        check_settings(project_settings({"CRAWLER_GC_THRESHOLD": str(2**31)}))
    check_settings(project_settings({"CRAWLER_GC_THRESHOLD": str(2**31 - 1)}))
