"""URLs given by the user: checked, and read from files."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from crawler.exceptions import ConfigError
from crawler.redaction import REDACTED, redact_url

FOLLOWED_SCHEMES = ("http", "https")


def check_url(url: str, what: str | None = None, error: type[ConfigError] = ConfigError) -> str:
    """``url`` itself if it is an absolute http(s) URL with a host (and a port
    that is a number), without a user name or password in it.

    Else ``error`` (a :class:`~crawler.exceptions.ConfigError`), one line that
    names the URL with its password masked and, for a URL holding one, says
    what to use instead (the login options, Scrapy's ``HTTPAUTH_*`` settings).
    ``what`` names the URL in the message (``"start URL"``).
    """
    shown = shown_url(url)
    parts = urlsplit(url)
    if parts.scheme not in FOLLOWED_SCHEMES or not parts.hostname:
        if what is None:
            raise error(f"not an http(s) URL: {shown!r}")
        raise error(f"the {what} must be an http(s) URL, not {shown!r}")
    if "@" in parts.netloc:
        raise error(
            f"the {what or 'URL'} {shown} holds a user name or password, which a crawl does "
            "not send: for a login form use --login LOGIN_URL --username USER, for HTTP "
            f"basic auth Scrapy's settings HTTPAUTH_USER, HTTPAUTH_PASS and "
            f"HTTPAUTH_DOMAIN={parts.hostname}"
        )
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        raise error(f"the {what or 'URL'} {shown} has a port that is not a number") from None
    return url


def shown_url(url: str) -> str:
    """``url`` as it may be shown: its password (``user:***@``; a user name
    alone, which may be a token: ``***@``) and secret query parameters masked."""
    text = redact_url(url)
    netloc = urlsplit(text).netloc
    userinfo, at, _ = netloc.rpartition("@")
    if at and ":" not in userinfo:
        text = text.replace(f"{userinfo}@", f"{REDACTED}@", 1)
    return text


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
