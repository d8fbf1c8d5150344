"""The request journal (crawler.journal) by itself: what it keeps, what it refuses."""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from scrapy import Request, Spider
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from crawler.exceptions import JobDirError
from crawler.items import PageRecord
from crawler.journal import JobState, RequestJournal, carry_stats, check_job_dir, job_meta
from crawler.pagerequest import PageRequest
from tests.crawltools import subprocess_env

if TYPE_CHECKING:
    from pathlib import Path


class Site(Spider):
    name = "site"
    start_url = "http://example.com/"

    def parse(self, response: object) -> None:
        pass

    def other(self, response: object) -> None:
        pass


def record(url: str) -> PageRecord:
    return PageRecord(url, url, 200, "text/html", None, 0, "link", None, False, "now")


def test_pending_requests_survive_a_reopen_in_order_and_done_ones_do_not(tmp_path: Path) -> None:
    spider = Site()
    journal = RequestJournal(tmp_path)
    journal.begin(spider, Settings())
    requests = [Request(f"http://example.com/{n}", callback=spider.parse) for n in range(5)]
    for n, request in enumerate(requests):
        assert journal.scheduled(bytes([n]) * 20, request, spider)
    first = record("http://example.com/0")
    journal.expect(first, bytes([0]) * 20)
    journal.stored([first, record("http://example.com/9")])  # the second was never expected
    journal.commit()
    journal.abandon()  # killed here: no close
    again = RequestJournal(tmp_path)
    assert again.state is JobState.RUNNING
    assert again.resuming
    assert [r.url for r in again.pending(spider)] == [r.url for r in requests[1:]]
    assert all(r.callback == spider.parse for r in again.pending(spider))
    assert sorted(again.seen()) == [bytes([n]) * 20 for n in range(5)]


def test_uncommitted_work_is_not_there_after_a_kill(tmp_path: Path) -> None:
    spider = Site()
    journal = RequestJournal(tmp_path)
    journal.begin(spider, Settings())
    journal.scheduled(b"a" * 20, Request("http://example.com/a"), spider)
    assert job_meta(tmp_path)["state"] == "running"
    journal.commit()
    journal.abandon()
    assert [r.url for r in RequestJournal(tmp_path).pending(spider)] == ["http://example.com/a"]


def test_a_request_that_cannot_be_serialised_is_seen_but_counted_unrecoverable(
    tmp_path: Path,
) -> None:
    spider = Site()
    journal = RequestJournal(tmp_path)
    journal.begin(spider, Settings())
    request = Request("http://example.com/x", callback=lambda response: None)
    assert not journal.scheduled(b"x" * 20, request, spider)
    journal.commit()
    journal.abandon()
    again = RequestJournal(tmp_path)
    assert list(again.pending(spider)) == []
    assert again.unrecoverable() == 1
    assert list(again.seen()) == [b"x" * 20]


def test_component_state_and_sets_come_back(tmp_path: Path) -> None:
    spider = Site()
    journal = RequestJournal(tmp_path)
    journal.begin(spider, Settings())
    counts = {"pagecount": 3}
    journal.register_state("closespider", lambda: counts, lambda value: None)
    journal.remember("traps/followed", "/cal?month=N", "/cal?month=1")
    journal.remember("traps/followed", "/cal?month=N", "/cal?month=2")
    counts["pagecount"] = 7
    journal.commit()
    journal.abandon()
    loaded: list[object] = []
    again = RequestJournal(tmp_path)
    again.register_state("closespider", lambda: {}, loaded.append)
    assert loaded == [{"pagecount": 7}]
    assert again.remembered("traps/followed") == {"/cal?month=N": {"/cal?month=1", "/cal?month=2"}}


def test_a_finished_job_or_another_crawls_is_refused_with_what_it_holds(tmp_path: Path) -> None:
    spider = Site()
    journal = RequestJournal(tmp_path)
    journal.begin(spider, Settings())
    journal.set_run(7, "sqlite:///crawl.db")
    journal.close("finished", {"item_scraped_count": 3})
    journal.abandon()
    finished = RequestJournal(tmp_path)
    assert not finished.resuming
    held = r"holds run 7 of site http://example.com/ \(finished\), which finished"
    with pytest.raises(JobDirError, match=held):
        finished.check("site", "http://example.com/")
    with pytest.raises(JobDirError, match="not a crawl of site http://other/"):
        finished.check("site", "http://other/")


