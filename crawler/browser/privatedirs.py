"""A local browser's private dirs, removed even when the crawl that made them was SIGKILLed.

Each local browser gets a session dir (HOME, TMPDIR, profile, wrappers) in
``SELENIUM_TEMP_DIR`` (default: the system temp dir) and, where that TMPDIR's
path would be too long for Chromium's singleton socket, a short TMPDIR in the
system temp dir.  :meth:`crawler.browser.driver.DriverHandle.close` removes
them; a crawl killed with SIGKILL cannot (measured: each SIGKILLed crawl of
``tests/browser/test_browser_confine.py`` left one ``/tmp`` dir per browser).

So the crawl holds a shared ``flock(2)`` on each dir until its removal, and
the kernel drops the lock when the process dies, however it dies
(``flock(2)``: the lock belongs to the open file description, closed at exit).
A dir is made under a staging name (:data:`STAGING_PREFIX`), locked, then
renamed: a dir named :data:`PREFIX` has been locked from the start.  Every
start of a local browser sweeps the dirs it uses (:func:`sweep`): a dir named
:data:`PREFIX` whose lock nobody holds belongs to a crawl that is gone, and is
removed.  Dirs of other users (not readable) and of crawls still running
(locked) are left alone.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

#: Names of the dirs: one prefix, so one sweep rule covers both kinds.  Dirs
#: named ``crawler-browser-*`` / ``crawler-tmp-*`` were made by versions that
#: held no lock: they are never swept (one may belong to such a crawl still
#: running); remove them by hand when no crawl runs.
PREFIX = "crawler-session-"
#: Prefix of the short TMPDIR made in the system temp dir.
SHORT_TMP_PREFIX = PREFIX + "tmp-"
#: Name of a dir between ``mkdir`` and ``flock`` (renamed at once): never swept.
STAGING_PREFIX = "crawler-staging-"

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class PrivateDir:
    """A dir made by :func:`make`, locked (``fd``) until :meth:`remove`."""

    path: str
    fd: int | None

    def remove(self) -> None:
        """Remove the dir, then drop the lock.  Never raises."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


def make(parent: str | None, prefix: str = PREFIX) -> PrivateDir:
    """A new dir in ``parent`` (None: the system temp dir) named ``prefix`` and
    8 random characters, mode 0700, locked by this process until
    :meth:`PrivateDir.remove` or its death.

    Raises :class:`OSError` when it cannot be made (nothing is left then).
    """
    staged = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent)
    fd: int | None = None
    try:
        fd = os.open(staged, _OPEN_DIR)
        fcntl.flock(fd, fcntl.LOCK_SH)
        # mkdtemp's random part is unique among staging names; the final name
        # exists only if such a name was used before and renamed in turn
        # (37**8 names: not checked beyond this).
        path = os.path.join(os.path.dirname(staged), prefix + staged[-8:])
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "private dir exists", path)
        os.rename(staged, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        os.rmdir(staged)
        raise
    return PrivateDir(path, fd)


def sweep(parent: str | None, before_removal: Callable[[str], object] | None = None) -> list[str]:
    """Remove the dirs named :data:`PREFIX` in ``parent`` (None: the system temp
    dir) that no process holds locked; returns their paths.

    ``before_removal(path)`` runs first for each (with the dir locked by us):
    to kill what may still run with its HOME there.  Never raises.
    """
    directory = parent or tempfile.gettempdir()
    removed: list[str] = []
    try:
        entries = [entry for entry in os.scandir(directory) if entry.name.startswith(PREFIX)]
    except OSError:
        return removed
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # just removed
        if not stat.S_ISDIR(st.st_mode):
            continue
        try:
            fd = os.open(entry.path, _OPEN_DIR)
        except OSError:
            continue  # another user's, or gone
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # its crawl is alive
        try:
            if before_removal is not None:
                with contextlib.suppress(Exception):
                    before_removal(entry.path)
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
        finally:
            os.close(fd)
    return removed
