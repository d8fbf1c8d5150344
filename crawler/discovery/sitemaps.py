"""URLs in ``robots.txt`` ``Sitemap:`` lines and in sitemap files, with Scrapy's parsers.

* :func:`robots_sitemaps`: the sitemap URLs a ``robots.txt`` lists
  (``scrapy.utils.sitemap.sitemap_urls_from_robots``, relative ones resolved);
* :class:`SitemapReader`: a sitemap file (``<urlset>``) or sitemap index
  (``<sitemapindex>``), plain or gzip-compressed (``.xml.gz``), as Scrapy's
  ``SitemapSpider`` reads it: ``scrapy.utils.sitemap.Sitemap`` (lxml, entities
  not resolved) and ``scrapy.utils.gz.gunzip`` bounded by ``DOWNLOAD_MAXSIZE``
  (a request's ``meta["download_maxsize"]`` wins), with a warning past
  ``DOWNLOAD_WARNSIZE``.  Alternate URLs (``<xhtml:link rel="alternate">``)
  are listed with the ``<loc>`` s.

A body that is no sitemap (an HTML "not found" page served with status 200, a
broken gzip file, one that decompresses past the limit) is an
:class:`InvalidSitemap` whose message says why.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import lxml.etree
from scrapy.http import XmlResponse
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

if TYPE_CHECKING:
    from typing import Self

    from scrapy.http import Response
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

URLSET = "urlset"
SITEMAP_INDEX = "sitemapindex"


class InvalidSitemap(ValueError):
    """A response that is not a sitemap or sitemap index; the message says why."""


def robots_sitemaps(response: Response) -> list[str]:
    """The ``Sitemap:`` URLs of a ``robots.txt`` response, absolute, in order, once each."""
    urls = sitemap_urls_from_robots(response.body, base_url=response.url)
    return list(dict.fromkeys(url for url in urls if url))


@dataclass(frozen=True)
class SitemapFile:
    kind: str  # URLSET (pages) or SITEMAP_INDEX (more sitemap files)
    urls: list[str]  # absolute, as listed, once each


class SitemapReader:
    def __init__(self, max_size: int = 0, warn_size: int = 0) -> None:
        self.max_size = max_size  # bytes after decompression; 0: no limit
        self.warn_size = warn_size  # bytes; 0: no warning

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        return cls(settings.getint("DOWNLOAD_MAXSIZE"), settings.getint("DOWNLOAD_WARNSIZE"))

    def read(self, response: Response) -> SitemapFile:
        """The URLs ``response`` lists; :class:`InvalidSitemap` if it is no sitemap."""
        body = self._body(response)
        try:
            sitemap = Sitemap(body)
            kind = sitemap.type
            if kind not in (URLSET, SITEMAP_INDEX):
                raise InvalidSitemap(
                    f"its root element is <{kind}>, not <urlset> or <sitemapindex>"
                )
            urls: list[str] = []
            for entry in sitemap:
                urls.append(response.urljoin(entry["loc"]))
                urls.extend(response.urljoin(alt) for alt in entry.get("alternate", ()))
        except (lxml.etree.LxmlError, StopIteration) as e:
            raise InvalidSitemap(f"not XML: {e or type(e).__name__}") from None
        return SitemapFile(kind, list(dict.fromkeys(u for u in urls if u)))

    def _body(self, response: Response) -> bytes:
        if gzip_magic_number(response):
            meta = response.request.meta if response.request is not None else {}
            max_size = meta.get("download_maxsize", self.max_size)
            warn_size = meta.get("download_warnsize", self.warn_size)
            try:
                body = gunzip(response.body, max_size=max_size)
            except ValueError:  # scrapy.utils._compression's size error
                raise InvalidSitemap(
                    f"it decompresses to more than DOWNLOAD_MAXSIZE ({max_size} bytes)"
                ) from None
            except (OSError, EOFError, struct.error) as e:
                raise InvalidSitemap(f"broken gzip data: {e}") from None
            if len(response.body) < warn_size <= len(body):
                logger.warning(
                    "Sitemap %s decompresses to %d bytes, more than DOWNLOAD_WARNSIZE (%d)",
                    response.url,
                    len(body),
                    warn_size,
                )
            return body
        # gzip sent with Content-Encoding is decoded by HttpCompressionMiddleware already
        if isinstance(response, XmlResponse) or response.url.endswith((".xml", ".xml.gz")):
            return response.body
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        raise InvalidSitemap(f"its content type is {content_type or 'unknown'}, not XML")
