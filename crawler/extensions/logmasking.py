"""Secrets out of every crawl's log: URL passwords, and the values of secret settings.

:class:`LogMasking` is enabled by the add-on
(:class:`crawler.addon.CrawlerAddon`) right after the settings check, before
every other extension, so every crawl of the framework has it (``crawler
crawl``, ``crawler extract``, ``scrapy crawl``, a project that enables the
add-on). Built with the other extensions, before Scrapy logs "Overridden
settings", it

* registers with :data:`crawler.redaction.MASKER` the string values of the
  settings whose names look secret (``FTP_PASSWORD``, ``AWS_SECRET_ACCESS_KEY``,
  ``MAIL_PASS``, ``HTTPAUTH_PASS``, a ``"password"`` nested in a dict setting;
  :func:`crawler.redaction.secret_setting_values`), and the passwords of the
  URLs in the settings (``FEEDS`` keys, store URLs:
  :func:`crawler.redaction.setting_urls`), found whole even where the URL
  should have percent-encoded them (a quote, a space, an ``@``), and
* puts the masker on the root logger's handlers and on the loggers that print
  settings and feed URIs (:func:`crawler.redaction.install_filters`), so every
  record loses the passwords of its URLs (``ftp://user:***@host/``) and those
  values;
* and again when the spider opens: Scrapy replaces its root handler between
  building the extensions and opening the spider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import signals

from crawler import redaction

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler


class LogMasking:
    def __init__(self, masker: redaction.SecretMasker = redaction.MASKER) -> None:
        self.masker = masker

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        extension = cls()
        extension.masker.add(*redaction.secret_setting_values(crawler.settings))
        extension.masker.add_url(*redaction.setting_urls(crawler.settings))
        redaction.install_filters(extension.masker)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        return extension

    def spider_opened(self) -> None:
        redaction.install_filters(self.masker)
