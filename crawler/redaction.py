"""Keeping secrets (passwords, cookies, tokens) out of what a run records."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"
SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|cookie|credential|auth|api_?key", re.I)
# the password of a URL such as postgresql://user:password@host/db
URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@", re.I)


def redact_text(text: str) -> str:
    """``text`` with the passwords of the URLs in it masked."""
    return URL_PASSWORD.sub(rf"\g<1>{REDACTED}@", text)


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
