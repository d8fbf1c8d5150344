"""One check of every setting a crawl is given, before anything is crawled.

:func:`check_settings` refuses a value its setting cannot take with a
:class:`~crawler.exceptions.ConfigError` in one line: the setting, what it
takes, the value (``SELENIUM_POOL_SIZE must be a whole number >= 1, not
'abc'``).  It checks, in this order:

1. **types** (:func:`check_types`):

   * the framework's settings: the annotations of :mod:`crawler.default_settings`
     (``SELENIUM_POOL_SIZE: Annotated[int, Ge(1)] = 4``,
     ``CRAWLER_RENDER: Literal["never", "auto", "always"]``,
     ``CRAWLER_SUBMIT_FORMS: Regex | None``: compiled here);
   * Scrapy's settings: the type of their default in
     ``scrapy.settings.default_settings`` (``bool``, ``int``, ``float``, ``list``,
     ``dict``), converted with Scrapy's own getters, corrected and bounded by
     :data:`SCRAPY_TYPES` where Scrapy reads a setting otherwise
     (``DOWNLOAD_DELAY`` defaults to ``0`` but is read as a float) or takes only
     some values (sizes, counts, delays and timeouts are not negative).  A float
     is finite everywhere (``DOWNLOAD_DELAY=inf`` would stall the crawl for ever);

2. **components named by import path** (:func:`check_components`), given on the
   command line or by the spider (Scrapy's own defaults are not imported: some
   need optional packages): the orders of :data:`COMPONENT_DICTS`
   (``ITEM_PIPELINES``...) are numbers or ``None``; every path of those, of
   :data:`CLASS_DICTS` (``FEED_EXPORTERS``...) and of :data:`CLASS_SETTINGS`
   (``SCHEDULER``, ``TWISTED_REACTOR``...) imports (``load_object``) and is a
   class of the kind the setting needs; a feed of ``FEEDS`` has a format and a
   storage scheme that some exporter and storage take.  ``ITEM_PIPELINES:
   cannot import nosuch.P: No module named 'nosuch'``.  The paths are imported
   as the crawl would import them a moment later, before the reactor is
   installed: Scrapy's rule for spider modules (which it also imports first),
   no ``from twisted.internet import reactor`` at module level, holds for them;

3. **the components' own checks** (:data:`VALIDATORS`): each framework
   component's ``Config.from_settings`` (or the like), which raises a
   :class:`~crawler.exceptions.ConfigError` subclass for what a type cannot say
   (a host name, a spec file, a store URL, a login without a password).  They
   run on the settings with the framework's defaults beneath, whether or not
   the component is enabled, as the types are checked; none has side effects
   (no browser lookup, no network, no password prompt).

With a spider class, the spider's ``custom_settings`` are applied first; with
its arguments too (``check_settings(settings, spidercls=..., spider_arguments=
{...})``), the spider is built once with them (``spidercls(**arguments)``),
which is where the project's spiders check their arguments, and its
``apply_arguments(settings)`` puts the settings the arguments stand for
(``-a max_depth=2`` is ``DEPTH_LIMIT``) into the copy that is checked.  So a
bad ``-a`` is refused before Scrapy logs a line, by the spider's own rules.
Building the spider, rather than calling a separate argument-checking
classmethod, keeps one set of rules per spider (its ``__init__``, which the
crawl runs anyway, so the check and the crawl cannot disagree) and serves any
spider that raises ``ConfigError`` there, the project's or a user's.  The
price is that the spider is built twice, so a spider's ``__init__`` only
parses and checks its arguments and leaves everything with effects (files,
connections, signals) to ``from_crawler`` and ``start``.  Only a
:class:`~crawler.exceptions.ConfigError` or ``UsageError`` from the spider
counts here; anything else it raises is left for the crawl to report as it
always does.  :func:`check_argument` checks one spider argument against the
type of the setting it stands for, naming the argument.

4. **what the crawl would die on or silently skip** later:
   ``CONCURRENT_REQUESTS_PER_IP`` with a priority queue that refuses it
   (:func:`check_priority_queue`); feeds whose storage cannot be built, whose
   encoding Python does not know or whose URI names a ``%(parameter)s`` that
   neither Scrapy nor the spider has (:func:`check_feeds`); a ``LOG_FILE`` or
   ``JOBDIR`` that cannot be written (:func:`check_files`, which leaves no
   file behind).  An argument the spider's ``__init__`` does not take is a
   warning (:func:`unknown_arguments`), an argument without a name an error.

:func:`unknown_settings` finds names given on the command line or in a
spider's ``custom_settings`` that neither Scrapy, nor the framework, nor the
project's settings module, nor an enabled component knows, with the closest
known name; :class:`SettingsCheck` (an extension the add-on enables first in
``EXTENSIONS``) runs both for every crawl and logs one warning per unknown name.
"""

from __future__ import annotations

import codecs
import difflib
import importlib
import importlib.util
import inspect
import logging
import math
import numbers
import os
import pkgutil
import re
import tempfile
import types
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PureWindowsPath
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)
from urllib.parse import urlparse

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured, UsageError
from scrapy.extensions.feedexport import apply_uri_params
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings, iter_default_settings
from scrapy.settings import default_settings as scrapy_default_settings
from scrapy.utils.conf import feed_complete_default_values_from_settings
from scrapy.utils.misc import build_from_crawler, load_object

from crawler import default_settings
from crawler.exceptions import ConfigError
from crawler.journal import check_job_dir, job_arguments
from crawler.redaction import redact_text, redact_url
from crawler.utils.files import check_output_file

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Self

logger = logging.getLogger(__name__)


def _number(bound: float) -> str:
    """A bound in a message: a whole number in full (2147483647), else as ``:g``."""
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


@dataclass(frozen=True)
class Ge:
    """``Annotated[int, Ge(1)]``: at least ``bound``."""

    bound: float

    def holds(self, value: float) -> bool:
        return value >= self.bound

    def __str__(self) -> str:
        return f">= {_number(self.bound)}"


