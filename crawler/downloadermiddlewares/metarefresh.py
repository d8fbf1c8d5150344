"""Scrapy's ``<meta http-equiv="refresh">`` redirects, without the work on pages that have none.

Scrapy's :class:`~scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware`
looks for the tag in the first 4,096 characters of every HTML response
(:func:`scrapy.utils.response.get_meta_refresh`): it finds the page's
``<base href>`` and has w3lib replace the character references, remove
comments and ``<script>``/``<noscript>`` elements before the tag's regular
expression runs, whether the word ``refresh`` is there or not.  That was about
2% of a plain HTTP crawl's CPU time (bench/RESULTS.md, "Scale, round 5").

:class:`MetaRefreshMiddleware` answers first, for those 4,096 characters, the
question that decides most pages: w3lib's expression needs the word
``refresh`` (case-insensitive, with the same case folding) once the
character references are replaced.  No named reference of HTML's list
produces those letters (the only one that gives ASCII letters, ``&fjlig;``,
gives "fj"), so a head without ``refresh`` and without a numeric reference
(``&#``) has no meta refresh: the response goes on at once.  Any other page
goes through Scrapy's middleware unchanged, settings
(``METAREFRESH_ENABLED``, ``METAREFRESH_IGNORE_TAGS``,
``METAREFRESH_MAXDELAY``) and stats included.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.redirect import (
    MetaRefreshMiddleware as ScrapyMetaRefreshMiddleware,
)
from scrapy.http import HtmlResponse

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.http import Response

__all__ = ["MetaRefreshMiddleware"]

#: The characters Scrapy reads the tag from (``scrapy.utils.response.get_meta_refresh``).
HEAD_CHARACTERS = 4096
_REFRESH = re.compile("refresh", re.IGNORECASE)  # as w3lib's expression matches it


class MetaRefreshMiddleware(ScrapyMetaRefreshMiddleware):
    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if isinstance(response, HtmlResponse) and not may_refresh(response.text):
            return response
        return super().process_response(request, response)


def may_refresh(text: str) -> bool:
    """Whether the first :data:`HEAD_CHARACTERS` of ``text`` may hold a meta refresh
    (False: certainly none)."""
    return (
        _REFRESH.search(text, 0, HEAD_CHARACTERS) is not None
        or text.find("&#", 0, HEAD_CHARACTERS) != -1
    )
