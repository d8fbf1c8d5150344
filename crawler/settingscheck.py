"""One check of every setting a crawl is given, before anything is crawled.

:func:`check_settings` refuses a value its setting cannot take with a
:class:`~crawler.exceptions.ConfigError` in one line: the setting, what it
takes, the value (``SELENIUM_POOL_SIZE must be a whole number >= 1, not
'abc'``).  Types come from:

* the framework's settings: the annotations of :mod:`crawler.default_settings`
  (``SELENIUM_POOL_SIZE: Annotated[int, Ge(1)] = 4``,
  ``CRAWLER_RENDER: Literal["never", "auto", "always"]``);
* Scrapy's settings: the type of their default in
  ``scrapy.settings.default_settings`` (``bool``, ``int``, ``float``, ``list``,
  ``dict``), converted with Scrapy's own getters, corrected and bounded by
  :data:`SCRAPY_TYPES` where Scrapy reads a setting otherwise (``DOWNLOAD_DELAY``
  defaults to ``0`` but is read as a float).

Values of other settings (strings, import paths) are the business of the
components that read them.

:func:`unknown_settings` finds names given on the command line or in a
spider's ``custom_settings`` that neither Scrapy, nor the framework, nor the
project's settings module, nor an enabled component knows, with the closest
known name; :class:`SettingsCheck` (an extension the add-on enables first in
``EXTENSIONS``) runs both for every crawl and logs one warning per unknown name.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import logging
import os
import re
import types
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
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

from scrapy.settings import SETTINGS_PRIORITIES, iter_default_settings
from scrapy.utils.conf import build_component_list

from crawler import default_settings
from crawler.exceptions import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ge:
    """``Annotated[int, Ge(1)]``: at least ``bound``."""

    bound: float

    def holds(self, value: float) -> bool:
        return value >= self.bound

    def __str__(self) -> str:
        return f">= {self.bound:g}"


@dataclass(frozen=True)
class Gt:
    """``Annotated[float, Gt(0)]``: more than ``bound``."""

    bound: float

    def holds(self, value: float) -> bool:
        return value > self.bound

    def __str__(self) -> str:
        return f"> {self.bound:g}"


#: Scrapy settings whose default's type is not how Scrapy reads them, or that
#: take only some values of their type.
SCRAPY_TYPES: dict[str, Any] = {
    "CLOSESPIDER_ERRORCOUNT": Annotated[int, Ge(0)],
    "CLOSESPIDER_ITEMCOUNT": Annotated[int, Ge(0)],
    "CLOSESPIDER_PAGECOUNT": Annotated[int, Ge(0)],
    "CLOSESPIDER_TIMEOUT": Annotated[float, Ge(0)],
    "CONCURRENT_ITEMS": Annotated[int, Ge(1)],
    "CONCURRENT_REQUESTS": Annotated[int, Ge(1)],
    "CONCURRENT_REQUESTS_PER_DOMAIN": Annotated[int, Ge(1)],
    "DEPTH_LIMIT": Annotated[int, Ge(0)],
    "DNS_TIMEOUT": Annotated[float, Gt(0)],  # 60, read with getfloat
    "DOWNLOAD_DELAY": Annotated[float, Ge(0)],  # 0, read with getfloat
    "DOWNLOAD_TIMEOUT": Annotated[float, Gt(0)],  # 180, read with getfloat
    "LOG_LEVEL": Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"] | int,  # logging's
    "REDIRECT_MAX_TIMES": Annotated[int, Ge(0)],
    "RETRY_TIMES": Annotated[int, Ge(0)],
    "TELNETCONSOLE_ENABLED": bool,  # 1, read with getbool
}

# How an annotation of crawler.default_settings is evaluated.
_ANNOTATION_NAMES = {
    "Annotated": Annotated,
    "Any": Any,
    "Literal": Literal,
    "Ge": Ge,
    "Gt": Gt,
}

_PRIORITY_NAMES = {
    SETTINGS_PRIORITIES["cmdline"]: "on the command line",
    SETTINGS_PRIORITIES["spider"]: "by the spider",
}
# Settings that name a component class, besides the component dictionaries.
_CLASS_SETTING = re.compile(r"^(SCHEDULER|DOWNLOADER|[A-Z_]+_CLASS)$")
_COMPONENT_DICTS = ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "EXTENSIONS", "ITEM_PIPELINES")
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
def _rules() -> dict[str, _Rule]:
    rules: dict[str, _Rule] = {}
    for name, default in iter_default_settings():
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
        bounds = " ".join(str(m) for m in metadata if isinstance(m, (Ge, Gt)))
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
            return all(m.holds(number) for m in metadata if isinstance(m, (Ge, Gt)))
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
            settings.getfloat(name)
        elif hint is str:
            return isinstance(settings.get(name), str)
        elif hint is type(None):
            return settings.get(name) in (None, "")
    except (TypeError, ValueError):
        return False
    return True


def _element_valid(value: Any, hint: Any) -> bool:
    if hint in (int, float):
        try:
            hint(value)
        except (TypeError, ValueError):
            return False
        return True
    if hint is str:
        return isinstance(value, str)
    if _is_union(hint):
        return any(_element_valid(value, arg) for arg in get_args(hint))
    if get_origin(hint) is dict:
        return isinstance(value, dict)
    return True


def check_settings(
    settings: BaseSettings,
    prefix: str | tuple[str, ...] = "",
    *,
    spidercls: type[Spider] | None = None,
    error: type[ConfigError] = ConfigError,
) -> None:
    """Raise ``error`` (a :class:`~crawler.exceptions.ConfigError`) for the first
    setting whose value its type does not take.

    ``prefix`` limits the check to the settings whose names start with it (a
    component checks its own).  With ``spidercls``, the spider's
    ``custom_settings`` are applied first, as the crawl will.  Settings without
    a known type are not checked.
    """
    if spidercls is not None:
        settings = settings.copy()
        spidercls.update_settings(settings)
    rules = _rules()
    for name in sorted(settings):
        rule = rules.get(name)
        if rule is None or not name.startswith(prefix):
            continue
        value = settings.get(name)
        if any(value is empty or value == empty for empty in rule.empty):
            continue
        if not _valid(settings, name, rule.hint):
            raise error(f"{name} must be {describe(rule.hint)}, not {value!r}")


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
    known = {name for name, _ in iter_default_settings()}
    known |= {name for name in vars(default_settings) if name.isupper()}
    module = os.environ.get("SCRAPY_SETTINGS_MODULE")
    if module:
        known |= _module_names(module)
    for path in _component_paths(settings):
        known |= _source_names(path)
    return known


def _component_paths(settings: BaseSettings) -> set[str]:
    paths: set[str] = set()
    components: list[Any] = []
    for name in _COMPONENT_DICTS:
        components += build_component_list(settings.getwithbase(name))
    components += build_component_list(settings.getdict("ADDONS"))
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
        check_settings(crawler.settings)
        for warning in unknown_settings(crawler.settings):
            logger.warning("%s", warning, extra={"crawler": crawler})
        return cls()
