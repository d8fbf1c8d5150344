"""Defaults for the framework's own settings.

Every component reads its settings through a ``Config.from_settings`` that
falls back to the values here, so the components also work when added to a
Scrapy project that does not use ``crawler.settings``.  Alphabetical by
component, the enabling flag first in each group.
"""

from __future__ import annotations

# Site crawl (spiders.site)
CRAWLER_ALLOWED_DOMAINS: list[str] = []  # hosts followed besides the start URL's
CRAWLER_FORMS = "none"  # none | get | all
CRAWLER_RENDER = "never"  # never | auto | always

# Page and item store (pipelines.store, crawler.storage)
CRAWLER_STORE_ENABLED = True
CRAWLER_STORE_BATCH_SIZE = 200  # rows per transaction
CRAWLER_STORE_FALLBACK_PATH = None  # JSON lines file for rows a failed store could not take
CRAWLER_STORE_URL = "sqlite:///crawl.db"