@dataclass(frozen=True)
class Gt:
    """``Annotated[float, Gt(0)]``: more than ``bound``."""

    bound: float

    def holds(self, value: float) -> bool:
        return value > self.bound

    def __str__(self) -> str:
        return f"> {_number(self.bound)}"


@dataclass(frozen=True)
class Le:
    """``Annotated[float, Le(1)]``: at most ``bound``."""

    bound: float

    def holds(self, value: float) -> bool:
        return value <= self.bound

    def __str__(self) -> str:
        return f"<= {_number(self.bound)}"


BOUNDS = (Ge, Gt, Le)


class Regex(str):
    """The type of a setting that takes a regular expression (text ``re.compile``
    takes, or a compiled pattern): ``CRAWLER_SUBMIT_FORMS: Regex | None``."""


class LogLevel(str):
    """The type of ``LOG_LEVEL``: what :meth:`logging.Handler.setLevel` takes, to
    which Scrapy hands the value as it is: a level name (``"INFO"``) or an int.
    Text of digits (``-s LOG_LEVEL=10``) is neither."""


#: The level names :data:`LogLevel` lists (logging also takes FATAL and WARN).
LOG_LEVEL_NAMES = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET")


#: Scrapy settings whose default's type is not how Scrapy reads them, or that
#: take only some values of their type: counts, sizes (bytes), delays and
#: timeouts (seconds) are not negative; 0 turns most limits off.
SCRAPY_TYPES: dict[str, Any] = {
    "AUTOTHROTTLE_MAX_DELAY": Annotated[float, Ge(0)],
    "AUTOTHROTTLE_START_DELAY": Annotated[float, Ge(0)],
    "AUTOTHROTTLE_TARGET_CONCURRENCY": Annotated[float, Gt(0)],  # 0: AutoThrottle refuses it
    "CLOSESPIDER_ERRORCOUNT": Annotated[int, Ge(0)],
    "CLOSESPIDER_ITEMCOUNT": Annotated[int, Ge(0)],
    "CLOSESPIDER_PAGECOUNT": Annotated[int, Ge(0)],
    "CLOSESPIDER_PAGECOUNT_NO_ITEM": Annotated[int, Ge(0)],
    "CLOSESPIDER_TIMEOUT": Annotated[float, Ge(0)],
    "CLOSESPIDER_TIMEOUT_NO_ITEM": Annotated[int, Ge(0)],
    "CONCURRENT_ITEMS": Annotated[int, Ge(1)],
    "CONCURRENT_REQUESTS": Annotated[int, Ge(1)],
    "CONCURRENT_REQUESTS_PER_DOMAIN": Annotated[int, Ge(1)],
    "CONCURRENT_REQUESTS_PER_IP": Annotated[int, Ge(0)],  # deprecated, still read; 0: off
    "DEPTH_LIMIT": Annotated[int, Ge(0)],
    "DNSCACHE_SIZE": Annotated[int, Ge(0)],  # negative: the first lookup fails
    "DNS_TIMEOUT": Annotated[float, Gt(0)],  # 60, read with getfloat
    "DOWNLOAD_DELAY": Annotated[float, Ge(0)],  # 0, read with getfloat
    "DOWNLOAD_DELAY_JITTER": Annotated[float, Ge(0)],
    "DOWNLOAD_MAXSIZE": Annotated[int, Ge(0)],  # negative: every response cancelled
    "DOWNLOAD_TIMEOUT": Annotated[float, Gt(0)],  # 180, read with getfloat
    "DOWNLOAD_WARNSIZE": Annotated[int, Ge(0)],
    "FEED_EXPORT_BATCH_ITEM_COUNT": Annotated[int, Ge(0)],
    "HTTPCACHE_EXPIRATION_SECS": Annotated[int, Ge(0)],
    "LOG_LEVEL": LogLevel,  # handed to logging as it is
    "LOGSTATS_INTERVAL": Annotated[float, Ge(0)],
    "MEMUSAGE_CHECK_INTERVAL_SECONDS": Annotated[float, Gt(0)],
    "MEMUSAGE_LIMIT_MB": Annotated[int, Ge(0)],
    "MEMUSAGE_WARNING_MB": Annotated[int, Ge(0)],
    "METAREFRESH_MAXDELAY": Annotated[int, Ge(0)],
    "REACTOR_THREADPOOL_MAXSIZE": Annotated[int, Ge(1)],
    "REDIRECT_MAX_TIMES": Annotated[int, Ge(0)],
    "RETRY_TIMES": Annotated[int, Ge(0)],
    "SCRAPER_SLOT_MAX_ACTIVE_SIZE": Annotated[int, Ge(0)],  # negative: nothing is ever scraped
    "TELNETCONSOLE_ENABLED": bool,  # 1, read with getbool
    "URLLENGTH_LIMIT": Annotated[int, Ge(0)],
}

#: Component priority dictionaries: ``{import path or class: order}``; an
#: order is a number (or ``None``: off).
COMPONENT_DICTS = (
    "ADDONS",
    "DOWNLOADER_MIDDLEWARES",
    "EXTENSIONS",
    "ITEM_PIPELINES",
    "SPIDER_CONTRACTS",
    "SPIDER_MIDDLEWARES",
)
#: Dictionaries of ``{name: import path of a class, or None (off)}``.
CLASS_DICTS = ("DOWNLOAD_HANDLERS", "FEED_EXPORTERS", "FEED_STORAGES", "REFERRER_POLICIES")
#: Settings that hold the import path of one class, and the class it must
#: subclass where Scrapy requires one (``None``: any class).
CLASS_SETTINGS: dict[str, str | None] = {
    "ASYNCIO_EVENT_LOOP": "asyncio.AbstractEventLoop",
    "DEFAULT_ITEM_CLASS": None,
    "DNS_RESOLVER": None,  # deprecated name of TWISTED_DNS_RESOLVER, still read
    "DOWNLOADER": None,
    "DUPEFILTER_CLASS": None,
    "HTTPCACHE_POLICY": None,
    "HTTPCACHE_STORAGE": None,
    "ITEM_PROCESSOR": None,
    "LOG_FORMATTER": None,
    "REFERRER_POLICY": None,  # or a policy's name: "no-referrer"
    "REQUEST_FINGERPRINTER_CLASS": None,
    "ROBOTSTXT_PARSER": None,
    "SCHEDULER": "scrapy.core.scheduler.BaseScheduler",
    "SCHEDULER_DISK_QUEUE": None,
    "SCHEDULER_MEMORY_QUEUE": None,
    "SCHEDULER_PRIORITY_QUEUE": None,
    "SCHEDULER_START_DISK_QUEUE": None,
    "SCHEDULER_START_MEMORY_QUEUE": None,
    "SPIDER_LOADER_CLASS": None,
    "STATS_CLASS": None,
    "TWISTED_DNS_RESOLVER": None,
    "TWISTED_REACTOR": None,  # and its module has install(), as Scrapy calls it
}
_ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

