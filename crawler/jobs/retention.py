"""How many finished runs of a job keep their run directory.

A run's directory (``runs_dir/NAME/<run id>/``: ``crawl.log``, ``outcome.json``
and its ``--job-dir``) is about 0.25 MB for a small crawl and grows with the
crawl's journal, so a job scheduled every minute would fill a disk.  After each
run ends, the directories of that job's finished runs (``succeeded`` or
``failed``) beyond the newest ``[scheduler] keep_runs`` are deleted; their
history rows stay (``jobs history`` still lists them, their log file is gone).
Runs in progress, queued, and ``interrupted`` runs (a later run may resume
their job dir) are never touched, nor a directory that holds the job dir of a
run that is kept.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.jobs.state import StateStore

logger = logging.getLogger(__name__)

PRUNABLE = ("succeeded", "failed")


def prune_run_dirs(store: StateStore, job: str, runs_dir: Path, keep: int) -> list[Path]:
    """Delete the run directories of ``job``'s finished runs but the newest
    ``keep`` (0 keeps every one); the directories deleted.  Only directories
    under ``runs_dir/job`` are deleted; an error is logged, never raised (a run
    that ended must be recorded whatever the disk says)."""
    if keep <= 0:
        return []
    rows = store.runs(job, limit=None)  # newest first
    finished = [r for r in rows if r["status"] in PRUNABLE]
    old = finished[keep:]
    if not old:
        return []
    old_ids = {r["id"] for r in old}
    protected = [
        Path(r["job_dir"]).resolve() for r in rows if r["id"] not in old_ids and r.get("job_dir")
    ]
    home = (runs_dir / job).resolve()
    deleted = []
    for row in old:
        if not row.get("run_dir"):
            continue
        run_dir = Path(row["run_dir"]).resolve()
        if run_dir.parent != home or not run_dir.exists():
            continue
        if any(path == run_dir or run_dir in path.parents for path in protected):
            continue  # a kept run resumed this run's job dir
        try:
            shutil.rmtree(run_dir)
        except OSError as e:
            logger.warning("cannot delete the directory of run %s of %s: %s", row["id"], job, e)
            continue
        deleted.append(run_dir)
    if deleted:
        logger.info(
            "deleted the directories of %d old run(s) of %s (keep_runs = %d)",
            len(deleted),
            job,
            keep,
        )
    return deleted
