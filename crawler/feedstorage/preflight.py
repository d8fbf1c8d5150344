"""Feeds to a server, tried before the crawl: a wrong password, an unknown host
key or a missing directory is learnt in seconds, not when the feed is sent at
the end of a long crawl.

:func:`preflight_feeds` builds the storage of each ``ftp://``, ``ftps://`` and
``sftp://`` feed of ``FEEDS`` (as Scrapy's feed exporter does) and calls its
:meth:`~crawler.feedstorage.delivery.DeliveringFeedStorage.preflight`: one
connection, the login, the host key, the directory found or created; nothing
is sent.  ``crawler crawl`` and ``crawler extract`` run it after the settings
check (:func:`crawler.runner.run_spider`); off with ``CRAWLER_FEED_PREFLIGHT =
False``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.utils.conf import feed_complete_default_values_from_settings
from scrapy.utils.misc import build_from_crawler, load_object

from crawler.exceptions import ConfigError, FeedDeliveryError
from crawler.feedstorage.delivery import DeliveringFeedStorage
from crawler.redaction import redact_url

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)


def preflight_feeds(settings: BaseSettings) -> int:
    """Try every feed of ``FEEDS`` whose storage delivers to a server; the number
    tried.  Raises :class:`~crawler.exceptions.ConfigError` (one line: the feed,
    what failed, how to skip the check) for the first that fails."""
    if not settings.getbool("CRAWLER_FEED_PREFLIGHT"):
        return 0
    storages = settings.getwithbase("FEED_STORAGES")
    crawler: Crawler | None = None
    tried = 0
    for key, options in settings.getdict("FEEDS").items():
        uri = str(key.absolute()) if isinstance(key, Path) else str(key)
        path = storages.get(urlparse(uri).scheme)
        if not path:
            continue
        storage_class = load_object(path)
        if not isinstance(storage_class, type):
            continue
        if not issubclass(storage_class, DeliveringFeedStorage):
            continue
        crawler = crawler or Crawler(Spider, settings)  # never started: for from_crawler
        complete = feed_complete_default_values_from_settings(dict(options), settings, uri)
        storage = build_from_crawler(storage_class, crawler, uri, feed_options=complete)
        logger.debug("Trying the feed %s before the crawl", redact_url(uri))
        try:
            storage.preflight()
        except FeedDeliveryError as e:
            raise ConfigError(
                f"{e} (tried before the crawl; CRAWLER_FEED_PREFLIGHT=False skips the check)"
            ) from None
        tried += 1
    return tried