#: The framework components' own checks, run by :func:`check_settings` after the
#: types: ``"module:qualname"`` of callables that take the settings and raise a
#: :class:`~crawler.exceptions.ConfigError` subclass.  Each must be free of side
#: effects (no browser looked up, no network, no password prompt): the check
#: runs before every crawl and again when the crawl starts.
VALIDATORS: tuple[str, ...] = (
    "crawler.browser.config:BrowserConfig.from_settings",
    "crawler.browser.explore:ExploreConfig.from_settings",
    "crawler.browser.rendermode:RenderModeConfig.from_settings",
    "crawler.feedstorage.config:FeedConfig.from_settings",
    "crawler.forms.policy:FormPolicy.from_settings",
    "crawler.login.config:login_config",
    "crawler.login.cookies:check_cookies_file",
    "crawler.spidermiddlewares.extract:ExtractConfig.from_settings",
    "crawler.pipelines.store:StoreConfig.from_settings",
    "crawler.traps:TrapConfig.from_settings",
)

# How an annotation of crawler.default_settings is evaluated.
_ANNOTATION_NAMES = {
    "Annotated": Annotated,
    "Any": Any,
    "Literal": Literal,
    "Ge": Ge,
    "Gt": Gt,
    "Le": Le,
    "Regex": Regex,
    "LogLevel": LogLevel,
}

_GIVEN = SETTINGS_PRIORITIES["spider"]  # this priority and above: the spider's, the command line's
_PRIORITY_NAMES = {
    SETTINGS_PRIORITIES["cmdline"]: "on the command line",
    SETTINGS_PRIORITIES["spider"]: "by the spider",
}
# Settings that name a component class, besides the component dictionaries.
_CLASS_SETTING = re.compile(r"^(SCHEDULER|DOWNLOADER|[A-Z_]+_CLASS)$")
# An UPPER_CASE string literal with at least one underscore: what a setting name looks like.
_NAME_LITERAL = re.compile(r"""["']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)["']""")
_MAX_SCANNED_FILES = 300  # a bigger package: only the component's own module is read


# -- types -------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    hint: Any
    empty: tuple[Any, ...]  # values that pass unchecked: (None,) or (None, "")


def _scrapy_hint(default: Any) -> Any:
    """The type of a Scrapy setting, from its default; None: not checked."""
    if isinstance(default, bool):
        return bool
    if isinstance(default, int):
        return int
    if isinstance(default, float):
        return float
    if isinstance(default, (list, tuple)):
        if default and all(isinstance(v, int) and not isinstance(v, bool) for v in default):
            return list[int]
        return list[Any]
    if isinstance(default, dict):
        return dict[Any, Any]
    return None


