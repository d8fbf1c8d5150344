"""Another process holding a SQLite database's write lock, as a second writer would."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# BEGIN IMMEDIATE takes the write lock at once; it is held until COMMIT, which
# comes after SECONDS, or when standard input closes ("-").
_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
if sys.argv[2] == "-":
    sys.stdin.read()
else:
    time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("released", flush=True)
"""


@contextlib.contextmanager
def write_lock(db: Path, seconds: float | None = None) -> Iterator[subprocess.Popen[str]]:
    """A process holding ``db``'s write lock from when this enters: for
    ``seconds`` (the block may end before), or, with ``None``, until the block
    ends.  The process is gone when the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(db), "-" if seconds is None else str(seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        assert line == "locked\n", f"the lock holder failed: {line!r}"
        yield holder
    finally:
        if holder.stdin is not None:
            holder.stdin.close()
        try:
            holder.wait(timeout=60 if seconds is not None else 10)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