def test_a_stopped_job_is_resumed_with_its_counters(tmp_path: Path) -> None:
    spider = Site()
    journal = RequestJournal(tmp_path)
    journal.begin(spider, Settings())
    journal.close("shutdown", {"item_scraped_count": 3, "store/run_id": 7, "memusage/max": 9})
    journal.abandon()
    again = RequestJournal(tmp_path)
    assert again.resuming
    again.begin(spider, Settings())
    assert again.segments == 2
    stats = MemoryStatsCollector(get_crawler())
    stats.set_value("item_scraped_count", 2)
    stats.set_value("memusage/max", 5)
    stats.set_value("store/run_id", 7)
    carry_stats(again.previous_stats, stats)
    assert stats.get_value("item_scraped_count") == 5
    assert stats.get_value("memusage/max") == 9
    assert stats.get_value("store/run_id") == 7


def test_a_job_directory_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(JobDirError, match=r"cannot open the job journal .*file/job"):
        RequestJournal(tmp_path / "file" / "job")


def test_a_job_directory_in_use_is_refused_until_its_crawl_dies(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, env=subprocess_env()
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"holding\n"
        with pytest.raises(JobDirError, match="is in use by another crawl"):
            check_job_dir(tmp_path, "site", "http://example.com/")
        with pytest.raises(JobDirError, match="is in use by another crawl"):
            RequestJournal(tmp_path)
    finally:
        holder.kill()  # SIGKILL: the lock goes with the process
        holder.wait()
    assert check_job_dir(tmp_path, "site", "http://example.com/")["state"] == "running"


HOLD = """
import sys, time
from pathlib import Path
from scrapy import Spider
from scrapy.settings import Settings
from crawler.journal import RequestJournal

class Site(Spider):
    name = "site"
    start_url = "http://example.com/"

RequestJournal(Path(sys.argv[1])).begin(Site(), Settings())
print("holding", flush=True)
time.sleep(60)
"""


def test_a_finished_crawl_whose_store_has_not_finished_the_run_stays_resumable(
    tmp_path: Path,
) -> None:
    """Killed between the scheduler's close and the store's last write: resumable."""
    spider = Site()
    journal = RequestJournal(tmp_path)
    journal.begin(spider, Settings())
    journal.store_writes = True
    journal.close("finished", {})
    assert job_meta(tmp_path)["state"] == "stopped"
    journal.mark_finished()
    assert job_meta(tmp_path)["state"] == "finished"


def test_an_empty_or_foreign_store_url_is_refused_before_anything_starts(tmp_path: Path) -> None:
    spider = Site()
    (tmp_path / "journal.sqlite3").write_bytes(b"")  # killed before the first write
    assert job_meta(tmp_path) == {}
    journal = RequestJournal(tmp_path)
    journal.begin(spider, Settings())
    journal.set_run(1, "sqlite:////a/crawl.db")
    journal.abandon()
    with pytest.raises(JobDirError, match=r"stored in sqlite:////a/crawl.db, not sqlite:////b"):
        check_job_dir(tmp_path, "site", "http://example.com/", "sqlite:////b/crawl.db")


def test_requests_are_journalled_as_scrapys_to_dict_with_the_spider(tmp_path: Path) -> None:
    """The pickled dict is Scrapy's ``Request.to_dict(spider=...)``, its method names
    looked up once (crawler.utils.requestdict), right again after a name is rebound."""
    spider = Site()
    journal = RequestJournal(tmp_path)
    journal.begin(spider, Settings())
    requests = [
        Request("http://example.com/a", callback=spider.parse, errback=spider.parse),
        Request("http://example.com/b", meta={"depth": 2}, priority=3, headers={"X-A": "1"}),
        PageRequest("http://example.com/c", callback=spider.parse, dont_filter=True),
    ]
    for n, request in enumerate(requests * 2):
        assert journal.scheduled(bytes([n]) * 20, request, spider)
        blob = journal._scheduled[-1][1]
        assert blob is not None
        assert pickle.loads(blob) == request.to_dict(spider=spider)
    spider.parse = spider.other  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="not an instance method"):
        requests[0].to_dict(spider=spider)
    assert not journal.scheduled(b"z" * 20, requests[0], spider)  # as Scrapy refuses it
    journal.abandon()
