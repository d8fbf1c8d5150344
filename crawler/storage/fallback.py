"""The fallback file: rows a failed store did not take, one JSON-lines file per run.

The file is ``unwritten-SPIDER-STORE[-runN]-TIME.jsonl`` in
``CRAWLER_STORE_FALLBACK_DIR`` (the working directory when unset; created when
missing):

* ``STORE``: the store's SQLite file name or PostgreSQL database name;
* ``runN``: the run's id in that store (left out when the store failed before
  giving one);
* ``TIME``: when the crawl opened the store, UTC, ``YYYYMMDDTHHMMSSZ``.

It is created exclusively, so two crawls never write one file: should the
name be taken (the same store and run id in the same second), ``-2``, ``-3``...
is added.  Each line is one row as the store would have had it, plus
``"table"`` (``pages``, ``items``, ``rejects`` or ``links``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

PREFIX = "unwritten-"
MAX_NAME_PART = 60  # characters of a spider or store name kept in the file name
MAX_SUFFIX = 1000  # -2 ... -999: then the directory is taken to be unusable

_UNSAFE = re.compile(r"[^A-Za-z0-9._]+")


def _part(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_.")[:MAX_NAME_PART] or "store"


def store_name(url: str) -> str:
    """The name of the store at ``url`` for a file name: the SQLite file's name
    (``crawl.db``) or the PostgreSQL database's (``crawler``)."""
    try:
        database = make_url(url).database or ""
    except Exception:  # a malformed URL never opened a store; any name will do
        database = ""
    return _part(Path(database).name)


class FallbackFile:
    """Appends rows to the run's fallback file, created at the first :meth:`write`."""

    def __init__(
        self,
        directory: Path,
        spider: str,
        store_url: str,
        run_id: int | None,
        opened: datetime,
    ) -> None:
        run = f"-run{run_id}" if run_id is not None else ""
        stamp = opened.strftime("%Y%m%dT%H%M%SZ")
        self.stem = f"{PREFIX}{_part(spider)}-{store_name(store_url)}{run}-{stamp}"
        self.directory = directory
        self.path: Path | None = None  # set once the file exists

    @property
    def intended(self) -> Path:
        """Where the file is (or, while it could not be created, would be)."""
        return self.path or self.directory / f"{self.stem}.jsonl"

    def write(self, batch: Mapping[str, Sequence[Mapping[str, Any]]]) -> int:
        """Append every row of ``batch`` (table -> rows); the number written.
        An ``OSError`` if the file cannot be created or written."""
        lines = [
            json.dumps({"table": table, **row}, ensure_ascii=False, default=str) + "\n"
            for table, rows in batch.items()
            for row in rows
        ]
        if self.path is None:
            self.path = self._create()
        with self.path.open("a", encoding="utf-8") as f:
            f.writelines(lines)
        return len(lines)

    def _create(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        for n in range(1, MAX_SUFFIX):
            path = self.directory / f"{self.stem}{f'-{n}' if n > 1 else ''}.jsonl"
            try:
                path.open("x", encoding="utf-8").close()
            except FileExistsError:
                continue
            return path
        raise FileExistsError(f"{self.intended} and {MAX_SUFFIX - 2} numbered ones exist")
