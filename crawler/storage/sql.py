"""A SQL store (SQLite or PostgreSQL) behind one small interface, via SQLAlchemy.

A store is always named by a URL (SQLAlchemy's form), wherever one is given
(``--store``, ``crawler extract -o``, ``CRAWLER_STORE_URL``):

* ``sqlite:///crawl.db``: a SQLite file, relative to the working directory;
* ``sqlite:////var/data/crawl.db``: an absolute path (four slashes);
* ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE`` (``postgres://`` too;
  the psycopg 3 driver unless the URL names another with ``+DRIVER``).

:func:`check_store_url` is the one place that decides: a bare path
(``crawl.db``) is refused with the URL to write instead, because a path cannot
be told from a mistyped URL (``postgresql:/db`` would silently become a file);
an unknown scheme or a malformed URL is refused with the forms above.  All are
:class:`~crawler.exceptions.StoreUrlError` (a ``ConfigError``: exit code 2).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Float,
    Integer,
    String,
    Text,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    insert,
    inspect,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InvalidRequestError, SQLAlchemyError
from w3lib.url import canonicalize_url

from crawler.default_settings import CRAWLER_STORE_TIMEOUT
from crawler.exceptions import StoreError, StoreNotFoundError, StoreUrlError
from crawler.outcome import CLEAN_REASONS, STATUS_STAT, SUCCEEDED
from crawler.redaction import redact_url
from crawler.storage.busy import ATTEMPT_WAIT, BusyRetry, is_busy
from crawler.storage.schema import items, links, metadata, pages, rejects, runs

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import TypeVar

    from sqlalchemy import MetaData, Table
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.sql.dml import Insert

    _T = TypeVar("_T")

# The module whose ``insert`` (with ``on_conflict_do_*``) upserts, by dialect name;
# imported with the store's engine, so a SQLite crawl never loads the PostgreSQL
# dialect (~30 ms of CPU at every start).
_UPSERT_DIALECTS = {
    "sqlite": "sqlalchemy.dialects.sqlite",
    "postgresql": "sqlalchemy.dialects.postgresql",
}
# ``postgresql://`` alone means psycopg2 to SQLAlchemy; this project ships psycopg 3.
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
STORE_SCHEMES = ("sqlite", "postgresql", "postgres")
STORE_URL_FORMS = (
    "sqlite:///RELATIVE/PATH, sqlite:////ABSOLUTE/PATH or postgresql://USER@HOST[:PORT]/DATABASE"
)
# A bare path ending in one of these is meant as a store (crawler extract -o x.db).
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def engine_url(url: str) -> str:
    """The URL SQLAlchemy is given: a bare ``postgresql://`` gets the psycopg driver."""
    scheme, sep, rest = url.partition("://")
    return f"{_DEFAULT_DRIVERS.get(scheme, scheme)}{sep}{rest}"


def display_url(url: str) -> str:
    """The store URL as it may be shown to a user: as written, with its password
    masked (:func:`crawler.redaction.redact_url`: ``user:***@``, ``?password=***``);
    in a malformed one (``postgresql:/u:pw@h/db``), all between the scheme and the
    last ``@``."""
    shown = redact_url(url)
    head, at, host = shown.rpartition("@")
    if at and "://" not in url:
        return f"{head.partition(':')[0]}:***@{host}"
    return shown


def absolute_url(url: str) -> str:
    """The store URL with a relative SQLite path made absolute against the working
    directory (``sqlite:///crawl.db`` -> ``sqlite:////home/me/crawl.db``); any other
    URL as it is.  What names one store wherever the command runs (``..`` and
    symbolic links resolved)."""
    scheme, sep, rest = url.partition(":///")
    if not sep or not scheme.startswith("sqlite") or not rest or rest.startswith(":memory:"):
        return url
    path, query_sep, query = rest.partition("?")
    return f"{scheme}:///{Path(path).resolve()}{query_sep}{query}"


def looks_like_store(text: str) -> bool:
    """Whether ``text`` (an ``-o`` value) is meant as a store, not a feed file: a URL,
    or a path ending in ``.db``, ``.sqlite`` or ``.sqlite3`` (which
    :func:`check_store_url` then refuses with the URL to write)."""
    return "://" in text or Path(text).suffix.lower() in SQLITE_SUFFIXES


