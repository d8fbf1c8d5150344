"""``Progress``: the line's fields, its rate, its modes, and the live line on a real
terminal (a pseudo-terminal) with log records printed whole above it."""

from __future__ import annotations

import logging
import os
import pty
import re
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from scrapy import Spider
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.cli import build_parser
from crawler.commands.crawl import CRAWL_LOGSTATS_INTERVAL, set_logstats_interval
from crawler.commands.crawl import settings_from_args as crawl_settings
from crawler.extensions.progress import Progress, RateMeter, Snapshot, count_errors
from crawler.runner import project_settings
from crawler.terminal import LiveLine

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import TextIO

HOSTILE = '[bold red]<script>alert(1)</script>[/] "><img src=x onerror=alert(1)>'
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

logger = logging.getLogger("tests.progress")


def make(**settings: object) -> Progress:
    return Progress.from_crawler(get_crawler(Spider, settings_dict=settings))


# -- the line ------------------------------------------------------------------


def test_the_line_says_pages_rate_queue_renders_errors_and_time() -> None:
    state = Snapshot(pages=1203, rate=23.14, queued=1204, renders=2, errors=3, elapsed=78.9)
    assert state.line() == (
        "1,203 pages (23.1/s), 1,204 queued, 2 renders, 3 errors, 0:01:18 elapsed"
    )
    one = Snapshot(pages=1, rate=0, queued=0, renders=1, errors=1, elapsed=0)
    assert one.line() == "1 page (0.0/s), 0 queued, 1 render, 1 error, 0:00:00 elapsed"
    # No browser pool, no scheduler length: the fields are left out; a known total
    known = Snapshot(pages=7, rate=2, queued=None, renders=None, errors=0, elapsed=3, total=12)
    assert known.line() == "7/12 pages (2.0/s), 0 errors, 0:00:03 elapsed"


def test_the_rate_is_over_the_last_window() -> None:
    meter = RateMeter(window=10)
    assert meter.add(0, 0) == 0
    assert meter.add(5, 50) == 10  # since the start
    assert meter.add(10, 100) == 10
    # 100 pages in the last 10 s, none in the 10 before: the old samples are gone
    assert meter.add(20, 100) == 0
    assert meter.add(21, 110) == pytest.approx(10 / 11)
    # Samples further apart than the window (log lines a minute apart): since the last one
    meter = RateMeter(window=10)
    meter.add(0, 0)
    meter.add(60, 600)
    assert meter.add(120, 1800) == 20


def test_errors_are_final_fates_when_the_outcome_middleware_counts() -> None:
    scrapy_only = {
        "downloader/response_status_count/200": 9,
        "downloader/response_status_count/404": 2,
        "downloader/response_status_count/503": 3,  # one page, retried twice
        "downloader/exception_count": 4,
    }
    assert count_errors(scrapy_only) == 9
    counted = {**scrapy_only, "outcome/http_errors": 3, "outcome/no_response": 1}
    assert count_errors(counted) == 4


def test_a_snapshot_reads_the_stats_and_the_spiders_own_progress() -> None:
    progress = make(CRAWLER_PROGRESS="log")
    stats = progress.stats
    stats.set_value("response_received_count", 5)
    assert progress.snapshot().pages == 5
    stats.set_value("outcome/pages", 4)  # robots.txt and sitemaps are not pages
    stats.set_value("outcome/http_errors", 1)
    stats.set_value("outcome/no_response", 2)
    state = progress.snapshot()
    assert (state.pages, state.errors, state.queued, state.renders) == (4, 3, None, None)

    class Listed(Spider):
        name = "listed"
        progress = (3, 12)  # crawler extract's: URLs done and in all

    progress.spider = Listed()
    assert progress.snapshot().line().startswith("3/12 pages")


def test_modes() -> None:
    logged = make(CRAWLER_PROGRESS="log", LOGSTATS_INTERVAL=0.5)
    assert (logged.live, logged.log_interval) == (False, 0.5)
    off = make(CRAWLER_PROGRESS="off", LOGSTATS_INTERVAL=0.5)
    assert (off.live, off.log_interval) == (False, 0)
    with pytest.raises(NotConfigured, match="CRAWLER_PROGRESS is 'sometimes'"):
        make(CRAWLER_PROGRESS="sometimes")