@lru_cache(maxsize=1)
def scrapy_defaults() -> dict[str, Any]:
    """Scrapy's settings and their defaults: :func:`~scrapy.settings.iter_default_settings`
    plus the deprecated ones its defaults module still answers for through a
    module ``__getattr__`` (``CONCURRENT_REQUESTS_PER_IP``, which Scrapy's
    downloader and priority queues read), which ``dir()`` does not list."""
    defaults = dict(iter_default_settings())
    source = Path(scrapy_default_settings.__file__ or "").read_text(encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecation warning of the lookup
        for name in set(_NAME_LITERAL.findall(source)) - defaults.keys():
            try:
                defaults[name] = getattr(scrapy_default_settings, name)
            except AttributeError:
                continue  # a literal that is not a setting of the module
    return defaults


@lru_cache(maxsize=1)
def _rules() -> dict[str, _Rule]:
    rules: dict[str, _Rule] = {}
    for name, default in scrapy_defaults().items():
        hint = SCRAPY_TYPES.get(name, _scrapy_hint(default))
        if hint is not None:
            # Scrapy's settings may be None where their readers allow it.
            rules[name] = _Rule(hint, empty=(None,))
    for name, hint in _framework_hints().items():
        optional = _is_union(hint) and type(None) in get_args(hint)
        rules[name] = _Rule(hint, empty=(None, "") if optional else ())
    return rules


@lru_cache(maxsize=1)
def _framework_hints() -> dict[str, Any]:
    hints = get_type_hints(default_settings, globalns=dict(_ANNOTATION_NAMES), include_extras=True)
    return {name: hint for name, hint in hints.items() if name.isupper()}


def setting_type(name: str) -> Any:
    """The type of a framework setting, as annotated in :mod:`crawler.default_settings`."""
    return _framework_hints()[name]


def setting_choices(name: str) -> tuple[str, ...]:
    """The values a ``Literal[...]`` setting takes: ``("never", "auto", "always")``."""
    hint = setting_type(name)
    if get_origin(hint) is not Literal:
        raise TypeError(f"{name} is not a Literal[...] setting")
    return tuple(get_args(hint))


def _is_union(hint: Any) -> bool:
    return get_origin(hint) in (Union, types.UnionType)


def describe(hint: Any) -> str:
    """What a type takes, in words: ``a whole number >= 1``."""
    origin = get_origin(hint)
    if origin is Annotated:
        base, *metadata = get_args(hint)
        found = [m for m in metadata if isinstance(m, BOUNDS)]
        lows = [m for m in found if isinstance(m, Ge)]
        highs = [m for m in found if isinstance(m, Le)]
        if len(found) == 2 and lows and highs:  # "between 0 and 1", not ">= 0 <= 1"
            low, high = _number(lows[0].bound), _number(highs[0].bound)
            return f"{describe(base)} between {low} and {high}"
        bounds = " ".join(str(m) for m in found)
        return f"{describe(base)} {bounds}".rstrip()
    if _is_union(hint):
        parts = [describe(arg) for arg in get_args(hint) if arg is not type(None)]
        text = " or ".join(parts)
        return f"{text} (or empty)" if type(None) in get_args(hint) else text
    if origin is Literal:
        return "one of " + ", ".join(str(v) for v in get_args(hint))
    if origin is list:
        (element,) = get_args(hint) or (Any,)
        if element in (int, float):
            return f"a list of {describe(element)[2:]}s (or comma-separated text)"
        return "a list (or comma-separated text)"
    if origin is dict or hint is dict:
        return "a dict (or its JSON)"
    return {
        bool: "True or False",
        int: "a whole number",
        float: "a number",
        str: "text",
        Regex: "a regular expression",
        LogLevel: f"one of {', '.join(LOG_LEVEL_NAMES)} (a number only as an int, "
        "in a settings file)",
    }.get(hint, "anything")


def _valid(settings: BaseSettings, name: str, hint: Any) -> bool:
    """Whether Scrapy's getter for ``hint`` takes the value of ``name``."""
    origin = get_origin(hint)
    try:
        if origin is Annotated:
            base, *metadata = get_args(hint)
            if not _valid(settings, name, base):
                return False
            number = settings.getfloat(name)
            return all(m.holds(number) for m in metadata if isinstance(m, BOUNDS))
        if _is_union(hint):
            return any(_valid(settings, name, arg) for arg in get_args(hint))
        if origin is Literal:
            return settings.get(name) in get_args(hint)
        if origin is list:
            (element,) = get_args(hint) or (Any,)
            return all(_element_valid(v, element) for v in settings.getlist(name))
        if origin is dict or hint is dict:
            settings.getdict(name)
            return True
        if hint is bool:
            settings.getbool(name)
        elif hint is int:
            settings.getint(name)
        elif hint is float:
            return math.isfinite(settings.getfloat(name))  # inf would stall a delay for ever
        elif hint is Regex:
            return _regex_error(settings.get(name)) is None
        elif hint is LogLevel:
            value = settings.get(name)
            if isinstance(value, str):
                return value in logging.getLevelNamesMapping()
            return isinstance(value, int) and not isinstance(value, bool)
        elif hint is str:
            return isinstance(settings.get(name), str)
        elif hint is type(None):
            return settings.get(name) in (None, "")
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def _regex_error(value: Any) -> str | None:
    """Why ``value`` is not a regular expression; None when it is one."""
    if isinstance(value, re.Pattern):
        return None
    if not isinstance(value, str):
        return "not text"
    try:
        re.compile(value)
    except re.error as e:
        return str(e)
    return None


def _why(value: Any, hint: Any) -> str:
    """More about why ``value`` fails ``hint``, where there is more to say."""
    hints = get_args(hint) if _is_union(hint) else (hint,)
    if Regex in hints and isinstance(value, str):
        reason = _regex_error(value)
        if reason is not None:
            return f" ({reason})"
    return ""


def _element_valid(value: Any, hint: Any) -> bool:
    if hint in (int, float):
        try:
            return math.isfinite(hint(value))
        except (TypeError, ValueError, OverflowError):
            return False
    if hint is str:
        return isinstance(value, str)
    if _is_union(hint):
        return any(_element_valid(value, arg) for arg in get_args(hint))
    if get_origin(hint) is dict:
        return isinstance(value, dict)
    return True


def check_types(
    settings: BaseSettings,
    prefix: str | tuple[str, ...] = "",
    *,
    error: type[ConfigError] = ConfigError,
) -> None:
    """Raise ``error`` (a :class:`~crawler.exceptions.ConfigError`) for the first
    setting whose value its type does not take.

    ``prefix`` limits the check to the settings whose names start with it (a
    component's ``from_settings`` checks its own).  Settings without a known
    type are not checked.
    """
    rules = _rules()
    for name in sorted(settings):
        rule = rules.get(name)
        if rule is None or not name.startswith(prefix):
            continue
        value = settings.get(name)
        if any(value is empty or value == empty for empty in rule.empty):
            continue
        if not _valid(settings, name, rule.hint):
            raise error(
                f"{name} must be {describe(rule.hint)}, not {value!r}{_why(value, rule.hint)}"
            )


def check_argument(argument: str, setting: str, value: Any) -> None:
    """Raise :class:`~crawler.exceptions.ConfigError` naming the spider argument
    ``argument`` when ``value`` is not what ``setting`` (the setting it stands
    for) takes: ``max_depth must be a whole number >= 0, not 'deep'``.  ``None``
    and ``""`` (not given) pass."""
    if value is None or value == "":
        return  # not given
    rule = _rules()[setting]
    if not _valid(BaseSettings({setting: value}), setting, rule.hint):
        raise ConfigError(
            f"{argument} must be {describe(rule.hint)}, not {value!r}{_why(value, rule.hint)}"
        )


def check_settings(
    settings: BaseSettings,
    *,
    spidercls: type[Spider] | None = None,
    spider_arguments: Mapping[str, Any] | None = None,
    crawler: Crawler | None = None,
) -> None:
    """The whole check (see the module docstring): raise a
    :class:`~crawler.exceptions.ConfigError` (or, from a spider, a ``UsageError``)
    for the first value that cannot be right.

    With ``spidercls``, the spider's ``custom_settings`` are applied first, as
    the crawl will; with ``spider_arguments`` too, the spider is built with
    them and its ``apply_arguments(settings)`` (when it has one) applied, and
    an argument its ``__init__`` does not take is warned about
    (:func:`unknown_arguments`).  All of that happens on a copy: ``settings``
    is left as it was.  ``crawler`` (the extension's): a crawler whose
    settings these are, its spider already built; feed storages are built
    with it, feed URI parameters checked against its spider.
    """
    spider: Spider | None = None
    if crawler is not None:
        spider = crawler.spider
        spidercls = spidercls or crawler.spidercls
    elif spidercls is not None:
        settings = settings.copy()
        spidercls.update_settings(settings)
        if spider_arguments is not None:
            spider = _apply_spider_arguments(spidercls, settings, spider_arguments)
    check_types(settings)
    check_components(settings)
    check_scrapy_rules(settings)
    _run_validators(settings)
    check_priority_queue(settings)
    if _given(settings, "FEEDS"):
        check_feeds(
            settings,
            spider_attributes=_spider_attributes(spidercls, spider, spider_arguments),
            crawler=crawler,
        )
    check_files(settings)
    if settings["JOBDIR"] and spider is not None:
        # another crawl's job directory, a finished one, one in use, another store's
        check_job_dir(
            str(settings["JOBDIR"]),
            spider.name,
            getattr(spider, "start_url", None),
            _shown_store(settings),
            job_arguments(settings, spider),
        )


def _shown_store(settings: BaseSettings) -> str | None:
    """The store a crawl with these settings writes runs to, as the journal keeps it."""
    if not settings.getbool("CRAWLER_STORE_ENABLED") or not settings.get("CRAWLER_STORE_URL"):
        return None
    from crawler.storage.sql import absolute_url, display_url

    return display_url(absolute_url(str(settings["CRAWLER_STORE_URL"])))


def _apply_spider_arguments(
    spidercls: type[Spider], settings: BaseSettings, arguments: Mapping[str, Any]
) -> Spider | None:
    """The spider built with ``arguments`` (None when it fails other than with a
    configuration error), its ``apply_arguments`` applied, unknown arguments warned about."""
    if "" in arguments:
        raise ConfigError(
            f"a spider argument has no name (-a ={arguments['']}): write -a NAME=VALUE"
        )
    try:
        spider = spidercls(**arguments)
    except (ConfigError, UsageError):
        raise
    except Exception:  # not ours to judge: the crawl builds it again and says
        spider = None
    for warning in unknown_arguments(spidercls, arguments, spider):
        logger.warning("%s", warning)
    if spider is None:
        return None
    apply_arguments = getattr(spider, "apply_arguments", None)
    if apply_arguments is not None:
        apply_arguments(settings)
    return spider


def unknown_arguments(
    spidercls: type[Spider], arguments: Mapping[str, Any], spider: Spider | None = None
) -> list[str]:
    """One warning line per argument (``-a NAME=VALUE``) the spider does not take:
    its ``__init__`` names its parameters and this is none of them, nor did the
    ``__init__`` take it out of ``**kwargs`` (``spider``, built with
    ``arguments``, holds it as the plain attribute Scrapy's ``Spider.__init__``
    makes of any other argument).  A spider that keeps ``Spider.__init__``
    declares no arguments and reads them as attributes: nothing to warn about.
    The closest parameter name is suggested."""
    init = spidercls.__init__
    if init is Spider.__init__:
        return []
    parameters = [
        p.name
        for p in inspect.signature(init).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in ("self", "name")
    ]
    attributes = vars(spider) if spider is not None else None
    missing = object()
    warnings_: list[str] = []
    for argument, value in arguments.items():
        if argument in parameters or argument == "name":
            continue
        if attributes is not None and attributes.get(argument, missing) is not value:
            continue  # taken out of **kwargs by the spider's __init__
        message = (
            f"Unknown spider argument {argument} (-a) for the {spidercls.name} spider: its "
            "__init__ does not take it, it only becomes an attribute"
        )
        close = difflib.get_close_matches(argument, parameters, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]}?"
        warnings_.append(message)
    return warnings_


