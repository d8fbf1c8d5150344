"""Deciding per page whether ``--render auto`` should render it in the browser.

Pages are grouped by URL pattern (digits and query values generalised, so
``/item/17.html?p=2`` and ``/item/903.html?p=9`` are one page type).  A page
without any ``<script>`` is never rendered.  A page type is sampled (rendered)
until ``sample_size`` renders have shown whether its scripts add links; a type
that has shown a script-made link even once is always rendered from then on,
so no page of it loses links; a type whose samples never differed is rendered
again only every ``resample_every`` pages, in case its scripts add links on
some pages only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

_DIGITS = re.compile(r"\d+")
_SCRIPT_TAG = re.compile(rb"<script\b", re.IGNORECASE)


def url_pattern(url: str) -> str:
    """The page type of a URL: host, path with numbers generalised, query names."""
    parts = urlsplit(url)
    path = _DIGITS.sub("{n}", parts.path or "/")
    names = sorted({name for name, _ in parse_qsl(parts.query, keep_blank_values=True)})
    query = "?" + "&".join(names) if names else ""
    return f"{parts.hostname}{path}{query}"


def has_scripts(body: bytes) -> bool:
    return _SCRIPT_TAG.search(body) is not None


@dataclass
class PatternStats:
    samples: int = 0  # renders whose result was learned
    with_script_links: int = 0  # of those, renders that found links the raw HTML lacked
    seen_since_sample: int = 0  # pages of the type skipped since the last render

    @property
    def needs_rendering(self) -> bool:
        return self.with_script_links > 0


class AdaptiveRenderPolicy:
    def __init__(self, sample_size: int = 2, resample_every: int = 20) -> None:
        if sample_size < 1 or resample_every < 1:
            raise ValueError("sample_size and resample_every must be at least 1")
        self.sample_size = sample_size
        self.resample_every = resample_every
        self.patterns: dict[str, PatternStats] = {}

    def should_render(self, url: str, body: bytes) -> bool:
        if not has_scripts(body):
            return False
        stats = self.patterns.setdefault(url_pattern(url), PatternStats())
        if stats.needs_rendering or stats.samples < self.sample_size:
            return True
        stats.seen_since_sample += 1
        if stats.seen_since_sample >= self.resample_every:
            stats.seen_since_sample = 0
            return True
        return False

    def learn(self, url: str, script_links: int) -> None:
        """Record what rendering a page of this type showed."""
        stats = self.patterns.setdefault(url_pattern(url), PatternStats())
        stats.samples += 1
        if script_links:
            stats.with_script_links += 1
