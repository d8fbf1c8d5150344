"""Files a crawl will write (feeds, its log): checked before the crawl starts; and
whether a path is this user's own and private."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.exceptions import UsageError
from w3lib.url import file_uri_to_path


def check_output_file(output: str) -> None:
    """Raise :class:`UsageError` when the local file ``output`` (a path or a
    ``file:`` URI, as ``-o`` takes) cannot be written: its directory does not
    exist or is not writable, or ``output`` is a directory, a dangling link or
    a file we may not write.

    Scrapy would create a missing directory; a typo in it is far more likely
    than a wish for a new one.  A feed that cannot be opened would otherwise be
    a traceback in the log of a crawl that ends as if all went well.  Remote
    feeds (``s3://``...), ``stdout:`` and ``-`` pass, and so do paths below a
    ``%(name)s`` placeholder, which Scrapy fills in.
    """
    scheme = urlsplit(output).scheme
    if output == "-" or scheme == "stdout":
        return
    if scheme == "file":
        path = Path(file_uri_to_path(output))
    elif len(scheme) > 1:  # s3://, ftp://...; one letter is a Windows drive
        return
    else:
        path = Path(output)
    directory = Path()
    for part in path.parent.parts:
        if "%(" in part:
            return _check_directory(output, directory)
        directory /= part
    _check_directory(output, directory)
    if "%(" in path.name:
        return
    if path.is_dir():
        raise UsageError(f"cannot write {output}: it is a directory")
    if path.is_symlink() and not path.exists():
        target = os.readlink(path)
        raise UsageError(f"cannot write {output}: it links to {target}, which is not there")
    existed = path.exists()
    try:  # what permissions say is not the whole story (root, read-only mounts, /sys)
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666))
    except OSError as e:
        raise UsageError(f"cannot write {output}: {e.strerror}") from None
    if not existed:
        path.unlink(missing_ok=True)


def _check_directory(output: str, directory: Path) -> None:
    if not directory.is_dir():
        raise UsageError(f"cannot write {output}: the directory {directory} does not exist")


def private_path_problem(path: Path, *, directory: bool) -> str | None:
    """Why ``path`` is not this user's own, private directory (``directory``) or
    regular file, or None when it is: not a symbolic link, owned by this process's
    user, writable by no one else (no group or other write bit).  For files read
    back as pickles, which can run code: the rule OpenSSH applies to ``~/.ssh``
    before it trusts what is there (``StrictModes``)."""
    try:
        st = os.lstat(path)
    except OSError as e:
        return e.strerror or type(e).__name__
    if directory and not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    if not directory and not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_uid != os.getuid():
        return f"owned by another user (uid {st.st_uid})"
    if st.st_mode & 0o022:
        return f"writable by other users (mode {stat.S_IMODE(st.st_mode):o})"
    return None