def _spider_attributes(
    spidercls: type[Spider] | None, spider: Spider | None, arguments: Mapping[str, Any] | None
) -> set[str] | None:
    """The attributes the crawl's spider will have (what feed URI parameters may
    name), as far as they can be known; None: not known."""
    if spider is not None:
        names = set(dir(spider))
    elif spidercls is not None:
        names = set(dir(spidercls)) | set(arguments or ())
    else:
        return None
    return names | {"crawler", "settings"}  # set when the crawler builds it


def _run_validators(settings: BaseSettings) -> None:
    complete = settings.copy()
    for name, value in vars(default_settings).items():
        if name.isupper() and name not in complete:
            complete.set(name, value, priority="default")
    for path in VALIDATORS:
        validator: Callable[[BaseSettings], object] = pkgutil.resolve_name(path)
        validator(complete)


def set_settings(
    settings: BaseSettings, values: Mapping[str, Any], priority: int | str = "cmdline"
) -> None:
    """``settings.set`` every value; one Scrapy refuses at once (text that is not
    JSON for a dict setting such as ``FEEDS``) is a :class:`ConfigError` naming it."""
    for name, value in values.items():
        try:
            settings.set(name, value, priority=priority)
        except (TypeError, ValueError):  # json.JSONDecodeError; a list for a dict
            rule = _rules().get(name)
            allowed = describe(rule.hint) if rule is not None else "a dict (or its JSON)"
            raise ConfigError(f"{name} must be {allowed}, not {value!r}") from None


# -- rules of Scrapy's own components that a type cannot say ---------------------

# scrapy.core.downloader.tls: the DOWNLOADER_CLIENT_TLS_METHOD names Scrapy maps.
TLS_METHODS = ("TLS", "TLSv1.0", "TLSv1.1", "TLSv1.2")