def check_store_url(url: str) -> str:
    """``url`` itself if it is a store URL (see the module docstring); else
    :class:`~crawler.exceptions.StoreUrlError`, one line with what to write instead.

    Only the form is checked here; whether the database can be opened is
    :meth:`SqlStore.open`'s business.
    """
    if not url.strip():
        raise StoreUrlError(f"the store URL is empty: use {STORE_URL_FORMS}")
    scheme, sep, _ = url.partition("://")
    if not sep:
        head = url.partition(":")[0].partition("+")[0].lower()
        if ":" in url and head in STORE_SCHEMES:
            raise StoreUrlError(f"malformed store URL {display_url(url)}: use {STORE_URL_FORMS}")
        raise StoreUrlError(
            f"{url!r} is a path, not a store URL: write sqlite:///{url} for a SQLite file "
            f"there (store URLs: {STORE_URL_FORMS})"
        )
    backend = scheme.partition("+")[0].lower()
    if backend not in STORE_SCHEMES:
        raise StoreUrlError(
            f"unknown store scheme {scheme + '://'!r} in {display_url(url)}: use {STORE_URL_FORMS}"
        )
    try:
        target = make_url(engine_url(url))
    except (ArgumentError, ValueError):
        raise StoreUrlError(
            f"malformed store URL {display_url(url)}: use {STORE_URL_FORMS}"
        ) from None
    if backend == "sqlite" and target.database in (None, "", ":memory:"):
        raise StoreUrlError(
            f"{url} names no file (an in-memory database is gone when the command "
            "ends): write sqlite:///PATH"
        )
    return url


def _one_line(reason: object) -> str:
    """A driver's message on one line (psycopg's run over several).

    For an error the PostgreSQL server reported, only its primary message
    (psycopg's ``Diagnostic.message_primary``): the DETAIL that follows it may
    hold the row's values ("Failing row contains (...)", "Key (url)=(...)
    already exists"), scraped data or secrets."""
    primary = getattr(getattr(reason, "diag", None), "message_primary", None)
    return " ".join(str(primary or reason).split())


def _element_type(column_type: Any) -> Any:
    """The type of the array that carries a column's values into ``unnest`` (PostgreSQL).

    Text for a ``VARCHAR(n)`` column: an explicit cast to ``VARCHAR(n)[]`` would
    cut a longer value without an error, where storing it into the column
    refuses it ("value too long"), as a row-by-row INSERT does.  Text for JSON
    too: an ``ARRAY(JSON)`` would take a list value as another dimension of the
    array; each value goes as its JSON text, cast back to JSON in the SELECT."""
    if isinstance(column_type, String | JSON):
        return Text()
    return column_type


