"""The framework as a Scrapy add-on, for projects that do not use ``crawler.settings``.

.. code-block:: python

    # settings.py of a Scrapy project
    ADDONS = {"crawler.addon.CrawlerAddon": 0}
    DOWNLOADER_MIDDLEWARES = {"crawler.browser.middleware.SeleniumMiddleware": 950}

The add-on sets every default of :mod:`crawler.default_settings` at Scrapy's
``"addon"`` priority (so the project's, a spider's and the command line's
values win) and enables two extensions first in ``EXTENSIONS``:
:class:`crawler.settingscheck.SettingsCheck`, then
:class:`crawler.extensions.logmasking.LogMasking` (secrets out of the log,
before Scrapy logs the overridden settings).  It enables no other component:
the project chooses those.  It takes Scrapy's remote control and telnet console
out of ``EXTENSIONS_BASE`` when their flags are off (:data:`OFF_EXTENSIONS`), so
a crawl does not import what it will not run.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from scrapy.settings import Settings

from crawler import default_settings
from crawler.extensions.logmasking import LogMasking
from crawler.settingscheck import SettingsCheck

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy.settings import BaseSettings

#: Scrapy extensions of ``EXTENSIONS_BASE`` that only raise ``NotConfigured`` when
#: their flag is off, yet cost their imports at every crawl start: Scrapy builds
#: ``EXTENSIONS`` from its ``_BASE`` and imports every class listed, even one set to
#: ``None`` in ``EXTENSIONS`` (``Settings.get_component_priority_dict_with_base``).
#: The remote control imports aiohttp (about 0.1 s of CPU), the telnet console
#: twisted.conch.  ``{flag setting: import path}``.
OFF_EXTENSIONS = {
    "REMOTE_CONTROL_ENABLED": "scrapy.extensions.remote_control.RemoteControl",
    "TELNETCONSOLE_ENABLED": "scrapy.extensions.telnet.TelnetConsole",
}

#: ``EXTENSIONS`` order of the settings check: before every other extension.
SETTINGS_CHECK_ORDER = -1000
#: ``EXTENSIONS`` order of the log masking: next, so the secrets of the settings
#: are known before the other extensions are built and Scrapy logs the settings
#: (the settings check logs setting names only).
LOG_MASKING_ORDER = -999


def set_defaults(settings: BaseSettings, priority: int | str = "addon") -> None:
    """Every setting of :mod:`crawler.default_settings` at ``priority`` (a setting
    already set at a higher priority keeps its value)."""
    for name, value in vars(default_settings).items():
        if name.isupper():
            settings.set(name, copy.deepcopy(value), priority=priority)


class CrawlerAddon:
    @classmethod
    def update_pre_crawler_settings(cls, settings: BaseSettings) -> None:
        # Before any crawler exists, so spiders see the defaults in from_crawler.
        set_defaults(settings)

    def update_settings(self, settings: BaseSettings) -> None:
        # Again for an add-on enabled in a spider's custom_settings.
        set_defaults(settings)
        settings.set_in_component_priority_dict("EXTENSIONS", SettingsCheck, SETTINGS_CHECK_ORDER)
        settings.set_in_component_priority_dict("EXTENSIONS", LogMasking, LOG_MASKING_ORDER)
        drop_off_extensions(settings)


def drop_off_extensions(settings: BaseSettings) -> None:
    """Take the :data:`OFF_EXTENSIONS` whose flag is off out of ``EXTENSIONS_BASE``
    (at that setting's priority), so that their modules are never imported.

    Nothing changes for a flag that is on, or not a boolean (the settings check
    reports that); the extension would raise ``NotConfigured`` anyway.
    """
    base = settings.getdict("EXTENSIONS_BASE")
    dropped = False
    for flag, path in OFF_EXTENSIONS.items():
        try:
            off = not settings.getbool(flag)
        except ValueError:
            continue
        if off and path in base:
            del base[path]
            dropped = True
    if dropped:
        settings.set("EXTENSIONS_BASE", base, priority=settings.getpriority("EXTENSIONS_BASE") or 0)


def framework_settings(values: Mapping[str, Any] | None = None) -> Settings:
    """Scrapy's defaults, the framework's, then ``values`` (at ``"project"``
    priority): the settings of components built outside a crawl."""
    settings = Settings()
    set_defaults(settings)
    if values:
        settings.update(dict(values))
    return settings
