"""The shared crawl's spool (``crawler.frontier.scheduler``): its files are pickles,
which can run code, so a spool that is not this user's own and private is never
read (a review planted one in a worker's directory and ran a command).  The spool
written, read back and queued by a resuming worker: ``tests/test_frontier_workers.py``
(the frozen-Redis test)."""

from __future__ import annotations

import logging
import os
import pickle
from typing import TYPE_CHECKING

import pytest

from crawler.frontier.scheduler import FrontierScheduler
from crawler.utils.files import private_path_problem

if TYPE_CHECKING:
    from pathlib import Path


class _Planted:
    """A pickle that runs code when loaded: it creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))  # the planted code


def _scheduler(spool: Path) -> FrontierScheduler:
    """Just enough of a scheduler for its spool checks (they run before any Redis call)."""
    scheduler = object.__new__(FrontierScheduler)
    scheduler.spool = spool
    return scheduler


def _plant(spool: Path, marker: Path, *, mode: int = 0o600, dir_mode: int = 0o700) -> Path:
    spool.parent.mkdir(mode=0o700, exist_ok=True)
    spool.mkdir(mode=0o700, exist_ok=True)
    os.chmod(spool, dir_mode)
    path = spool / "w-1.pickle"
    path.write_bytes(pickle.dumps(_Planted(marker)))
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize(
    ("mode", "dir_mode", "said"),
    [
        (0o666, 0o700, "writable by other users (mode 666)"),
        (0o620, 0o700, "writable by other users (mode 620)"),
        (0o600, 0o777, "writable by other users (mode 777)"),
    ],
)
def test_a_spool_others_may_write_is_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int, dir_mode: int, said: str
) -> None:
    marker = tmp_path / "ran"
    spool = tmp_path / "frontier-spool" / "c0ffee"
    path = _plant(spool, marker, mode=mode, dir_mode=dir_mode)
    with caplog.at_level(logging.ERROR):
        _scheduler(spool)._queue_spool()
    assert not marker.exists()
    assert path.exists()  # left for the user to look at
    assert said in caplog.text
    assert "Not reading the spool" in caplog.text


def test_a_spool_of_another_user_is_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if os.getuid() != 0:
        pytest.skip("giving a file to another user takes root")
    marker = tmp_path / "ran"
    spool = tmp_path / "frontier-spool" / "c0ffee"
    path = _plant(spool, marker)
    os.chown(path, 4321, -1)
    with caplog.at_level(logging.ERROR):
        _scheduler(spool)._queue_spool()
    assert not marker.exists()
    assert "owned by another user (uid 4321)" in caplog.text
    os.chown(path, 0, -1)
    os.chown(spool.parent, 4321, -1)  # the spool's root directory, planted first
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        _scheduler(spool)._queue_spool()
    assert not marker.exists()
    assert f"{spool.parent} is owned by another user (uid 4321)" in caplog.text


def test_a_spool_through_a_symbolic_link_is_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "ran"
    elsewhere = tmp_path / "elsewhere" / "c0ffee"
    elsewhere.parent.mkdir(mode=0o700)
    _plant(elsewhere, marker)
    (tmp_path / "frontier-spool").symlink_to(elsewhere.parent)
    with caplog.at_level(logging.ERROR):
        _scheduler(tmp_path / "frontier-spool" / "c0ffee")._queue_spool()
    assert not marker.exists()
    assert "is not a directory" in caplog.text


def test_private_path_problem(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    assert private_path_problem(private, directory=True) is None
    assert private_path_problem(private, directory=False) == "not a regular file"
    file = private / "f"
    file.write_bytes(b"")
    os.chmod(file, 0o644)  # others may read: still private for this rule
    assert private_path_problem(file, directory=False) is None
    assert private_path_problem(file, directory=True) == "not a directory"
    assert private_path_problem(private / "missing", directory=False) == "No such file or directory"


def test_no_spool_for_this_crawl_is_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another crawl's spool in the directory: nothing to read, nothing said."""
    (tmp_path / "frontier-spool" / "other").mkdir(parents=True, mode=0o700)
    with caplog.at_level(logging.DEBUG):
        _scheduler(tmp_path / "frontier-spool" / "c0ffee")._queue_spool()
    assert caplog.text == ""
