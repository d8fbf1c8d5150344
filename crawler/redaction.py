"""Keeping secrets (passwords, cookies, tokens) out of what a run records and logs.

Two layers, one rule (a secret becomes ``***``):

* what a run *records* (its settings and spider arguments in the store):
  :func:`redact_mapping` masks the values of secret-looking names and the
  passwords of URLs, :func:`redact_text` the passwords of URLs in a text;
* what a run *logs*: :data:`MASKER`, a logging filter installed on the root
  logger's handlers (:func:`install`), masks the secrets it was told about
  (the login password, the cookies a login set, the cookies of a cookies
  file) and the values of any ``Cookie:`` or ``Set-Cookie:`` header line.
  Belt and braces: the login code never logs a secret on purpose, but other
  components can (``COOKIES_DEBUG``, a third-party middleware that logs
  request headers, Selenium's wire trace at DEBUG).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

REDACTED = "***"
SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|cookie|credential|auth|api_?key", re.I)
# The password of a URL such as postgresql://user:password@host/db, up to the
# last "@" of the authority (a password may hold an unescaped "@").
URL_PASSWORD = re.compile(r"""(\b[a-z][a-z0-9+.-]*://[^/\s:@'"]*:)[^/\s'"]*@""", re.I)
# A query parameter (?password=..., &api_key=...): masked when its name looks secret.
QUERY_PARAMETER = re.compile(r"""([?&])([^=&#\s'"]+)=([^&#\s'"]*)""")


def redact_text(text: str) -> str:
    """``text`` with the passwords of the URLs in it masked: the userinfo password
    (``postgresql://u:***@h/db``) and query parameters with a secret-looking name
    (``?password=***``, ``&api_key=***``)."""
    text = URL_PASSWORD.sub(rf"\g<1>{REDACTED}@", text)
    if "=" in text:
        text = QUERY_PARAMETER.sub(_masked_parameter, text)
    return text


def _masked_parameter(match: re.Match[str]) -> str:
    if SECRET_NAME.search(match.group(2)):
        return f"{match.group(1)}{match.group(2)}={REDACTED}"
    return match.group(0)


def redact_mapping(values: dict[str, Any]) -> dict[str, Any]:
    """A copy with the values of secret-looking names replaced, and URL passwords
    masked (in keys too: ``FEEDS`` are keyed by URI), recursively."""
    return {
        _redact(name): REDACTED if SECRET_NAME.search(str(name)) else _redact(value)
        for name, value in values.items()
    }


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return redact_mapping(value)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


# Shorter values ("1", "en") are too common to mask without mangling the log.
MIN_SECRET_LENGTH = 6
# WebDriver wire traces: every command and answer, cookie values and typed text included.
WIRE_LOGGERS = ("selenium.webdriver.remote.remote_connection",)

_HEADER_LINE = re.compile(r"(?im)^(\s*(?:set-)?cookie:\s*)(.*)$")
_COOKIE_PAIR = re.compile(r"(^|;\s*)([^=;\s]+)=([^;]*)")


def _mask_header_value(match: re.Match[str]) -> str:
    prefix, value = match.group(1), match.group(2)
    if prefix.strip().lower().startswith("set-cookie"):
        # Only the first pair is the cookie; the rest are attributes (Path, Expires...).
        name, sep, _ = value.partition("=")
        rest = value.partition(";")[2]
        masked = f"{name}={REDACTED}" if sep else value
        return prefix + masked + (f";{rest}" if rest else "")
    return prefix + _COOKIE_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}={REDACTED}", value)


class SecretMasker(logging.Filter):
    """Replaces registered secrets, and cookie header values, in log records."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None

    @property
    def active(self) -> bool:
        return self._pattern is not None

    def add(self, *values: str | None) -> None:
        """Mask these values from now on (too short or empty ones are ignored)."""
        fresh = {v for v in values if v and len(v) >= MIN_SECRET_LENGTH}
        with self._lock:
            if fresh <= self._secrets:
                return
            self._secrets = self._secrets | fresh
            # Longest first, so a secret containing another is masked whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def clear(self) -> None:
        with self._lock:
            self._secrets = frozenset()
            self._pattern = None

    def mask(self, text: str) -> str:
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        if "ookie" in text:
            text = _HEADER_LINE.sub(_mask_header_value, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.active:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record: let the handler report it as usual
            return True
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


#: The one masker of this process; :func:`install` puts it on the root handlers.
MASKER = SecretMasker()


def install(masker: SecretMasker = MASKER) -> None:
    """Filter every handler of the root logger, and silence WebDriver wire traces.

    Call it once the crawl's log handler exists (from a component's
    ``from_crawler``, which Scrapy runs after installing it); calling it again
    is harmless.
    """
    for handler in logging.root.handlers:
        if masker not in handler.filters:
            handler.addFilter(masker)
    for name in WIRE_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)