def _array(column_type: Any, values: list[Any]) -> list[Any]:
    """``values`` of one column as :func:`_element_type`'s array takes them: JSON
    as text; a number of another Python type than the column's made the
    column's (an ``int`` latency among ``float`` ones, a ``bool`` status), as a
    row-by-row INSERT would store it: psycopg dumps an array of one type only."""
    if isinstance(column_type, JSON):
        return [json.dumps(v) for v in values]  # None as JSON null, as SQLAlchemy's JSON type
    if isinstance(column_type, Float):
        return [float(v) if isinstance(v, int) else v for v in values]
    if isinstance(column_type, Integer):
        return [int(v) if isinstance(v, bool) else v for v in values]
    return values


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers go on while a crawl writes.  The journal mode persists in the
    # file, so a reading connection (create=False) changes nothing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class SqlStore:
    """Runs, pages, items, rejects and links in a SQL database; upserts, batched by the caller.

    No operation waits for the database longer than about ``timeout`` seconds
    (``CRAWLER_STORE_TIMEOUT``): a PostgreSQL server that does not answer
    (:mod:`crawler.storage.postgres`), or a SQLite file another process keeps
    locked for writing (:mod:`crawler.storage.busy`: writes are retried with
    backoff, counted in :attr:`busy`), becomes a :class:`StoreError`.
    """

    def __init__(self, engine: Engine, url: str, timeout: float = CRAWLER_STORE_TIMEOUT) -> None:
        self.engine = engine
        self.url = url
        self.timeout = timeout
        self.busy = BusyRetry(timeout)
        self._insert = importlib.import_module(_UPSERT_DIALECTS[engine.dialect.name]).insert
        # One INSERT ... SELECT FROM unnest(arrays) per table and batch (see _insert_rows)
        self._unnest = engine.dialect.name == "postgresql"
        # SQLite: one INSERT ... SELECT FROM json_each(rows) per table and batch
        self._json_each = engine.dialect.name == "sqlite"
        # SQLAlchemy's bind processors of a table's columns, by (table, columns)
        self._processors: dict[tuple[str, tuple[str, ...]], list[Any]] = {}
        # The INSERTs of write_batch by (table, columns, conflict keys, updated columns, json_each)
        self._statements: dict[tuple[Any, ...], Insert] = {}

    @classmethod
    def open(
        cls, url: str, *, create: bool = True, timeout: float = CRAWLER_STORE_TIMEOUT
    ) -> SqlStore:
        """Connect to the store at ``url``; any failure is a :class:`StoreError`.

        ``create=True`` (crawls) creates the database file (SQLite) and the
        tables when missing.  ``create=False`` (reading: ``crawler runs``,
        ``crawler export``) creates nothing: a missing SQLite file, or a
        database without the store's tables, is a :class:`StoreNotFoundError`.
        A URL that is no store URL is a :class:`StoreUrlError` (see
        :func:`check_store_url`).  ``timeout`` (seconds) bounds every wait for
        the database (see the class docstring); reading waits for a SQLite
        writer's lock that long at once, writing retries.
        """
        check_store_url(url)
        shown = display_url(url)
        try:
            target = make_url(engine_url(url))
            if not create and target.get_backend_name() == "sqlite":
                path = Path(target.database or "")
                if path.is_dir():
                    raise StoreUrlError(
                        f"store {shown} is a directory, not a SQLite file: "
                        "give the URL of a store a crawl wrote to"
                    )
                if not path.is_file():
                    raise StoreNotFoundError(
                        f"store {shown} does not exist (there is no file {path.resolve()}): "
                        "give the URL of a store a crawl wrote to"
                    )
            connect_args: dict[str, Any] = {}
            if target.get_backend_name() == "postgresql":
                # psycopg (~45 ms of imports) only for PostgreSQL stores
                from crawler.storage.postgres import connect_params

                connect_args = connect_params(timeout, target.query)
            elif target.get_backend_name() == "sqlite":
                # Python's sqlite3 timeout: SQLite's busy handler waits this long
                # for a writer's lock; writes then retry (BusyRetry).
                connect_args["timeout"] = min(ATTEMPT_WAIT, timeout) if create else timeout
            engine = create_engine(target, pool_pre_ping=True, connect_args=connect_args)
        except StoreError:
            raise
        except (ArgumentError, ImportError, ValueError) as e:
            raise StoreError(f"cannot open store {shown}: {e}") from e
        if engine.dialect.name not in _UPSERT_DIALECTS:
            raise StoreError(
                f"cannot open store {shown}: unsupported database {engine.dialect.name!r} "
                f"(use {STORE_URL_FORMS})"
            )
        if engine.dialect.name == "sqlite" and create:
            event.listen(engine, "connect", _sqlite_pragmas)
        elif engine.dialect.name == "postgresql":
            from crawler.storage.postgres import binary_arrays, bound_connections

            bound_connections(engine, timeout)
            binary_arrays(engine)
        store = cls(engine, url, timeout)
        try:
            if create:
                store.busy.call(lambda: create_schema(engine))
                found = True
            else:
                found = inspect(engine).has_table(runs.name)
        except SQLAlchemyError as e:
            engine.dispose()
            hint = ""
            if engine.dialect.name == "sqlite" and create and not (is_busy(e) or _schema_race(e)):
                hint = " (check that the directory exists and is writable)"
            raise StoreError(f"cannot open store {shown}: {store._reason(e)}{hint}") from None
        if not found:
            engine.dispose()
            raise StoreNotFoundError(
                f"{shown} is not a crawler store: it has no {runs.name} table "
                "(no crawl has written to it)"
            )
        return store

    def _insert_rows(
        self,
        conn: Connection,
        table: Table,
        rows: Sequence[dict[str, Any]],
        keys: Sequence[str],
        update: Sequence[str] = (),
    ) -> None:
        """INSERT ``rows`` into ``table``; a row whose ``keys`` (a unique index) are
        stored already updates that row's ``update`` columns, or, with none, is
        not inserted (the stored row is kept).

        ``rows``: dicts with the same keys, columns of ``table`` (a row without
        one of the first row's is an ``InvalidRequestError``, a store error).

        On SQLite one statement for them all, ``INSERT INTO t (c1, c2...)
        SELECT value ->> 0, value ->> 1... FROM json_each(:rows) WHERE true``,
        the rows one JSON text (:meth:`_json_rows`; when JSON cannot carry
        them, an ``executemany``).  Python's ``sqlite3`` lets go of the GIL and
        takes it back for every row of an ``executemany``, and the crawl's
        thread holds it most of the time: written from the store's thread that
        way, the batches cost the crawl's process about 0.15 ms of CPU a page
        more (7%; bench/RESULTS.md, "Scale, round 6").

        On PostgreSQL one statement for them all, ``INSERT INTO t (c1, c2...)
        SELECT * FROM unnest(:c1, :c2...)``,
        each parameter a list of one column's values (sent as an array, see
        :func:`crawler.storage.postgres.binary_arrays`; multi-argument
        ``unnest`` expands arrays into rows, PostgreSQL's "Array Functions"):
        psycopg's ``executemany`` runs a statement once per row on the server,
        ~1.5x the server's CPU and ~2.5x ours (bench/RESULTS.md, "Store: CPU per
        1,000 rows").  As in any one statement, no two rows may update the same
        row (PostgreSQL: "ON CONFLICT DO UPDATE command cannot affect row a
        second time"): callers collapse them first.
        """
        names = tuple(rows[0])
        if self._json_each:
            payload = self._json_rows(table, names, rows)
            if payload is not None:
                stmt = self._statement(table, names, keys, update, json_each=True)
                conn.execute(stmt, {"rows": payload})
                return
        stmt = self._statement(table, names, keys, update)
        if self._unnest:
            try:
                arrays = {
                    name: _array(table.c[name].type, [row[name] for row in rows]) for name in names
                }
            except KeyError as e:  # as SQLAlchemy's executemany says it
                raise InvalidRequestError(f"a row has no value for column {e}") from None
            conn.execute(stmt, arrays)
        else:
            conn.execute(stmt, rows)

    def _json_rows(
        self, table: Table, names: tuple[str, ...], rows: Sequence[dict[str, Any]]
    ) -> str | None:
        """``rows`` as one JSON array of arrays (values in ``names`` order, each
        through its column's SQLAlchemy bind processor, as ``executemany`` would
        send it: a datetime as SQLAlchemy's text, a JSON column's value as JSON
        text, a bool as 0 or 1); ``None`` when JSON cannot carry them unchanged
        (a value JSON has no form for, NaN or an infinity, a NUL character,
        which SQLite's JSON functions do not return whole, or text that reads
        like its escape, ``\\u0000``): the caller then uses ``executemany``."""
        key = (table.name, names)
        processors = self._processors.get(key)
        if processors is None:
            dialect = self.engine.dialect
            processors = [
                table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
            ]
            self._processors[key] = processors
        pairs = list(zip(names, processors, strict=True))
        try:
            payload = json.dumps(
                [[row[n] if p is None else p(row[n]) for n, p in pairs] for row in rows],
                ensure_ascii=False,
                allow_nan=False,
            )
        except (KeyError, TypeError, ValueError):  # executemany says what is wrong
            return None
        return None if "\\u0000" in payload else payload

    def _statement(
        self,
        table: Table,
        names: tuple[str, ...],
        keys: Sequence[str],
        update: Sequence[str],
        *,
        json_each: bool = False,
    ) -> Insert:
        """The INSERT of :meth:`_insert_rows`, built once per store and shape."""
        cache_key = (table.name, names, tuple(keys), tuple(update), json_each)
        stmt = self._statements.get(cache_key)
        if stmt is None:
            stmt = self._insert(table)
            if json_each:
                # Each element of the array is a row; ``value ->> N`` its Nth value
                # as an SQL value (SQLite's JSON functions, 3.38+).  "WHERE true":
                # SQLite's parser needs it between INSERT ... SELECT and ON
                # CONFLICT (its "UPSERT" page, "Parsing Ambiguity").
                selected = select(
                    *(literal_column(f"value ->> {i}") for i in range(len(names)))
                ).select_from(func.json_each(bindparam("rows", type_=Text)))
                stmt = stmt.from_select(names, selected.where(true()))
            elif self._unnest:
                arrays = [
                    bindparam(name, type_=ARRAY(_element_type(table.c[name].type)))
                    for name in names
                ]
                batch = func.unnest(*arrays).table_valued(*names).render_derived(name="batch")
                selected = [
                    cast(batch.c[name], table.c[name].type)
                    if isinstance(table.c[name].type, JSON)
                    else batch.c[name]
                    for name in names
                ]
                stmt = stmt.from_select(names, select(*selected))
            if update:
                stmt = stmt.on_conflict_do_update(
                    index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}
                )
            else:
                stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
            self._statements[cache_key] = stmt
        return stmt

    def start_run(self, spider: str, start_url: str | None, settings: dict[str, Any]) -> int:
        def work(conn: Connection) -> int:
            result = conn.execute(
                insert(runs).values(
                    spider=spider,
                    start_url=start_url,
                    settings=settings,
                    started_at=datetime.now(UTC),
                )
            )
            return int(result.inserted_primary_key[0])

        return self._write("start a run in", work)

    def resume_run(self, run_id: int, spider: str, start_url: str | None) -> bool:
        """Mark the run ``run_id`` of ``spider`` from ``start_url`` running again (a
        resumed crawl goes on writing to it); ``False`` when the store has no such run."""

        def work(conn: Connection) -> bool:
            same_start = (
                runs.c.start_url.is_(None) if start_url is None else runs.c.start_url == start_url
            )
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.spider == spider, same_start)
                .values(finished_at=None, finish_reason=None)
            )
            return bool(result.rowcount)

        return self._write("resume a run in", work)

    def write_pages(self, run_id: int, rows: Sequence[dict[str, Any]]) -> None:
        """Upsert page rows in one transaction (one row per URL per run)."""
        self.write_batch(run_id, page_rows=rows)

    def write_items(self, run_id: int, rows: Sequence[dict[str, Any]]) -> None:
        """Upsert items (``spec``, ``key``, ``data``, ``url``): a re-run updates them."""
        self.write_batch(run_id, item_rows=rows)

    def write_rejects(self, run_id: int, rows: Sequence[dict[str, Any]]) -> None:
        """Items that failed validation (``spec``, ``url``, ``reason``, ``data``)."""
        self.write_batch(run_id, reject_rows=rows)

    def write_batch(
        self,
        run_id: int,
        page_rows: Sequence[dict[str, Any]] = (),
        item_rows: Sequence[dict[str, Any]] = (),
        reject_rows: Sequence[dict[str, Any]] = (),
        link_rows: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Pages, items, rejects and links of a run in one transaction: all are written or none.

        Pages are upserted on (run, URL): a page row written again replaces the
        stored one.  Items are upserted on (spec, key): a later run updates
        ``data``, ``url``, ``run_id`` and ``updated_at`` and keeps
        ``first_run_id``.  Page rows with the same URL, and item rows with the
        same spec and key, in one batch are collapsed first (the last wins, as
        if written one after the other): PostgreSQL gets each table's rows in
        one statement (:meth:`_insert_rows`) and refuses to update one row twice in a
        statement.  A reject already stored for the run (same spec, URL,
        reason and data) is not stored again.  A link
        (``source``, ``url``, ``found_via``, ``text``) already stored for the
        run is left as it is (the first one written wins, within a batch too).
        """
        parts = {"pages": page_rows, "items": item_rows, "rejects": reject_rows, "links": link_rows}
        what = " and ".join(name for name, rows in parts.items() if rows)
        if not what:
            return
        now = datetime.now(UTC)

        def work(conn: Connection) -> None:
            if page_rows:
                by_url = {row["url"]: row for row in page_rows}  # the last wins, as row by row
                values = [{**row, "run_id": run_id} for row in by_url.values()]
                columns = [c for c in page_rows[0] if c != "url"]
                self._insert_rows(conn, pages, values, ("run_id", "url"), columns)
            if item_rows:
                unique = {(r["spec"], r["key"]): r for r in item_rows}
                values = [
                    {**row, "run_id": run_id, "first_run_id": run_id, "updated_at": now}
                    for row in unique.values()
                ]
                columns = ["data", "url", "run_id", "updated_at"]
                self._insert_rows(conn, items, values, ("spec", "key"), columns)
            if reject_rows:
                values = [
                    {**row, "run_id": run_id, "created_at": now, "digest": _reject_digest(row)}
                    for row in reject_rows
                ]
                self._insert_rows(conn, rejects, values, ("run_id", "digest"))
            if link_rows:
                unique: dict[tuple[str, str, str], dict[str, Any]] = {}
                for row in link_rows:  # the first of a batch, as the first of a run
                    unique.setdefault((row["source"], row["url"], row["found_via"]), row)
                values = [{**row, "run_id": run_id} for row in unique.values()]
                self._insert_rows(conn, links, values, ("run_id", "source", "url", "found_via"))

        self._write(f"write {what} to", work)

    def finish_run(self, run_id: int, reason: str, stats: dict[str, Any]) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(
                    finished_at=datetime.now(UTC),
                    finish_reason=reason,
                    stats=stats,
                )
            )

        self._write("finish the run in", work)

    def reopen_run(self, run_id: int, reason: str) -> bool:
        """Open again run ``run_id`` if it finished as ``reason`` (its finish time and
        reason cleared, its stats kept until it finishes again): a shared crawl
        resumed after its Redis did not answer.  Whether it was reopened (``False``:
        no such run finished as ``reason``).  Raises :class:`StoreError`."""

        def work(conn: Connection) -> bool:
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.finish_reason == reason)
                .values(finished_at=None, finish_reason=None)
            )
            return result.rowcount == 1

        return self._write("reopen the run in", work)

    def _write(self, what: str, work: Callable[[Connection], _T]) -> _T:
        """``work`` in one transaction, run again while SQLite reports another
        writer's lock (:attr:`busy`); its failures become StoreErrors naming the store.

        Only the driver's own message is kept: SQLAlchemy's adds the statement's
        parameters, which may hold scraped data or secrets.
        """

        def transaction() -> _T:
            with self.engine.begin() as conn:
                return work(conn)

        try:
            return self.busy.call(transaction)
        except SQLAlchemyError as e:
            shown = display_url(self.url)
            raise StoreError(f"cannot {what} store {shown}: {self._reason(e)}") from None

    def _reason(self, error: SQLAlchemyError) -> str:
        """The driver's message on one line; for a lock held past the bound, how long."""
        orig = getattr(error, "orig", None)
        reason = _one_line(orig or type(error).__name__)
        if self.engine.dialect.name == "postgresql":
            from crawler.storage.postgres import timeout_hint

            reason += timeout_hint(orig, self.timeout)
        if is_busy(error) and self.busy.gave_up_after is not None:
            reason += (
                f" (another process held its write lock; waited {self.busy.gave_up_after:.1f} s, "
                f"CRAWLER_STORE_TIMEOUT is {self.timeout:g} s)"
            )
        return reason

    # Queries, for the CLI and tests.

    def run(self, run_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
            return dict(row) if row else None

    def runs(self, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        """The latest runs, newest first (skipping the ``offset`` newest), with their
        page, item, reject and unchanged page (incremental re-crawls) counts."""

        def count(table: Any) -> Any:
            return (
                select(func.count())
                .select_from(table)
                .where(table.c.run_id == runs.c.id)
                .scalar_subquery()
            )

        query = (
            select(
                runs,
                count(pages).label("pages"),
                count(items).label("items"),
                count(rejects).label("rejects"),
                select(func.count())
                .select_from(pages)
                .where(pages.c.run_id == runs.c.id, pages.c.unchanged.is_(True))
                .scalar_subquery()
                .label("unchanged"),
            )
            .order_by(runs.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def previous_run(self, spider: str, start_url: str | None, before: int | None) -> int | None:
        """The id of the latest run of ``spider`` from ``start_url`` other than
        ``before`` (and older than it, when given) that finished cleanly (see
        :func:`finished_cleanly`: a failed, interrupted or store-error run is
        skipped); ``None`` when there is none.  Start URLs are compared canonical
        (:func:`w3lib.url.canonicalize_url`: ``http://h:8080`` is ``http://h:8080/``).
        What an incremental re-crawl compares with (:mod:`crawler.incremental`)."""
        query = (
            select(runs.c.id, runs.c.start_url, runs.c.finish_reason, runs.c.stats)
            .where(runs.c.spider == spider, runs.c.finished_at.is_not(None))
            .order_by(runs.c.id.desc())
        )
        if before is not None:
            query = query.where(runs.c.id < before)
        wanted = _canonical(start_url)
        with self.engine.connect() as conn:
            for run_id, run_start, reason, stats in conn.execute(query):
                if _canonical(run_start) == wanted and finished_cleanly(reason, stats):
                    return int(run_id)
        return None

    def items_since(self, run_id: int) -> list[dict[str, Any]]:
        """The item rows (``spec``, ``key``, ``url``, ``data``) last written by run
        ``run_id`` or a later one: what an incremental re-crawl carries over for the
        unchanged pages of that run (:mod:`crawler.incremental`)."""
        query = select(items.c.spec, items.c.key, items.c.url, items.c.data).where(
            items.c.run_id >= run_id, items.c.url.is_not(None)
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def validated_pages(self, run_id: int) -> list[dict[str, Any]]:
        """The pages of run ``run_id`` that answered 200 with a validator or a digest
        (``url``, ``final_url``, ``status``, ``content_type``, ``title``, ``etag``,
        ``last_modified``, ``digest``), those an incremental re-crawl can ask about."""
        query = select(
            pages.c.url,
            pages.c.final_url,
            pages.c.status,
            pages.c.content_type,
            pages.c.title,
            pages.c.etag,
            pages.c.last_modified,
            pages.c.digest,
        ).where(
            pages.c.run_id == run_id,
            pages.c.status == 200,
            pages.c.error.is_(None),
            (pages.c.etag.is_not(None))
            | (pages.c.last_modified.is_not(None))
            | (pages.c.digest.is_not(None)),
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def link_rows(self, run_id: int) -> list[tuple[str, str, str, str | None]]:
        """``(source, url, found_via, text)`` of every link of run ``run_id``."""
        query = select(links.c.source, links.c.url, links.c.found_via, links.c.text).where(
            links.c.run_id == run_id
        )
        with self.engine.connect() as conn:
            return [(s, u, f, t) for s, u, f, t in conn.execute(query)]

    def pages(self, run_id: int) -> list[dict[str, Any]]:
        """The page rows of a run, by URL: every column of ``pages``; one a store
        written by an older version lacks (``latency``...) is ``None``."""
        present = self.columns(pages.name)
        columns = [c for c in pages.columns if c.name in present]
        query = select(*columns).where(pages.c.run_id == run_id).order_by(pages.c.url)
        with self.engine.connect() as conn:
            return [
                {c.name: r.get(c.name) for c in pages.columns}
                for r in conn.execute(query).mappings()
            ]

    def columns(self, table: str) -> set[str]:
        """The names of the columns ``table`` has in this database: a store opened
        for reading (``create=False``) is not given the columns newer versions add."""
        with self.engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns(table)}

    def items(self, spec: str | None = None, run_id: int | None = None) -> list[dict[str, Any]]:
        query = select(items).order_by(items.c.spec, items.c.key)
        if spec is not None:
            query = query.where(items.c.spec == spec)
        if run_id is not None:
            query = query.where(items.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def rejects(self, run_id: int) -> list[dict[str, Any]]:
        query = select(rejects).where(rejects.c.run_id == run_id).order_by(rejects.c.id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def links(self, run_id: int, url: str | None = None) -> list[dict[str, Any]]:
        """The links of a run (``source``, ``url``, ``found_via``, ``text``,
        ``refused``: why it was not requested, and ``fetched``: whether the run
        has a page row for ``url``), by URL then source; only those leading to
        ``url`` when given: where it came from."""
        fetched = (
            select(pages.c.url)
            .where(pages.c.run_id == links.c.run_id, pages.c.url == links.c.url)
            .exists()
        )
        query = (
            select(links.c.source, links.c.url, links.c.found_via, links.c.text, links.c.refused)
            .add_columns(fetched.label("fetched"))
            .where(links.c.run_id == run_id)
            .order_by(links.c.url, links.c.source, links.c.found_via)
        )
        if url is not None:
            query = query.where(links.c.url == url)
        with self.engine.connect() as conn:
            return [{**r, "fetched": bool(r["fetched"])} for r in conn.execute(query).mappings()]

    def spec_counts(self, run_id: int) -> list[tuple[str, int, int]]:
        """``(spec, items, rejects)`` of a run: the items it last wrote, its rejects."""
        counts: dict[str, list[int]] = {}
        with self.engine.connect() as conn:
            for index, table in enumerate((items, rejects)):
                query = (
                    select(table.c.spec, func.count())
                    .where(table.c.run_id == run_id)
                    .group_by(table.c.spec)
                )
                for spec, n in conn.execute(query):
                    counts.setdefault(spec, [0, 0])[index] = n
        return [(spec, n_items, n_rejects) for spec, (n_items, n_rejects) in sorted(counts.items())]

    def page_counts(self, run_id: int, column: str) -> list[tuple[Any, int]]:
        """Pages of a run grouped by one column (``status``, ``found_via``...)."""
        col = pages.c[column]
        query = (
            select(col, func.count())
            .where(pages.c.run_id == run_id)
            .group_by(col)
            .order_by(func.count().desc(), col)
        )
        with self.engine.connect() as conn:
            return [(value, n) for value, n in conn.execute(query)]

    def close(self) -> None:
        self.engine.dispose()


def _canonical(url: str | None) -> str | None:
    return None if url is None else canonicalize_url(url)


def finished_cleanly(reason: str | None, stats: dict[str, Any] | None) -> bool:
    """Whether a run finished cleanly: its verdict (``outcome/status``, see
    :mod:`crawler.outcome`) is ``succeeded`` or, in rows written before verdicts
    were recorded, its finish reason is one of :data:`crawler.outcome.CLEAN_REASONS`.
    A run whose rows did not all reach the store (``store_error``) never is."""
    if reason == "store_error":
        return False
    status = (stats or {}).get(STATUS_STAT)
    if status is not None:
        return bool(status == SUCCEEDED)
    return reason in CLEAN_REASONS


#: How many times the schema is created again after another process created
#: part of it first (see :func:`create_schema`).
SCHEMA_RACE_RETRIES = 5


def _schema_race(error: BaseException) -> bool:
    """Whether ``error`` says another process created a table, index or column
    between our check and our ``CREATE``: SQLite's ``table pages already exists``
    / ``duplicate column name``, PostgreSQL's ``relation ... already exists`` /
    ``column ... already exists`` or, for two ``CREATE TABLE`` at once, the
    unique violation on its catalog (``pg_type_typname_nsp_index``)."""
    text = str(getattr(error, "orig", None) or error)
    return (
        "already exists" in text
        or "duplicate column name" in text
        or "pg_type_typname_nsp_index" in text
    )


def create_schema(engine: Engine, meta: MetaData = metadata) -> None:
    """Create the missing tables, columns and indexes, safe when several
    processes open a new store at once (jobs sharing a store that start
    together): SQLAlchemy checks for each table, then creates it, outside one
    transaction (SQLite runs DDL in autocommit), so another process can create
    it in between and our ``CREATE`` fails with "already exists".  Then the
    creation is run again: every check now sees what the other created.
    Retried :data:`SCHEMA_RACE_RETRIES` times; other errors are raised.
    ``meta``: the store's tables, or another set's (the jobs' state store)."""
    for attempt in range(SCHEMA_RACE_RETRIES + 1):
        try:
            _create_schema_once(engine, meta)
            return
        except SQLAlchemyError as e:
            if attempt == SCHEMA_RACE_RETRIES or not _schema_race(e):
                raise


def _create_schema_once(engine: Engine, meta: MetaData) -> None:
    meta.create_all(engine)
    _add_new_columns(engine, meta)
    for table in meta.sorted_tables:  # indexes of columns added to older stores
        for index in table.indexes:
            index.create(engine, checkfirst=True)


def _reject_digest(row: dict[str, Any]) -> str:
    """What makes a reject the same reject: spec, URL, reason and data."""
    key = json.dumps(
        [row.get("spec"), row.get("url"), row.get("reason"), row.get("data")],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(key.encode()).hexdigest()


def _add_new_columns(engine: Engine, meta: MetaData) -> None:
    """Add the nullable columns a store written by an older version lacks
    (e.g. ``pages.notes``): ``create_all`` creates missing tables only."""
    inspector = inspect(engine)
    for table in meta.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable or column.primary_key:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            with engine.begin() as conn:
                conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
