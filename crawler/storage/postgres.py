"""PostgreSQL connections that cannot hang a crawl: every wait for the server is bounded.

A store operation gets ``timeout`` seconds (``CRAWLER_STORE_TIMEOUT``), in
three layers, each for a failure the others cannot see:

* **connecting**: libpq's ``connect_timeout`` (whole seconds, at least 2:
  libpq and psycopg round smaller values up to 2);
* **a statement a live server runs too long** (waiting for another session's
  lock, say): the server's own ``statement_timeout``, set per connection with
  ``options=-c statement_timeout=MS``; the server cancels it and the connection
  stays usable;
* **a server that stops answering** (a stopped or frozen process, a dead host):
  no server-side timeout can fire, and TCP keepalives do not help against a
  stopped process, whose kernel still acknowledges every packet.  So the
  client bounds each exchange itself: :class:`BoundedConnection` gives every
  wait for the server ``timeout`` + :data:`CLIENT_GRACE` seconds (the grace
  lets a live server's own error arrive first), then closes the connection and
  raises :class:`ServerTimeout`.  Keepalives and ``tcp_user_timeout`` are set
  too: they close a connection to a host that vanished while idle.

A parameter the store URL already gives (``?connect_timeout=5``,
``?options=...``) is kept: ``statement_timeout`` is added to the URL's
``options`` rather than replacing them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import errors
from psycopg.types.array import ListBinaryDumper
from sqlalchemy import event

if TYPE_CHECKING:
    from collections.abc import Mapping

    from psycopg.abc import RV, PQGen
    from sqlalchemy.engine import Engine

CLIENT_GRACE = 1.0  # seconds the client waits beyond the server's statement_timeout
MIN_CONNECT_TIMEOUT = 2  # seconds: libpq's (and psycopg's) floor for connect_timeout


class ServerTimeout(psycopg.OperationalError):
    """The server did not answer within the bound; the connection was closed.

    An ``OperationalError`` on a closed connection: SQLAlchemy takes it for a
    disconnect and never hands the connection out again."""


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server takes at most
    :attr:`wait_timeout` seconds (a query, a commit, a rollback, SQLAlchemy's
    pre-ping), then :class:`ServerTimeout`.  Connecting is bounded by
    ``connect_timeout`` instead (psycopg's own)."""

    wait_timeout: float | None = None  # seconds; None: psycopg's default (no bound)

    def wait(
        self, gen: PQGen[RV], interval: float | None = None, timeout: float | None = None
    ) -> RV:
        bound = timeout if timeout is not None else self.wait_timeout
        kwargs: dict[str, Any] = {"timeout": bound}
        if interval is not None:
            kwargs["interval"] = interval
        try:
            return super().wait(gen, **kwargs)
        except errors._WaitTimeout:  # psycopg's, named by Connection.wait's docstring
            # Mid-exchange: the protocol state is unknown, the connection unusable.
            self.pgconn.finish()
            raise ServerTimeout(
                f"the server did not answer within {bound:g} s (CRAWLER_STORE_TIMEOUT)"
            ) from None


def connect_params(timeout: float, given: Mapping[str, Any]) -> dict[str, Any]:
    """libpq parameters bounding connect, statements and dead peers by ``timeout``
    seconds; ``given`` (the URL's query) wins where it names a parameter."""
    whole = max(MIN_CONNECT_TIMEOUT, math.ceil(timeout))
    params: dict[str, Any] = {
        "connect_timeout": whole,
        "keepalives": 1,
        "keepalives_idle": max(1, math.ceil(timeout / 2)),
        "keepalives_interval": max(1, math.ceil(timeout / 6)),
        "keepalives_count": 3,
        "tcp_user_timeout": math.ceil(timeout * 1000),  # milliseconds
    }
    params = {name: value for name, value in params.items() if name not in given}
    statement = f"-c statement_timeout={math.ceil(timeout * 1000)}"
    options = str(given.get("options") or "").strip()
    if "statement_timeout" not in options:
        params["options"] = f"{options} {statement}".strip()
    return params


def timeout_hint(error: BaseException, timeout: float) -> str:
    """What to add to a driver's message when ``error`` is a connect timeout
    (psycopg says only "connection timeout expired"); else ``""``."""
    if isinstance(error, errors.ConnectionTimeout):
        whole = max(MIN_CONNECT_TIMEOUT, math.ceil(timeout))
        return f" (no answer within {whole} s, CRAWLER_STORE_TIMEOUT)"
    return ""


def bound_connections(engine: Engine, timeout: float) -> None:
    """Make every connection ``engine`` opens a :class:`BoundedConnection` waiting
    at most ``timeout`` + :data:`CLIENT_GRACE` seconds for the server."""

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.wait_timeout = timeout + CLIENT_GRACE
        return connection


def binary_arrays(engine: Engine) -> None:
    """Make every connection ``engine`` opens send a list parameter (an array) in
    PostgreSQL's binary format: a ``%s`` parameter takes the dumper registered
    last for its type (psycopg's "Data adaptation configuration").  In the text
    format psycopg quotes and escapes each element with a regular expression,
    ~1.5 us a string against ~0.2 us (bench/RESULTS.md, "Store: CPU per 1,000
    rows"); the store sends its batches as arrays (``SqlStore._insert_rows``)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)