def check_scrapy_rules(settings: BaseSettings) -> None:
    """Raise :class:`~crawler.exceptions.ConfigError` for Scrapy settings that
    Scrapy itself would refuse only when the crawl starts (with a traceback) or
    silently turn into failed downloads:

    * ``HTTPAUTH_USER``/``HTTPAUTH_PASS`` without ``HTTPAUTH_DOMAIN``
      (``HttpAuthMiddleware.from_crawler`` raises ``ValueError``);
    * a ``DOWNLOADER_CLIENT_TLS_METHOD`` Scrapy has no method for (every HTTPS
      download would fail with ``KeyError``);
    * a ``DOWNLOADER_CLIENTCONTEXTFACTORY`` that does not import.
    """
    credentials = settings.get("HTTPAUTH_USER") or settings.get("HTTPAUTH_PASS")
    domain_given = (settings.getpriority("HTTPAUTH_DOMAIN") or 0) > SETTINGS_PRIORITIES["default"]
    if credentials and not domain_given:
        raise ConfigError(
            "HTTPAUTH_USER/HTTPAUTH_PASS need HTTPAUTH_DOMAIN: the host the credentials "
            "are sent to (e.g. example.org), or None to send them to every host"
        )
    method = settings.get("DOWNLOADER_CLIENT_TLS_METHOD")
    if method not in TLS_METHODS:
        raise ConfigError(
            f"DOWNLOADER_CLIENT_TLS_METHOD must be one of {', '.join(TLS_METHODS)}, "
            f"not {method!r} (DOWNLOAD_TLS_MIN_VERSION/MAX_VERSION are the current way)"
        )
    factory = settings.get("DOWNLOADER_CLIENTCONTEXTFACTORY")
    if factory not in (None, "", "SENTINEL"):
        _load_class("DOWNLOADER_CLIENTCONTEXTFACTORY", factory)


# -- components named by import path --------------------------------------------


def check_components(settings: BaseSettings) -> None:
    """Raise :class:`~crawler.exceptions.ConfigError` for the first component
    setting given on the command line or by the spider whose orders are not
    numbers, whose import paths do not import or do not name a class of the
    right kind, or (``FEEDS``) whose feeds no exporter or storage takes."""
    for name in COMPONENT_DICTS:
        if _given(settings, name):
            for path, order in _entries(settings, name):
                if order is not None and not isinstance(order, numbers.Real):  # Scrapy's rule
                    raise ConfigError(
                        f"{name}: the order of {_shown(path)} must be a number (or None to "
                        f"turn it off), not {order!r}"
                    )
                if order is not None:
                    _load_class(name, path)
    for name in CLASS_DICTS:
        if _given(settings, name):
            for key, path in _entries(settings, name):
                if path is not None:
                    _load_class(f"{name}[{key!r}]", path)
    for name, base in CLASS_SETTINGS.items():
        if not _given(settings, name):
            continue
        value = settings[name]  # not .get(): no deprecation warning for DNS_RESOLVER
        if value in (None, ""):
            continue
        if name == "REFERRER_POLICY" and isinstance(value, str) and "." not in value:
            continue  # a policy's name; Scrapy's referer middleware knows them
        cls = _load_class(name, value)
        if base is not None and not issubclass(cls, load_object(base)):
            raise ConfigError(f"{name}: {_shown(value)} is not a subclass of {base}")
        if name == "TWISTED_REACTOR" and isinstance(value, str) and value != _ASYNCIO_REACTOR:
            installer = f"{value.rpartition('.')[0]}.install"
            if not callable(_loaded_or_none(installer)):
                raise ConfigError(
                    f"TWISTED_REACTOR: {value} is not a reactor Scrapy can install "
                    f"(no function {installer})"
                )


def check_priority_queue(settings: BaseSettings) -> None:
    """Raise :class:`~crawler.exceptions.ConfigError` when ``CONCURRENT_REQUESTS_PER_IP``
    is on with a priority queue that refuses it (Scrapy's default,
    ``DownloaderAwarePriorityQueue``, raises ``ValueError`` when the crawl starts)."""
    value = settings["CONCURRENT_REQUESTS_PER_IP"]  # not .get(): no deprecation warning
    try:
        per_ip = int(value or 0)
    except (TypeError, ValueError):
        return  # the type check says what is wrong with it
    if per_ip == 0:
        return
    queue = settings["SCHEDULER_PRIORITY_QUEUE"]
    cls = _loaded_or_none(queue) if isinstance(queue, str) else queue
    aware = load_object("scrapy.pqueues.DownloaderAwarePriorityQueue")
    if isinstance(cls, type) and issubclass(cls, aware):
        raise ConfigError(
            f"CONCURRENT_REQUESTS_PER_IP={value} does not work with "
            f"SCHEDULER_PRIORITY_QUEUE={_shown(queue)}, which does not support it: set "
            "SCHEDULER_PRIORITY_QUEUE=scrapy.pqueues.ScrapyPriorityQueue, or "
            "CONCURRENT_REQUESTS_PER_IP=0 (CONCURRENT_REQUESTS_PER_DOMAIN limits each site)"
        )


def _given(settings: BaseSettings, name: str) -> bool:
    return (settings.getpriority(name) or 0) >= _GIVEN


def _entries(settings: BaseSettings, name: str) -> Iterator[tuple[Any, Any]]:
    value = settings.get(name)
    if isinstance(value, BaseSettings):
        value = dict(value)
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a dict (or its JSON), not {value!r}")
    yield from value.items()


def _shown(path: Any) -> str:
    if isinstance(path, type):
        return f"{path.__module__}.{path.__qualname__}"
    return path if isinstance(path, str) else repr(path)


def _load_class(where: str, path: Any) -> type:
    """The class at ``path`` (or ``path`` itself if it is one), else a one-line
    :class:`ConfigError` that starts with ``where`` (the setting, or its entry)."""
    if isinstance(path, str) and not re.fullmatch(r"[\w.]+\.\w+", path):
        raise ConfigError(f"{where}: {path!r} is not an import path (package.module.ClassName)")
    if not isinstance(path, (str, type)):
        raise ConfigError(f"{where}: {path!r} is neither a class nor an import path")
    try:
        obj = load_object(path)
    except NameError as e:  # the module has no such name
        raise ConfigError(f"{where}: cannot import {path}: {e}") from None
    except Exception as e:  # ImportError, or whatever the module raises
        raise ConfigError(f"{where}: cannot import {path}: {_one_line(e)}") from None
    if not isinstance(obj, type):
        raise ConfigError(f"{where}: {path} is {_kind(obj)}, not a class")
    return obj


def _loaded_or_none(path: str) -> Any:
    try:
        return load_object(path)
    except Exception:
        return None


