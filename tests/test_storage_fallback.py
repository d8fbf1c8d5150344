from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from crawler.storage.fallback import FallbackFile, store_name

if TYPE_CHECKING:
    from pathlib import Path

OPENED = datetime(2026, 11, 21, 10, 15, 0, tzinfo=UTC)


def test_two_runs_with_the_same_name_never_share_a_file(tmp_path: Path) -> None:
    first = FallbackFile(tmp_path, "site", "sqlite:///crawl.db", 3, OPENED)
    second = FallbackFile(tmp_path, "site", "sqlite:////elsewhere/crawl.db", 3, OPENED)
    assert first.write({"pages": [{"url": "http://x/1"}]}) == 1
    assert second.write({"pages": [{"url": "http://x/2"}], "items": [{"key": "k"}]}) == 2
    assert first.write({"links": [{"url": "http://x/3"}]}) == 1  # appended to its own
    assert first.path == tmp_path / "unwritten-site-crawl.db-run3-20261121T101500Z.jsonl"
    assert second.path == tmp_path / "unwritten-site-crawl.db-run3-20261121T101500Z-2.jsonl"
    assert [json.loads(line) for line in first.path.read_text().splitlines()] == [
        {"table": "pages", "url": "http://x/1"},
        {"table": "links", "url": "http://x/3"},
    ]
    assert len(second.path.read_text().splitlines()) == 2


def test_a_run_without_an_id_and_an_odd_name(tmp_path: Path) -> None:
    fallback = FallbackFile(
        tmp_path / "new" / "dir", "my spider/1", "postgresql://u:pw@h/db", None, OPENED
    )
    fallback.write({"pages": [{"url": "u"}]})
    assert fallback.path == tmp_path / "new/dir/unwritten-my_spider_1-db-20261121T101500Z.jsonl"


def test_an_unusable_directory_is_an_oserror_naming_nothing_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    fallback = FallbackFile(tmp_path / "file" / "sub", "site", "sqlite:///c.db", 1, OPENED)
    with pytest.raises(NotADirectoryError):
        fallback.write({"pages": [{"url": "u"}]})
    assert fallback.path is None
    assert fallback.intended.parent == tmp_path / "file" / "sub"


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("sqlite:///crawl.db", "crawl.db"),
        ("sqlite:////var/data/My Crawl.sqlite", "My_Crawl.sqlite"),
        ("postgresql://u:secret@db.example:5432/crawler", "crawler"),
        ("postgresql://u@h/", "store"),
    ],
)
def test_store_names_in_file_names(url: str, name: str) -> None:
    assert store_name(url) == name
