"""Scrapy's ``<meta http-equiv="refresh">`` redirects, without the work on pages that have none.

Scrapy's :class:`~scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware`
looks for the tag in the first 4,096 characters of every HTML response
(:func:`scrapy.utils.response.get_meta_refresh`): it finds the page's
``<base href>`` first, then w3lib (2.5, ``w3lib.html.get_meta_refresh``) scans
the ``<meta>`` tags and considers only one whose attributes, lowercased,
contain ``refresh``.  That cost about 40 us a page, most pages having none.

:class:`MetaRefreshMiddleware` first lowercases those 4,096 characters and
looks for ``refresh`` (about 4 us): where the word is not there, no tag's
attributes can hold it, and the response goes on at once.  Any other page
goes through Scrapy's middleware unchanged, settings
(``METAREFRESH_ENABLED``, ``METAREFRESH_IGNORE_TAGS``,
``METAREFRESH_MAXDELAY``) and stats included.
"""

from __future__ import annotations

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
    return "refresh" in text[:HEAD_CHARACTERS].lower()