def _kind(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        return "a module"
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return "a function"
    return f"an instance of {type(obj).__name__}"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if isinstance(error, ImportError) else f"{type(error).__name__}: {text}"


#: The parameters Scrapy itself fills in a feed URI (besides the spider's attributes).
FEED_URI_PARAMETERS = ("time", "batch_time", "batch_id")


def check_feeds(
    settings: BaseSettings,
    *,
    spider_attributes: set[str] | None = None,
    crawler: Crawler | None = None,
) -> None:
    """Raise :class:`~crawler.exceptions.ConfigError` for the first feed of ``FEEDS``
    Scrapy's feed exporter would refuse or break on, where it would log an
    error (or a traceback) and write nothing while the crawl ends as if all went
    well: no exporter for its format; a storage scheme no ``FEED_STORAGES``
    entry takes, or whose storage cannot be built (``NotConfigured``: ``s3:``
    without boto3; built as the exporter builds it, with ``crawler`` or a
    crawler of these settings that is never started; no server is contacted);
    an encoding Python does not know; a ``%(name)s`` parameter of the URI that
    is neither Scrapy's (:data:`FEED_URI_PARAMETERS`) nor in
    ``spider_attributes`` (not checked when that is None or ``FEED_URI_PARAMS``
    adds parameters); ``batch_item_count`` without ``%(batch_id)d`` or
    ``%(batch_time)s`` in the URI; item classes, filters and postprocessing
    plugins that do not import.  URIs are shown with any password masked.
    """
    exporters = _names(settings, "FEED_EXPORTERS")
    storages = {
        key: path for key, path in settings.getwithbase("FEED_STORAGES").items() if path is not None
    }
    for key, options in settings.getdict("FEEDS").items():
        uri = str(key.absolute()) if isinstance(key, Path) else str(key)  # as Scrapy does
        where = f"FEEDS[{redact_url(uri)!r}]"
        if not isinstance(options, dict):
            raise ConfigError(f"{where} must be a dict of feed options, not {options!r}")
        fmt = options.get("format") or Path(uri).suffix.removeprefix(".")
        if fmt not in exporters:
            problem = f"no exporter for the format {fmt!r}" if fmt else "no format"
            raise ConfigError(
                f"{where}: {problem}: set 'format' to one of "
                f"{', '.join(sorted(exporters))} (FEED_EXPORTERS)"
            )
        scheme = urlparse(uri).scheme
        if scheme not in storages and not PureWindowsPath(uri).drive:
            raise ConfigError(
                f"{where}: no storage for {scheme + ':'!r} URIs: use a path or one of "
                f"{', '.join(s + ':' for s in sorted(storages) if s)} (FEED_STORAGES)"
            )
        for i, path in enumerate(options.get("item_classes") or ()):
            _load_class(f"{where}['item_classes'][{i}]", path)
        if options.get("item_filter"):
            _load_class(f"{where}['item_filter']", options["item_filter"])
        for i, path in enumerate(options.get("postprocessing") or ()):
            _load_class(f"{where}['postprocessing'][{i}]", path)
        complete = feed_complete_default_values_from_settings(options, settings, uri)
        encoding_name = f"{where}['encoding']" if "encoding" in options else "FEED_EXPORT_ENCODING"
        _check_encoding(encoding_name, complete["encoding"])
        _check_uri_parameters(where, uri, complete, spider_attributes)
        storage = _load_class(
            f"FEED_STORAGES[{scheme or 'file'!r}]", storages.get(scheme, storages.get("file"))
        )
        _check_storage(where, uri, storage, complete, crawler or _unstarted_crawler(settings))


def _check_encoding(name: str, encoding: Any) -> None:
    if encoding is None:
        return  # the exporter's own default
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ConfigError(
            f"{name}: unknown encoding {encoding!r}: use one Python knows, such as utf-8 or latin-1"
        ) from None


def _check_uri_parameters(
    where: str, uri: str, options: dict[str, Any], spider_attributes: set[str] | None
) -> None:
    used: list[str] = []

    class Recorder(dict[str, Any]):
        def __missing__(self, name: str) -> int:
            used.append(name)
            return 0  # formats as %s, %d and the like

    try:  # Scrapy's own substitution, so the same placeholders are found
        apply_uri_params(uri, Recorder())
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: the URI's %(name)s parameters are malformed: {e}") from None
    batches = options.get("batch_item_count")
    if batches and not {"batch_id", "batch_time"} & set(used):
        raise ConfigError(
            f"{where}: a batch_item_count (FEED_EXPORT_BATCH_ITEM_COUNT) needs %(batch_id)d "
            "or %(batch_time)s in the URI, to name each batch's file"
        )
    if spider_attributes is None or options.get("uri_params"):
        return  # unknown, or FEED_URI_PARAMS may add any parameter
    for name in used:
        if name not in FEED_URI_PARAMETERS and name not in spider_attributes:
            raise ConfigError(
                f"{where}: unknown parameter %({name})s in the URI: use "
                f"{', '.join(FEED_URI_PARAMETERS)} or an attribute of the spider "
                "(name, or a spider argument)"
            )


def _unstarted_crawler(settings: BaseSettings) -> Crawler:
    """A crawler of ``settings`` that is never started: what Scrapy builds feed
    storages with (their ``from_crawler`` reads its settings)."""
    return Crawler(Spider, settings)


def _check_storage(
    where: str, uri: str, storage: type, options: dict[str, Any], crawler: Crawler
) -> None:
    """Build the feed's storage as Scrapy's ``FeedExporter._storage_supported``
    does; a storage that refuses (``NotConfigured``) or fails is one line."""
    try:
        build_from_crawler(storage, crawler, uri, feed_options=options)
    except NotConfigured as e:
        reason = str(e) or f"{_shown(storage)} is not configured"
        missing = re.search(r"missing (\S+) library", reason)
        fix = f"; install {missing.group(1)}" if missing else ""
        raise ConfigError(f"{where}: the feed cannot be stored there: {reason}{fix}") from None
    except Exception as e:  # the crawl would fail on it the same way
        raise ConfigError(
            f"{where}: the feed cannot be stored there: "
            f"{redact_text(_one_line(e).replace(uri, redact_url(uri)))}"
        ) from None


# -- files the crawl writes ---------------------------------------------------------


def check_files(settings: BaseSettings) -> None:
    """Raise :class:`~crawler.exceptions.ConfigError` when the crawl could not
    write a file its settings name: ``LOG_FILE`` (the rules of ``-o`` files,
    :func:`crawler.utils.files.check_output_file`: a missing directory, a
    directory, no permission; and ``LOG_ENCODING``, which opens it) and
    ``JOBDIR`` (a directory that cannot be created or written).  Nothing is
    left behind: a probe file or directory made here is removed again."""
    log_file = settings["LOG_FILE"]
    if log_file:
        try:
            check_output_file(str(log_file))
        except UsageError as e:
            raise ConfigError(f"LOG_FILE: {e}") from None
        _check_encoding("LOG_ENCODING", settings["LOG_ENCODING"])
    jobdir = settings["JOBDIR"]
    if jobdir:
        _check_jobdir(str(jobdir))


def _check_jobdir(jobdir: str) -> None:
    path = Path(jobdir)
    missing = [p for p in (path, *path.parents) if not os.path.lexists(p)]
    created: list[Path] = []
    try:
        for directory in reversed(missing):  # Scrapy makes it with its parents
            directory.mkdir()
            created.append(directory)
        if not path.is_dir():
            raise ConfigError(f"JOBDIR: {jobdir} is not a directory: give a directory")
        with tempfile.TemporaryFile(dir=path):  # Scrapy writes its state files in it
            pass
    except OSError as e:
        raise ConfigError(
            f"JOBDIR: cannot create or write the job directory {jobdir}: "
            f"{e.strerror or e}: give a directory you may write"
        ) from None
    finally:
        for directory in reversed(created):
            directory.rmdir()


def _names(settings: BaseSettings, name: str) -> set[str]:
    """The names of ``NAME_BASE`` and ``NAME`` that are not turned off (``None``)."""
    return {key for key, value in settings.getwithbase(name).items() if value is not None}


# -- unknown names -------------------------------------------------------------


def _module_names(module_name: str) -> set[str]:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return set()
    return {name for name in vars(module) if name.isupper()}


def known_settings(settings: BaseSettings) -> set[str]:
    """Every setting name Scrapy, the framework, the project's settings module
    (``SCRAPY_SETTINGS_MODULE``) or an enabled component knows.

    A component knows the ``UPPER_CASE`` string literals in the source of its
    package (``REDIS_URL`` once a scrapy-redis scheduler is enabled), read, not
    imported; Scrapy's own components are known through its defaults.
    """
    known = set(scrapy_defaults())
    known |= {name for name in vars(default_settings) if name.isupper()}
    module = os.environ.get("SCRAPY_SETTINGS_MODULE")
    if module:
        known |= _module_names(module)
    for path in _component_paths(settings):
        known |= _source_names(path)
    return known


def _component_paths(settings: BaseSettings) -> set[str]:
    """The modules of the enabled components (an order that is not ``None``,
    whatever it is: the check of the values says what is wrong with it)."""
    paths: set[str] = set()
    components: list[Any] = []
    for name in (*COMPONENT_DICTS, *(f"{n}_BASE" for n in COMPONENT_DICTS)):
        value = settings.get(name)
        if isinstance(value, BaseSettings):
            value = dict(value)
        if isinstance(value, dict):
            components += [path for path, order in value.items() if order is not None]
    components += [settings.get(name) for name in settings if _CLASS_SETTING.match(name)]
    for component in components:
        if isinstance(component, str):
            paths.add(component.rpartition(".")[0] or component)
        elif isinstance(component, type):
            paths.add(component.__module__)
    return {p for p in paths if p and p.partition(".")[0] != "scrapy"}


def _source_names(module_name: str) -> set[str]:
    """The setting-like literals of ``module_name``'s whole top-level package."""
    package = module_name.partition(".")[0]
    names = _package_names(package)
    if names is None:  # too big to read all of it
        names = _files_names(_module_files(module_name))
    return names


@lru_cache(maxsize=64)
def _package_names(package: str) -> frozenset[str] | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return frozenset()
    if spec is None:
        return frozenset()
    if not spec.submodule_search_locations:
        return _files_names((Path(spec.origin),) if spec.origin else ())
    files: list[Path] = []
    for location in spec.submodule_search_locations:
        files += Path(location).rglob("*.py")
        if len(files) > _MAX_SCANNED_FILES:
            return None
    return _files_names(tuple(files))


def _module_files(module_name: str) -> tuple[Path, ...]:
    while module_name:
        try:
            spec = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            return (Path(spec.origin),)
        module_name = module_name.rpartition(".")[0]  # a class path: drop the class
    return ()


@lru_cache(maxsize=64)
def _files_names(files: tuple[Path, ...]) -> frozenset[str]:
    names: set[str] = set()
    for path in files:
        try:
            names.update(_NAME_LITERAL.findall(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue
    return frozenset(names)


def unknown_settings(settings: BaseSettings) -> list[str]:
    """One warning line per setting given on the command line or by a spider that
    nothing knows, with the closest known name when there is one."""
    given = {
        name: where
        for name in settings
        if (where := _PRIORITY_NAMES.get(settings.getpriority(name) or 0)) is not None
    }
    if not given:
        return []
    known = known_settings(settings)
    warnings = []
    for name, where in sorted(given.items()):
        if name in known:
            continue
        message = (
            f"Unknown setting {name} (set {where}): neither Scrapy, this project nor an "
            "enabled component reads it"
        )
        close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.7)
        if close:
            message += f"; did you mean {close[0]}?"
        warnings.append(message)
    return warnings


class SettingsCheck:
    """Extension, first in ``EXTENSIONS``: every crawl's settings checked
    (:func:`check_settings`, a :class:`~crawler.exceptions.ConfigError` stops the
    crawl before it starts) and unknown names warned about
    (:func:`unknown_settings`).  It sees the spider's settings too: extensions
    are built after the spider."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        check_settings(crawler.settings, crawler=crawler)
        for warning in unknown_settings(crawler.settings):
            logger.warning("%s", warning, extra={"crawler": crawler})
        return cls()
