"""A throwaway PostgreSQL server for tests: initdb in a temp dir, loopback port."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.ports import HeldPort, free_port


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=env)
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run `make test` (it installs it)")
    return Path(found[-1]).parent


class PostgresServer:
    """``initdb`` + ``pg_ctl start`` as the ``postgres`` user when run as root."""

    def __init__(self, database: str = "crawler") -> None:
        self.bin = _bin_dir()
        # Its own directory under /tmp: the postgres user cannot enter root's 0700 temp dirs.
        self.base_dir = Path(tempfile.mkdtemp(prefix="crawler-pg-"))
        self.dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.database = database
        # pg_ctl -w waits for this server's own postmaster.pid to say "ready": if
        # another socket took the port first, the start fails (no foreign server).
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        self._held: HeldPort | None = None  # the port, while killed

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed: {done.stderr.strip()}")

    def start(self) -> PostgresServer:
        for d in (self.base_dir, self.dir, self.socket_dir):
            d.mkdir(parents=True, exist_ok=True)
            if self._as_postgres:
                shutil.chown(d, "postgres", "postgres")
        if not (self.dir / "PG_VERSION").exists():
            self._run(
                "initdb",
                "-D",
                str(self.dir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            )
        self._pg_ctl_start()
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                conn.execute(f'create database "{self.database}"')
        return self

    def _pg_ctl_start(self) -> None:
        self._release()
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.dir),
            "-o",
            options,
            "-w",
            "-l",
            str(self.dir / "server.log"),
            "start",
        )

    @property
    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def reset(self) -> None:
        """Drop every table of the test database."""
        with psycopg.connect(
            self.admin_dsn.replace("dbname=postgres", f"dbname={self.database}"), autocommit=True
        ) as conn:
            conn.execute("drop schema public cascade; create schema public")

    def other_database(self, name: str) -> str:
        """The URL of another database ``name`` of this server, created if missing,
        emptied (no tables)."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            if not conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
                conn.execute(f'create database "{name}"')
        with psycopg.connect(
            self.admin_dsn.replace("dbname=postgres", f"dbname={name}"), autocommit=True
        ) as conn:
            conn.execute("drop schema public cascade; create schema public")
        return self.url.rpartition("/")[0] + f"/{name}"

    def password_user(self, user: str, password: str) -> str:
        """The URL of the test database as ``user`` (a superuser), without its
        password: over TCP the server wants ``password`` from it (a
        ``scram-sha-256`` line of pg_hba.conf before initdb's ``trust`` ones,
        for that user alone; reloaded), so libpq says ``fe_sendauth: no password
        supplied`` without one."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            if not conn.execute("select 1 from pg_roles where rolname = %s", (user,)).fetchone():
                conn.execute(f'create role "{user}" login superuser')
            conn.execute(f"alter role \"{user}\" password '{password}'")
        hba = self.dir / "pg_hba.conf"
        line = f"host all {user} 127.0.0.1/32 scram-sha-256\n"
        text = hba.read_text()
        if line not in text:
            hba.write_text(line + text)  # written in place: its owner stays
            with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
                conn.execute("select pg_reload_conf()")
        dsn = f"host=127.0.0.1 port={self.port} user={user} dbname={self.database}"
        deadline = time.monotonic() + 10
        while True:  # the reload is asynchronous (SIGHUP to the postmaster)
            try:
                psycopg.connect(dsn, connect_timeout=5).close()
            except psycopg.OperationalError:
                break
            assert time.monotonic() < deadline, "pg_hba.conf was not reloaded"
            time.sleep(0.05)
        return f"postgresql://{user}@127.0.0.1:{self.port}/{self.database}"

    def kill(self) -> None:
        """Stop at once, as a crash would (``-m immediate``).  Its port stays held
        (connections are refused, no other test's server takes it) until
        :meth:`restart` or :meth:`stop`."""
        self._run("pg_ctl", "-D", str(self.dir), "-m", "immediate", "-w", "stop")
        self._held = HeldPort(self.port, reuse=True)

    def restart(self) -> None:
        self._pg_ctl_start()

    def _release(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None

    def _processes(self) -> list[int]:
        """The postmaster's pid, then its children's (read from ``/proc``).  Each
        backend calls ``setsid()``, so no one process group holds them all."""
        postmaster = int((self.dir / "postmaster.pid").read_text().split()[0])
        children = []
        # os.listdir, not Path.glob: glob stats each entry, and one whose process
        # just ended raises ProcessLookupError there
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                fields = Path("/proc", name, "stat").read_text().rpartition(")")[2].split()
            except OSError:  # the process ended
                continue
            if int(fields[1]) == postmaster:  # ppid, after the state
                children.append(int(name))
        return [postmaster, *children]

    def freeze(self) -> None:
        """Stop every server process (SIGSTOP), the postmaster first so it forks
        nothing more: connections stay open and nothing answers, as with a hung
        server.  :meth:`thaw` resumes them."""
        for pid in self._processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped: a test killed it
            self._run("pg_ctl", "-D", str(self.dir), "-m", "fast", "-w", "stop")
        self._release()
        shutil.rmtree(self.base_dir, ignore_errors=True)
