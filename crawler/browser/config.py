"""All ``SELENIUM_*`` settings, parsed and validated once, and the browser found when needed."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crawler.exceptions import BrowserConfigError, BrowserNotFoundError
from crawler.redaction import redact_text, redact_url
from crawler.settingscheck import check_types

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

# Resource types block_resources understands, as URL patterns for Chromium's
# Network.setBlockedURLs ("*.png" and "*.png?*" so query strings match too).
RESOURCE_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "font": ("woff", "woff2", "ttf", "otf", "eot"),
    "image": ("png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp"),
    "media": ("mp4", "webm", "ogg", "ogv", "mp3", "wav", "m4a", "aac", "flac", "mov"),
    "stylesheet": ("css",),
}

_EXECUTABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # browser: (browser executable names, driver executable names)
    "chromium": (("chromium", "chromium-browser", "google-chrome", "chrome"), ("chromedriver",)),
    "firefox": (("firefox", "firefox-esr"), ("geckodriver",)),
}


def blocked_url_patterns(block: tuple[str, ...] | list[str]) -> list[str]:
    """Turn resource types (``image``, ``font``, ...) and raw patterns into URL patterns."""
    patterns: list[str] = []
    for item in block:
        if item in RESOURCE_EXTENSIONS:
            for ext in RESOURCE_EXTENSIONS[item]:
                patterns += [f"*.{ext}", f"*.{ext}?*"]
        else:
            patterns.append(item)
    return patterns


def validate_block_resources(block: object, where: str, given: object = None) -> tuple[str, ...]:
    """``block`` (resource types and URL patterns) as a tuple, or a
    :class:`BrowserConfigError` naming ``where`` and quoting ``given`` (the value
    as the user wrote it, when ``block`` is a list made of it)."""
    shown = block if given is None else given
    if isinstance(block, str):
        block = [block]
    if not isinstance(block, (list, tuple)) or not all(isinstance(b, str) for b in block):
        raise BrowserConfigError(f"{where} must be a list of strings, got {shown!r}")
    for item in block:
        if item not in RESOURCE_EXTENSIONS and "*" not in item and "." not in item:
            known = ", ".join(sorted(RESOURCE_EXTENSIONS))
            in_value = f" in {shown!r}" if shown != [item] and shown != item else ""
            raise BrowserConfigError(
                f"{where}: unknown resource type {item!r}{in_value}; use one of {known} "
                "or a URL pattern such as '*.pdf' or '*://ads.example.com/*'"
            )
    return tuple(block)


_HOST_PATTERN = re.compile(r"(\*\.)?[A-Za-z0-9._:\[\]-]+")
_MAX_FRAGMENT = re.compile(r"max=([0-9]+)")


@dataclass(frozen=True)
class RemoteNode:
    """One remote WebDriver endpoint of ``SELENIUM_REMOTE_URL``: a ``chromedriver
    --port=P``, a Selenium server, or a Selenium Grid (whose own nodes are its
    business: to the pool a Grid is one node)."""

    url: str  # as given, without "#max=N"; may hold credentials: never log or count it
    label: str  # "host:port" (stats keys, log lines, errors): no credentials
    max_sessions: int  # sessions at once on this node; 0: only the pool's limit


def remote_nodes(value: object, max_sessions: int = 0) -> tuple[RemoteNode, ...]:
    """The nodes of a ``SELENIUM_REMOTE_URL`` value: ``None``/empty (no node), one
    URL, a list of URLs, or text with URLs separated by commas or whitespace.

    ``URL#max=N`` (N >= 1) caps that node's sessions; others get
    ``max_sessions`` (``SELENIUM_REMOTE_MAX_SESSIONS``; 0: no cap of their own).
    Raises :class:`BrowserConfigError` (credentials masked) for a URL that is not
    http(s), another fragment, or a URL listed twice.
    """
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise BrowserConfigError(
            f"SELENIUM_REMOTE_URL must be a URL, a list of URLs or text of URLs separated "
            f"by commas, not {redact_text(repr(value))}"
        )
    urls = [url for item in items for url in re.split(r"[\s,]+", item) if url]
    nodes: list[RemoteNode] = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BrowserConfigError(
                f"SELENIUM_REMOTE_URL must be an http(s) URL (or several), got {redact_url(url)!r}"
            )
        cap = max_sessions
        if parts.fragment:
            match = _MAX_FRAGMENT.fullmatch(parts.fragment)
            if match is None or int(match.group(1)) < 1:
                raise BrowserConfigError(
                    f"SELENIUM_REMOTE_URL: {redact_url(url)!r} ends with '#{parts.fragment}'; "
                    "the only fragment a node takes is '#max=N' (N >= 1 sessions at once)"
                )
            cap = int(match.group(1))
        bare = parts._replace(fragment="").geturl()
        if any(node.url == bare for node in nodes):
            raise BrowserConfigError(f"SELENIUM_REMOTE_URL lists {redact_url(bare)!r} twice")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        label = f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        if any(node.label == label for node in nodes):  # same server, another path
            label += "-" + str(sum(node.label.startswith(label) for node in nodes) + 1)
        nodes.append(RemoteNode(url=bare, label=label, max_sessions=cap))
    return tuple(nodes)


def _find(names: tuple[str, ...]) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass(frozen=True)
class BrowserConfig:
    """The ``SELENIUM_*`` settings, parsed (defaults: :mod:`crawler.default_settings`)."""

    enabled: bool
    browser: str
    browser_executable: str | None  # as set; None: found on PATH when a browser starts
    driver_executable: str | None
    remote_nodes: tuple[RemoteNode, ...]  # (): a local browser
    remote_cooldown: float  # seconds a failed node stays out before it is tried again
    remote_margin: float  # seconds a remote command may take beyond the page-load timeout
    pool_size: int
    concurrent_starts: int
    max_pages_per_session: int
    page_load_timeout: float
    wait_timeout: float
    settle: float
    settle_timeout: float
    timer_budget: float  # seconds of page time whose timers fire at once; 0: real time
    headless: bool
    arguments: tuple[str, ...]
    block_resources: tuple[str, ...]
    window_size: tuple[int, int]
    politeness: bool
    shutdown_timeout: float
    temp_dir: str | None
    user_agent: str | None
    allowed_hosts: tuple[str, ...]  # Chromium resolves only these; () resolves all

    @property
    def is_remote(self) -> bool:
        return bool(self.remote_nodes)

    @property
    def remote_url(self) -> str | None:
        """The first node's URL (a session started outside the pool uses it), or None."""
        return self.remote_nodes[0].url if self.remote_nodes else None

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> BrowserConfig:
        """Parse and check the settings; looks nothing up on the machine (executables
        are found when a browser starts: :meth:`local_executables`).

        Raises :class:`BrowserConfigError` for a value its setting does not take
        or settings that conflict.
        """
        check_types(settings, "SELENIUM_", error=BrowserConfigError)
        nodes = remote_nodes(
            settings.get("SELENIUM_REMOTE_URL") or None,
            settings.getint("SELENIUM_REMOTE_MAX_SESSIONS"),
        )
        browser_executable = settings.get("SELENIUM_BROWSER_EXECUTABLE_PATH") or None
        driver_executable = settings.get("SELENIUM_DRIVER_EXECUTABLE_PATH") or None
        if nodes and (browser_executable or driver_executable):
            raise BrowserConfigError(
                "SELENIUM_REMOTE_URL conflicts with SELENIUM_BROWSER_EXECUTABLE_PATH / "
                "SELENIUM_DRIVER_EXECUTABLE_PATH: a remote browser runs the remote "
                "machine's executables; unset one or the other"
            )
        # Unset: one launch per two CPUs (a Chromium launch keeps about two busy).
        concurrent_starts = (
            settings.getint("SELENIUM_CONCURRENT_STARTS")
            if settings.get("SELENIUM_CONCURRENT_STARTS") not in (None, "")
            else max(1, (os.cpu_count() or 2) // 2)
        )
        arguments = settings.get("SELENIUM_BROWSER_ARGUMENTS") or []
        if isinstance(arguments, str):
            arguments = arguments.split()
        headless = settings.getbool("SELENIUM_HEADLESS")
        if headless and any(str(a).startswith("--headless") for a in arguments):
            raise BrowserConfigError(
                "SELENIUM_BROWSER_ARGUMENTS contains --headless: use SELENIUM_HEADLESS instead"
            )
        allowed_hosts = [h.strip() for h in settings.getlist("SELENIUM_ALLOWED_HOSTS") if h.strip()]
        if not all(_HOST_PATTERN.fullmatch(host) for host in allowed_hosts):
            raise BrowserConfigError(
                "SELENIUM_ALLOWED_HOSTS takes host names (or *.domain patterns), a list or "
                f"comma-separated, not {settings.get('SELENIUM_ALLOWED_HOSTS')!r}"
            )
        temp_dir = settings.get("SELENIUM_TEMP_DIR") or None
        return cls(
            enabled=settings.getbool("SELENIUM_ENABLED"),
            browser=settings.get("SELENIUM_BROWSER"),
            browser_executable=browser_executable,
            driver_executable=driver_executable,
            remote_nodes=nodes,
            remote_cooldown=settings.getfloat("SELENIUM_REMOTE_COOLDOWN"),
            remote_margin=settings.getfloat("SELENIUM_REMOTE_COMMAND_MARGIN"),
            pool_size=settings.getint("SELENIUM_POOL_SIZE"),
            concurrent_starts=concurrent_starts,
            max_pages_per_session=settings.getint("SELENIUM_MAX_PAGES_PER_SESSION"),
            page_load_timeout=settings.getfloat("SELENIUM_PAGE_LOAD_TIMEOUT"),
            wait_timeout=settings.getfloat("SELENIUM_WAIT_TIMEOUT"),
            settle=settings.getfloat("SELENIUM_SETTLE"),
            settle_timeout=settings.getfloat("SELENIUM_SETTLE_TIMEOUT"),
            timer_budget=settings.getfloat("SELENIUM_TIMER_BUDGET"),
            headless=headless,
            arguments=tuple(str(a) for a in arguments),
            block_resources=validate_block_resources(
                settings.getlist("SELENIUM_BLOCK_RESOURCES"),
                "SELENIUM_BLOCK_RESOURCES",
                given=settings.get("SELENIUM_BLOCK_RESOURCES"),
            ),
            window_size=cls._window_size(settings.get("SELENIUM_WINDOW_SIZE")),
            politeness=settings.getbool("SELENIUM_POLITENESS_ENABLED"),
            shutdown_timeout=settings.getfloat("SELENIUM_SHUTDOWN_TIMEOUT"),
            temp_dir=str(temp_dir) if temp_dir else None,
            user_agent=settings.get("USER_AGENT") or None,
            allowed_hosts=tuple(allowed_hosts),
        )

    def local_executables(self) -> tuple[str, str]:
        """``(browser, driver)`` paths for a local browser: the ones set, checked, or
        the first of the usual names on ``PATH``, looked up now.

        Raises :class:`BrowserNotFoundError` naming what to install or set.
        """
        browser_names, driver_names = _EXECUTABLES[self.browser]
        browser = self._executable(
            self.browser_executable, browser_names, "SELENIUM_BROWSER_EXECUTABLE_PATH"
        )
        driver = self._executable(
            self.driver_executable, driver_names, "SELENIUM_DRIVER_EXECUTABLE_PATH"
        )
        return browser, driver

    def _executable(self, value: str | None, names: tuple[str, ...], setting: str) -> str:
        if value:
            path = shutil.which(value)
            if path is None:
                raise BrowserNotFoundError(f"{setting}={value!r} is not an executable file")
            return path
        found = _find(names)
        if found is None:
            needed = names[0] if len(names) == 1 else f"one of {', '.join(names)}"
            raise BrowserNotFoundError(
                f"rendering with SELENIUM_BROWSER={self.browser!r} needs {needed} "
                f"on PATH: install it, set {setting}, set "
                "SELENIUM_REMOTE_URL, or do not render (--render never, SELENIUM_ENABLED=False)"
            )
        return found

    @staticmethod
    def _window_size(value: object) -> tuple[int, int]:
        parts = value.split(",") if isinstance(value, str) else value
        try:
            width, height = (int(p) for p in parts)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise BrowserConfigError(
                f"SELENIUM_WINDOW_SIZE must be 'width,height', got {value!r}"
            ) from None
        if width < 1 or height < 1:
            raise BrowserConfigError(f"SELENIUM_WINDOW_SIZE must be positive, got {value!r}")
        return width, height
