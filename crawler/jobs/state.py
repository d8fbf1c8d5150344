"""The scheduler's durable state in a SQL store (SQLite or PostgreSQL, through SQLAlchemy).

Three tables, on a MetaData of their own (a crawl store does not get them; a
state store may be a crawl store too, the default ``CRAWLER_STORE_URL``):

* ``job_state``: per job, ``paused``, the schedule it was computed for
  (``schedule``, :meth:`crawler.jobs.config.Schedule.key`), the next fire
  time and the last one the scheduler acted on;
* ``job_runs``: the history, one row per fire or manual run: ``status`` is
  ``queued``, ``running``, then ``succeeded``, ``failed`` or ``interrupted``;
  or ``skipped`` (overlap) or ``missed`` (while the scheduler was down).  With
  the process (``pid``, ``pgid``, ``pid_start``: the kernel's start time of the
  pid, so a reused pid is not taken for the run), its files and the outcome.
* ``scheduler_lock``: one row naming the scheduler that runs the store's jobs
  and its last heartbeat (:meth:`StateStore.acquire_lock`).

Times are timezone-aware UTC datetimes in and out (SQLite returns naive ones,
made UTC here).  Every failure is a :class:`~crawler.exceptions.StoreError`
naming the store (its password masked).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from crawler.exceptions import StoreError
from crawler.storage.busy import BusyRetry
from crawler.storage.sql import check_store_url, create_schema, display_url, engine_url

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from sqlalchemy.engine import Connection, Engine

    _T = TypeVar("_T")

metadata = MetaData()

job_state = Table(
    "job_state",
    metadata,
    Column("job", String(200), primary_key=True),
    Column("paused", Boolean, nullable=False, default=False),
    Column("schedule", Text),
    Column("next_fire_at", DateTime(timezone=True)),
    Column("last_fire_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(200), nullable=False),
    Column("trigger", String(20), nullable=False),  # schedule, catch_up, manual, resume, retry
    Column("status", String(20), nullable=False),
    Column("scheduled_for", DateTime(timezone=True)),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("reasons", JSON),  # [{"code": ..., "message": ...}]
    Column("finish_reason", String(200)),
    Column("pages", Integer),
    Column("items", Integer),
    Column("errors", Integer),
    Column("exit_code", Integer),
    Column("run_dir", Text),
    Column("log_file", Text),
    Column("job_dir", Text),
    Column("pid", Integer),
    Column("pgid", Integer),
    Column("pid_start", String(40)),
    Column("crawl_run_id", Integer),
    Column("remote_job", Text),  # the Scrapyd job id of a target = "scrapyd" run
    Column("store", Text),  # the crawl's store, password masked
    Column("owner", Text),  # the scheduler (or `jobs run`) that started it: host:pid
    Column("resumed_from", Integer),  # the interrupted run this one resumes or retries
    Column("followed_by", Integer),  # the run that resumed or retried this one
    Column("notify_failures", Integer, nullable=False, default=0),
    Index("job_runs_by_job", "job", "id"),
)

scheduler_lock = Table(
    "scheduler_lock",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("owner", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
)

ACTIVE = ("queued", "running")
LOCK_NAME = "scheduler"


def utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (SQLite hands back naive ones)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _row(mapping: Any) -> dict[str, Any]:
    return {k: utc(v) if isinstance(v, datetime) else v for k, v in dict(mapping).items()}


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    # WAL: `crawler jobs` reads (and pauses) while the scheduler writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


class StateStore:
    """Job state, run history and the scheduler lock in the store at ``url``."""

    def __init__(self, engine: Engine, url: str, timeout: float) -> None:
        self.engine = engine
        self.url = url
        self.busy = BusyRetry(timeout)

    @classmethod
    def open(cls, url: str, timeout: float = 30.0) -> StateStore:
        """Connect, creating the SQLite file and the tables when missing; no wait
        for the database longer than about ``timeout`` seconds."""
        check_store_url(url)
        target = make_url(engine_url(url))
        connect_args: dict[str, Any] = {}
        if target.get_backend_name() == "postgresql":
            # psycopg (~45 ms of imports) only for PostgreSQL stores
            from crawler.storage.postgres import connect_params

            connect_args = connect_params(timeout, target.query)
        else:
            connect_args["timeout"] = min(1.0, timeout)
        try:
            engine = create_engine(target, pool_pre_ping=True, connect_args=connect_args)
        except (ImportError, SQLAlchemyError, ValueError) as e:
            raise StoreError(f"cannot open the job state store {display_url(url)}: {e}") from e
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_wal)
        elif engine.dialect.name == "postgresql":
            from crawler.storage.postgres import bound_connections

            bound_connections(engine, timeout)
        store = cls(engine, url, timeout)
        store._call("create the tables of", lambda: create_schema(engine, metadata))
        return store

    def close(self) -> None:
        self.engine.dispose()

    def _call(self, what: str, operation: Callable[[], _T]) -> _T:
        try:
            return self.busy.call(operation)
        except SQLAlchemyError as e:
            reason = " ".join(str(getattr(e, "orig", None) or type(e).__name__).split())
            raise StoreError(
                f"cannot {what} the job state store {display_url(self.url)}: {reason}"
            ) from None

    def _write(self, what: str, work: Callable[[Connection], _T]) -> _T:
        def transaction() -> _T:
            with self.engine.begin() as conn:
                return work(conn)

        return self._call(what, transaction)

    def _read(self, work: Callable[[Connection], _T]) -> _T:
        def transaction() -> _T:
            with self.engine.connect() as conn:
                return work(conn)

        return self._call("read", transaction)

    # Job state

    def job_states(self) -> dict[str, dict[str, Any]]:
        return self._read(
            lambda conn: {r["job"]: _row(r) for r in conn.execute(select(job_state)).mappings()}
        )

    def set_job_state(self, job: str, **values: Any) -> None:
        """Update (or create) the state row of ``job`` with ``values``."""
        values["updated_at"] = datetime.now(UTC)

        def work(conn: Connection) -> None:
            done = conn.execute(update(job_state).where(job_state.c.job == job).values(**values))
            if not done.rowcount:
                conn.execute(insert(job_state).values(job=job, **{"paused": False, **values}))

        self._write("write to", work)

    # History

    def add_run(self, **values: Any) -> int:
        def work(conn: Connection) -> int:
            result = conn.execute(insert(job_runs).values(notify_failures=0, **values))
            return int(result.inserted_primary_key[0])

        return self._write("write to", work)

    def update_run(self, run_id: int, **values: Any) -> None:
        self._write(
            "write to",
            lambda conn: conn.execute(
                update(job_runs).where(job_runs.c.id == run_id).values(**values)
            ),
        )

    def run(self, run_id: int) -> dict[str, Any] | None:
        def work(conn: Connection) -> dict[str, Any] | None:
            row = conn.execute(select(job_runs).where(job_runs.c.id == run_id)).mappings().first()
            return _row(row) if row else None

        return self._read(work)

    def runs(
        self, job: str | None = None, limit: int | None = 20, statuses: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        """History rows, newest first; of ``job`` only, of ``statuses`` only when given."""
        query = select(job_runs).order_by(job_runs.c.id.desc())
        if job is not None:
            query = query.where(job_runs.c.job == job)
        if statuses:
            query = query.where(job_runs.c.status.in_(statuses))
        if limit is not None:
            query = query.limit(limit)
        return self._read(lambda conn: [_row(r) for r in conn.execute(query).mappings()])

    def runs_of_crawl(self, crawl_run_id: int) -> list[dict[str, Any]]:
        """History rows whose crawl wrote run ``crawl_run_id`` of its store, newest
        first (a resumed run's rows share it; the caller checks the ``store``)."""
        query = (
            select(job_runs)
            .where(job_runs.c.crawl_run_id == crawl_run_id)
            .order_by(job_runs.c.id.desc())
        )
        return self._read(lambda conn: [_row(r) for r in conn.execute(query).mappings()])

    def last_runs(self) -> dict[str, dict[str, Any]]:
        """The newest history row of every job."""
        latest = select(job_runs.c.job, job_runs.c.id).order_by(job_runs.c.id)
        rows = self._read(lambda conn: list(conn.execute(latest)))
        ids = {job: run_id for job, run_id in rows}
        query = select(job_runs).where(job_runs.c.id.in_(list(ids.values())))
        return self._read(lambda conn: {r["job"]: _row(r) for r in conn.execute(query).mappings()})

    # The lock

    def acquire_lock(
        self, owner: str, stale_after: float, holder_gone: Callable[[str], bool]
    ) -> str | None:
        """Take the store's scheduler lock for ``owner``; None when taken, else
        the holder (``host:pid``) whose heartbeat is younger than ``stale_after``
        seconds and who is not gone (``holder_gone(holder)``: a dead pid on this host)."""
        now = datetime.now(UTC)

        def work(conn: Connection) -> str | None:
            row = (
                conn.execute(select(scheduler_lock).where(scheduler_lock.c.name == LOCK_NAME))
                .mappings()
                .first()
            )
            if row is None:
                conn.execute(
                    insert(scheduler_lock).values(
                        name=LOCK_NAME, owner=owner, started_at=now, heartbeat_at=now
                    )
                )
                return None
            holder, beat = row["owner"], utc(row["heartbeat_at"])
            fresh = beat is not None and now - beat < timedelta(seconds=stale_after)
            if holder != owner and fresh and not holder_gone(holder):
                return str(holder)
            done = conn.execute(
                update(scheduler_lock)
                .where(scheduler_lock.c.name == LOCK_NAME, scheduler_lock.c.owner == holder)
                .values(owner=owner, started_at=now, heartbeat_at=now)
            )
            return None if done.rowcount else str(holder)

        try:
            return self._write("take the scheduler lock of", work)
        except StoreError:
            if self.lock_holder() not in (None, owner):  # another took it meanwhile
                return self.lock_holder()
            raise

    def heartbeat(self, owner: str) -> bool:
        """Renew ``owner``'s lock; False when another scheduler took it over."""

        def work(conn: Connection) -> bool:
            done = conn.execute(
                update(scheduler_lock)
                .where(scheduler_lock.c.name == LOCK_NAME, scheduler_lock.c.owner == owner)
                .values(heartbeat_at=datetime.now(UTC))
            )
            return bool(done.rowcount)

        return self._write("renew the scheduler lock of", work)

    def release_lock(self, owner: str) -> None:
        self._write(
            "release the scheduler lock of",
            lambda conn: conn.execute(
                scheduler_lock.delete().where(
                    scheduler_lock.c.name == LOCK_NAME, scheduler_lock.c.owner == owner
                )
            ),
        )

    def lock_holder(self) -> str | None:
        query = select(scheduler_lock.c.owner).where(scheduler_lock.c.name == LOCK_NAME)
        return self._read(lambda conn: conn.execute(query).scalar())
