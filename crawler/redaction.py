"""Keeping secrets (passwords, cookies, tokens) out of what a run records."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"
SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|cookie|credential|auth|api_?key", re.I)


def redact_mapping(values: dict[str, Any]) -> dict[str, Any]:
    """A copy with the values of secret-looking names replaced, recursively."""
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if SECRET_NAME.search(str(name)):
            clean[name] = REDACTED
        elif isinstance(value, dict):
            clean[name] = redact_mapping(value)
        else:
            clean[name] = value
    return clean
