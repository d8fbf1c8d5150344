"""What the dashboard shows of a job file: its jobs, their history, a run's log file.

The same data as ``crawler jobs list`` and ``crawler jobs history``
(:mod:`crawler.commands.jobs`), read from the job file's state store
(:class:`crawler.jobs.state.StateStore`).  Reading creates nothing: while a
SQLite state store does not exist yet (no scheduler or ``crawler jobs run`` ran),
the jobs are shown without history.

A run's log is the file its history row records (``log_file``), and only when it
lies in the job file's ``runs_dir``: the dashboard never opens a path it is
given, and a state store shared with others cannot point it elsewhere.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from crawler.commands.jobs import describe_last, last_ran, next_runs
from crawler.dashboard.data import duration_text, utc_text
from crawler.jobs.state import StateStore
from crawler.redaction import redact_text, redact_url
from crawler.storage.sql import engine_url

if TYPE_CHECKING:
    from crawler.jobs.config import JobsFile

#: History rows shown on a job's page.
HISTORY_LIMIT = 200


def store_key(url: str, base: Path) -> str:
    """What names one store in a history row's ``store`` and in ``--store``: the URL
    with its password masked and a relative SQLite path resolved against ``base``."""
    shown = redact_url(url)
    scheme, sep, rest = shown.partition(":///")
    if sep and scheme.startswith("sqlite") and rest and not rest.startswith(":memory:"):
        path, query_sep, query = rest.partition("?")
        return f"{scheme}:///{(base / path).resolve()}{query_sep}{query}"
    return shown


class JobsSource:
    """A checked job file and, once it exists, its state store."""

    def __init__(self, jobs: JobsFile, timeout: float) -> None:
        self.jobs = jobs
        self.timeout = timeout
        self._store: StateStore | None = None
        self._lock = threading.Lock()

    def state_store(self) -> StateStore | None:
        """The state store, opened on first use; ``None`` while a SQLite one does
        not exist (opening it would create it)."""
        with self._lock:
            if self._store is None:
                target = make_url(engine_url(self.jobs.scheduler.store))
                if (
                    target.get_backend_name() == "sqlite"
                    and not Path(target.database or "").is_file()
                ):
                    return None
                self._store = StateStore.open(self.jobs.scheduler.store, self.timeout)
            return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def overview(self) -> list[dict[str, Any]]:
        """Every job by name: schedule, next two runs (the job's time zone), paused,
        last run (the newest that ran, as ``crawler jobs list`` says it)."""
        store = self.state_store()
        states = store.job_states() if store is not None else {}
        now = datetime.now(UTC)
        rows = []
        for name, job in sorted(self.jobs.jobs.items()):
            state = states.get(name) or {}
            last = last_ran(store, name) if store is not None else None
            rows.append(
                {
                    "name": name,
                    "schedule": job.schedule.describe() if job.schedule else "manual",
                    "next_runs": next_runs(job, state, now),
                    "paused": bool(state.get("paused")),
                    "last": describe_last(last),
                    "last_status": last["status"] if last else None,
                }
            )
        return rows

    def history(self, name: str) -> list[dict[str, Any]]:
        """The newest :data:`HISTORY_LIMIT` history rows of job ``name``, as text."""
        store = self.state_store()
        found = store.runs(name, limit=HISTORY_LIMIT) if store is not None else []
        return [
            {
                "id": r["id"],
                "trigger": r["trigger"],
                "started": utc_text(r["started_at"] or r["scheduled_for"]),
                "finished": utc_text(r["finished_at"]),
                "duration": duration_text(r["started_at"], r["finished_at"]),
                "status": r["status"],
                "reasons": "; ".join(
                    redact_text(f"{x.get('code', '?')}: {x.get('message', '')}")
                    for x in r["reasons"] or []
                ),
                "finish_reason": r["finish_reason"],
                "pages": r["pages"],
                "item_count": r["items"],
                "errors": r["errors"],
                "exit_code": r["exit_code"],
                "crawl_run_id": r["crawl_run_id"],
                "store": r["store"],
            }
            for r in found
        ]

    def run_of_crawl(self, crawl_run_id: int, store_url: str) -> dict[str, Any] | None:
        """The newest history row whose crawl wrote run ``crawl_run_id`` of the store
        at ``store_url`` (the dashboard's), or ``None``."""
        store = self.state_store()
        if store is None:
            return None
        for row in store.runs_of_crawl(crawl_run_id):
            if self.wrote_to(row, store_url):
                return row
        return None

    def wrote_to(self, row: dict[str, Any], store_url: str) -> bool:
        """Whether history row ``row``'s crawl wrote to the store at ``store_url``
        (relative to the working directory); its ``store`` is relative to the job file's."""
        return bool(row.get("crawl_run_id") is not None and row.get("store")) and store_key(
            row["store"], self.jobs.base_dir
        ) == store_key(store_url, Path.cwd())

    def log_path(self, row: dict[str, Any]) -> tuple[Path | None, str]:
        """The log file of history row ``row`` and ``""``; or ``None`` and why not."""
        recorded = row.get("log_file")
        if not recorded:
            return None, "its history row records no log file"
        path = Path(recorded).resolve()
        runs_dir = self.jobs.scheduler.runs_dir.resolve()
        if not path.is_relative_to(runs_dir):
            return None, "its recorded log file is outside the job file's runs_dir"
        if not path.is_file():
            return None, "its log file no longer exists (keep_runs removes old run directories)"
        return path, ""