def test_crawl_option_and_interval() -> None:
    args = build_parser().parse_args(["crawl", "http://127.0.0.1:9/", "--progress", "log"])
    assert crawl_settings(args)["CRAWLER_PROGRESS"] == "log"
    args = build_parser().parse_args(
        ["crawl", "http://127.0.0.1:9/", "--progress", "log", "-s", "CRAWLER_PROGRESS=off"]
    )
    assert crawl_settings(args)["CRAWLER_PROGRESS"] == "off"  # -s wins
    settings = project_settings()
    assert settings["CRAWLER_PROGRESS"] == "auto"
    set_logstats_interval(settings)
    assert settings.getfloat("LOGSTATS_INTERVAL") == CRAWL_LOGSTATS_INTERVAL == 10
    given = project_settings({"LOGSTATS_INTERVAL": "0.5"})
    set_logstats_interval(given)
    assert given.getfloat("LOGSTATS_INTERVAL") == 0.5


# -- the live line on a terminal ---------------------------------------------------


@contextmanager
def pseudo_terminal() -> Iterator[tuple[TextIO, list[bytes]]]:
    """A real terminal's stream (the pty's terminal end) and what it showed,
    complete once the block is left."""
    controller, terminal = pty.openpty()
    stream = open(terminal, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
    shown: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal end was closed
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield stream, shown
    finally:
        stream.close()
        reader.join(timeout=10)
        os.close(controller)


def screen_lines(shown: list[bytes]) -> list[str]:
    """What was written, without escape sequences, cut at every line end and at
    every carriage return (where a line is drawn again)."""
    text = ANSI.sub("", b"".join(shown).decode())
    return [part for part in re.split(r"\r\n|\r|\n", text) if part.strip()]


def test_log_records_print_whole_above_the_live_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "200")
    with pseudo_terminal() as (stream, shown):
        handler = logging.StreamHandler(stream)  # as Scrapy's root handler on stderr
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logging.root.addHandler(handler)
        try:
            line = LiveLine(stream=stream)
            line.start("0 pages")
            assert handler.stream is not stream and line.reroutes_log
            logger.warning("%s", HOSTILE)
            line.update("5 pages")
            logger.error("failed: %s", "[/]")
            logger.warning("title: %s", "a\x1b[2Jb")  # a page's title clearing the screen
            line.update("7 pages")
            line.stop("9 pages, the end")
            assert handler.stream is stream  # given back
            logger.warning("after")
        finally:
            logging.root.removeHandler(handler)
    lines = screen_lines(shown)
    assert b"\x1b[2J" not in b"".join(shown)  # escapes other than colours are dropped
    assert "WARNING: title: ab" in lines
    # Each record whole on a line of its own (rich markup in it printed as it is),
    # the line drawn below each, the last state left on the screen.
    assert f"WARNING: {HOSTILE}" in lines
    assert "ERROR: failed: [/]" in lines
    assert lines.index(f"WARNING: {HOSTILE}") < lines.index("5 pages")
    assert lines.index("ERROR: failed: [/]") < lines.index("7 pages")
    assert lines[-2:] == ["9 pages, the end", "WARNING: after"]
    for text in lines:
        assert not ("pages" in text and ("WARNING" in text or "ERROR" in text)), lines


LONG_URL = "http://127.0.0.1:9/" + "/".join(f"segment-{n}" for n in range(12)) + "?q=1"


def test_records_are_written_whole_on_a_narrow_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich wraps what it prints at the terminal's width with real line ends: a
    record above the line is printed unwrapped (the terminal wraps it), as
    without the line, so a long URL stays one string."""
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "40")
    with pseudo_terminal() as (stream, shown):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logging.root.addHandler(handler)
        try:
            line = LiveLine(stream=stream)
            line.start("0 pages")
            logger.warning("redirected to %s", LONG_URL)
            line.stop("1 page")
        finally:
            logging.root.removeHandler(handler)
    lines = screen_lines(shown)
    assert f"WARNING: redirected to {LONG_URL}" in lines, lines
    assert lines[-1] == "1 page"


def test_a_finished_bar_is_drawn_in_a_visible_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a 16-colour terminal rich's finished colour became grey (SGR 90), the
    colour of the bar's empty part: a full bar looked empty."""
    monkeypatch.delenv("TERM", raising=False)  # rich: 16 colours
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    with pseudo_terminal() as (stream, shown):
        line = LiveLine(total=4, stream=stream)
        line.start("2/4 pages", completed=2)
        line.stop("4/4 pages", completed=4)
    output = b"".join(shown).decode()
    full = re.findall(r"\x1b\[([0-9;]*)m" + "━" * 30, output)  # the finished bar: one run
    assert full, output
    assert all(sgr not in ("90", "2", "") for sgr in full), full  # not grey, not dim


def test_a_dumb_terminal_is_not_interactive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    with pseudo_terminal() as (stream, _):
        assert not LiveLine(stream=stream).interactive
    monkeypatch.setenv("TERM", "xterm")
    with pseudo_terminal() as (stream, _):
        assert LiveLine(stream=stream).interactive
