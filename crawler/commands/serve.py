"""``crawler serve``: a local, read-only web dashboard of a store's runs and a job file's jobs.

The application is :func:`crawler.dashboard.app.create_app` (Flask), served by
waitress (a production WSGI server, pure Python).  Both are imported when the
command runs, not when ``crawler`` starts.

Bound to ``127.0.0.1`` by default.  On any other address every request needs a
token (:mod:`crawler.dashboard.security`): the value of the environment variable
``--token-env`` names (default ``CRAWLER_SERVE_TOKEN``), else a fresh
``secrets.token_urlsafe(32)``, printed once on standard output inside the URL
to open, as Jupyter does, and never logged.  On loopback a token is needed
only when that variable is set (on a machine shared with other users, who
can reach 127.0.0.1 too).  A token shorter than
:data:`~crawler.dashboard.security.MIN_TOKEN_LENGTH` characters is refused.

``--host`` takes an address (an IPv6 one with or without ``[]``) or a name;
one that does not resolve, or is not an address of this machine, is one error
line and exit code 2, as is a port in use.

SIGTERM or Ctrl-C stop it: waitress closes its sockets and its worker threads
end, then the stores are closed; exit code 0.
"""

from __future__ import annotations

import argparse
import errno
import os
import secrets
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from crawler.commands.options import add_store_option, store_url
from crawler.exceptions import ConfigError
from crawler.jobs.config import DEFAULT_JOBS_FILE
from crawler.runner import project_settings

if TYPE_CHECKING:
    from types import FrameType

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8400
DEFAULT_TOKEN_ENV = "CRAWLER_SERVE_TOKEN"
#: waitress's worker threads: requests answered at once (SQLite reads are quick;
#: report renders take at most :data:`crawler.dashboard.reports.MAX_WAITING` of them).
THREADS = 8
#: ``--host`` values meaning every interface (waitress: ``*``), shown as the machine's name.
WILDCARDS = ("0.0.0.0", "::", "*")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"takes a port number from 0 to 65535, not {text!r}")
    return value


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve",
        help="a local read-only web dashboard: runs, reports, logs, pages, items, jobs",
        description="Serve a read-only dashboard of the store's runs (report, log tail, "
        "searchable pages and items) and the job file's jobs and history. Bound to "
        "127.0.0.1 by default; on any other address every request needs a token "
        "(README, 'Dashboard').",
    )
    add_store_option(p)
    p.add_argument(
        "--jobs-file",
        metavar="PATH",
        default=None,
        help=f"the job file whose jobs and history to show (default: {DEFAULT_JOBS_FILE} "
        "when it exists)",
    )
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"the address to listen on (default {DEFAULT_HOST}; any other needs a token)",
    )
    p.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"the port (default {DEFAULT_PORT}; 0: a free one)",
    )
    p.add_argument(
        "--token-env",
        metavar="VAR",
        default=DEFAULT_TOKEN_ENV,
        help="the environment variable holding the token every request must carry "
        f"(default {DEFAULT_TOKEN_ENV}); unset: none on loopback, elsewhere a random "
        "one, printed once",
    )
    p.set_defaults(run=run)


def _interrupt(_signum: int, _frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt  # waitress's loop ends on it and shuts its threads down


def _host(text: str) -> str:
    """``--host`` without the ``[]`` of an IPv6 address; a :class:`ConfigError` for
    an empty one (waitress would fail on it with a traceback)."""
    host = text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ConfigError(
            f"--host takes an address or a host name, not {text!r} "
            "(127.0.0.1: this machine only; 0.0.0.0: every IPv4 interface)"
        )
    return host


def _shown_host(host: str) -> str:
    """The host part of a URL for ``host`` (:func:`_host`'s): the machine's name
    for a wildcard address, ``[]`` around an IPv6 address."""
    if host in WILDCARDS:
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def _listen_error(host: str, port: int, error: Exception) -> ConfigError:
    """What to tell when waitress cannot listen on ``host``:``port``: a name that
    does not resolve (waitress raises ``ValueError``), an address not of this
    machine (``EADDRNOTAVAIL``), a port in use or reserved."""
    where = f"{_shown_host(host)}:{port}"
    if isinstance(error, ValueError):  # waitress: "Invalid host/port specified."
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
            reason = str(error)
        except (OSError, UnicodeError) as e:
            reason = getattr(e, "strerror", None) or str(e)
        return ConfigError(
            f"cannot listen on {where}: {reason} (give --host an address of this "
            "machine or a name that resolves to one)"
        )
    assert isinstance(error, OSError)
    hints = {
        errno.EADDRINUSE: "another program uses the port? give another with --port",
        errno.EADDRNOTAVAIL: "not an address of this machine: give --host one of its "
        "addresses, 127.0.0.1 for this machine only or 0.0.0.0 for every IPv4 interface",
        errno.EACCES: "ports below 1024 need privileges: give another with --port",
    }
    hint = hints.get(error.errno or 0, "give another --host or --port")
    return ConfigError(f"cannot listen on {where}: {error.strerror or error} ({hint})")


def _port_of(server: Any) -> int:
    """The port waitress listens on: one server's, or the first of several (a host
    name that resolves to several addresses)."""
    if hasattr(server, "effective_port"):
        return int(server.effective_port)
    return int(server.effective_listen[0][1])


def run(args: argparse.Namespace) -> int:
    from waitress import create_server

    from crawler.dashboard.app import DashboardConfig, create_app
    from crawler.dashboard.security import MIN_TOKEN_LENGTH, TOKEN_PARAMETER, is_loopback

    settings = project_settings()
    host = _host(args.host)
    jobs_file = args.jobs_file
    if jobs_file is None and Path(DEFAULT_JOBS_FILE).is_file():
        jobs_file = DEFAULT_JOBS_FILE
    loopback = is_loopback(host)
    # On loopback too when the variable is set: other users of the machine reach 127.0.0.1.
    token = os.environ.get(args.token_env) or None
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"the token in ${args.token_env} has {len(token)} characters: give at least "
            f"{MIN_TOKEN_LENGTH} (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    generated = False
    if token is None and not loopback:
        token, generated = secrets.token_urlsafe(32), True
    config = DashboardConfig(
        store_url=store_url(args, settings),
        jobs_file=jobs_file,
        token=token,
        loopback=loopback,
        host=host,
        store_timeout=settings.getfloat("CRAWLER_STORE_TIMEOUT"),
        default_store=str(settings.get("CRAWLER_STORE_URL")),
    )
    app = create_app(config)
    board = app.extensions["crawler_dashboard"]
    try:
        try:
            server = create_server(app, host=host, port=args.port, threads=THREADS, ident="crawler")
        except (OSError, ValueError) as e:
            raise _listen_error(host, args.port, e) from None
        base = f"http://{_shown_host(host)}:{_port_of(server)}/"
        if generated:
            print(f"Dashboard: {base}?{TOKEN_PARAMETER}={token}", flush=True)
        elif token is not None:
            print(f"Dashboard: {base} (token: ${args.token_env})", flush=True)
        else:
            print(f"Dashboard: {base}", flush=True)
        print(f"Store: {board.store_shown}; stop with Ctrl-C", file=sys.stderr, flush=True)
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.run()
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.close()
    finally:
        board.close()
    print("dashboard stopped", file=sys.stderr)
    return 0
