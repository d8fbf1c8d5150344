"""URLs given by the user: checked, and read from files."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from crawler.exceptions import ConfigError

FOLLOWED_SCHEMES = ("http", "https")


def check_url(url: str) -> str:
    """``url`` itself if it is an absolute http(s) URL with a host, else a
    :class:`~crawler.exceptions.ConfigError`."""
    parts = urlsplit(url)
    if parts.scheme not in FOLLOWED_SCHEMES or not parts.hostname:
        raise ConfigError(f"not an http(s) URL: {url!r}")
    return url


def read_url_file(path: str | Path) -> list[str]:
    """URLs from a UTF-8 file, one a line; blank lines and ``#`` comments are skipped.

    Raises :class:`~crawler.exceptions.ConfigError` naming the file when it cannot be read.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read URLs from {path}: {reason}") from None
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]
