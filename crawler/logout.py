"""Recognising logout links and forms, so a logged-in crawl never ends its own session."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from crawler import default_settings


@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def looks_like_logout(
    url: str, text: str = "", pattern: str = default_settings.CRAWLER_LOGOUT_PATTERN
) -> bool:
    """Whether a link (its URL path and query, and its text) or a form action logs out."""
    parts = urlsplit(url)
    target = unquote(f"{parts.path}?{parts.query}").replace("-", " ").replace("_", " ")
    regex = _compiled(pattern)
    return bool(regex.search(target) or (text and regex.search(text)))
