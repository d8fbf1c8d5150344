"""Old run directories are deleted after a run ends, past ``[scheduler] keep_runs``."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.exceptions import ConfigError
from crawler.jobs.config import load_jobs_file
from crawler.jobs.retention import prune_run_dirs
from crawler.jobs.state import StateStore


def _run(store: StateStore, runs_dir: Path, status: str, job_dir_of: int | None = None) -> int:
    run_id = store.add_run(job="j", trigger="schedule", status="queued")
    run_dir = runs_dir / "j" / str(run_id)
    (run_dir / "job").mkdir(parents=True)
    (run_dir / "crawl.log").write_text("log\n")
    job_dir = runs_dir / "j" / str(job_dir_of) / "job" if job_dir_of else run_dir / "job"
    store.update_run(run_id, status=status, run_dir=str(run_dir), job_dir=str(job_dir))
    return run_id


def test_only_old_finished_runs_lose_their_directory(tmp_path: Path) -> None:
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    runs_dir = tmp_path / "runs"
    try:
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        stray = store.add_run(job="j", trigger="manual", status="succeeded")
        store.update_run(stray, run_dir=str(elsewhere))  # not under runs_dir/j: never deleted
        first = _run(store, runs_dir, "succeeded")
        interrupted = _run(store, runs_dir, "interrupted")
        failed = _run(store, runs_dir, "failed")
        resumed = _run(store, runs_dir, "succeeded", job_dir_of=interrupted)
        old_of_resumed = _run(store, runs_dir, "failed")
        latest = [_run(store, runs_dir, "succeeded") for _ in range(2)]
        running = _run(store, runs_dir, "running")

        deleted = prune_run_dirs(store, "j", runs_dir, keep=2)

        def kept(run_id: int) -> bool:
            return (runs_dir / "j" / str(run_id)).is_dir()

        assert sorted(deleted) == sorted(
            runs_dir.resolve() / "j" / str(i) for i in (first, failed, resumed, old_of_resumed)
        )
        assert not any(kept(i) for i in (first, failed, resumed, old_of_resumed))
        assert all(kept(i) for i in (interrupted, running, *latest))
        assert elsewhere.is_dir()
        assert len(store.runs("j", limit=None)) == 9  # the history stays
        assert prune_run_dirs(store, "j", runs_dir, keep=0) == []  # 0: keep every one
    finally:
        store.close()


def test_a_directory_holding_a_kept_runs_job_dir_stays(tmp_path: Path) -> None:
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    runs_dir = tmp_path / "runs"
    try:
        base = _run(store, runs_dir, "failed")
        _run(store, runs_dir, "succeeded", job_dir_of=base)  # kept: resumed base's job dir
        assert prune_run_dirs(store, "j", runs_dir, keep=1) == []
        assert (runs_dir / "j" / str(base) / "job").is_dir()
    finally:
        store.close()


def test_keep_runs_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text('[scheduler]\nkeep_runs = 3\n[jobs.t]\ncrawl = "http://x.test/"\n')
    assert load_jobs_file(path).scheduler.keep_runs == 3
    path.write_text('[scheduler]\nkeep_runs = -1\n[jobs.t]\ncrawl = "http://x.test/"\n')
    with pytest.raises(ConfigError, match=r"scheduler\.keep_runs"):
        load_jobs_file(path)
