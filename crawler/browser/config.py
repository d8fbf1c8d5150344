"""All ``SELENIUM_*`` settings, parsed and validated once."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crawler import default_settings
from crawler.exceptions import BrowserConfigError

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

BROWSERS = ("chromium", "firefox")

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


def validate_block_resources(block: object, where: str) -> tuple[str, ...]:
    if isinstance(block, str):
        block = [block]
    if not isinstance(block, (list, tuple)) or not all(isinstance(b, str) for b in block):
        raise BrowserConfigError(f"{where} must be a list of strings, got {block!r}")
    for item in block:
        if item not in RESOURCE_EXTENSIONS and "*" not in item and "." not in item:
            known = ", ".join(sorted(RESOURCE_EXTENSIONS))
            raise BrowserConfigError(
                f"{where}: unknown resource type {item!r}; use one of {known} "
                "or a URL pattern such as '*.pdf' or '*://ads.example.com/*'"
            )
    return tuple(block)


_HOST_PATTERN = re.compile(r"(\*\.)?[A-Za-z0-9._:\[\]-]+")


def _find(names: tuple[str, ...]) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass(frozen=True)
class BrowserConfig:
    enabled: bool = True
    browser: str = "chromium"
    browser_executable: str | None = None
    driver_executable: str | None = None
    remote_url: str | None = None
    pool_size: int = 4
    concurrent_starts: int = 1
    max_pages_per_session: int = 100
    page_load_timeout: float = 30.0
    wait_timeout: float = 10.0
    settle: float = 0.05
    settle_timeout: float = 3.0
    headless: bool = True
    arguments: tuple[str, ...] = ()
    block_resources: tuple[str, ...] = ()
    window_size: tuple[int, int] = (1366, 900)
    politeness: bool = True
    shutdown_timeout: float = 10.0
    temp_dir: str | None = None
    user_agent: str | None = None
    allowed_hosts: tuple[str, ...] = ()  # Chromium resolves only these; () resolves all

    @property
    def is_remote(self) -> bool:
        return self.remote_url is not None

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> BrowserConfig:
        def get(name: str) -> object:
            value = settings.get(name)
            return getattr(default_settings, name, None) if value is None else value

        def number(name: str, minimum: float) -> float:
            raw = get(name)
            try:
                value = float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise BrowserConfigError(f"{name} must be a number, got {raw!r}") from None
            if value < minimum:
                raise BrowserConfigError(f"{name} must be at least {minimum:g}, got {raw!r}")
            return value

        enabled = settings.getbool("SELENIUM_ENABLED", default_settings.SELENIUM_ENABLED)
        browser = str(get("SELENIUM_BROWSER")).lower()
        if browser not in BROWSERS:
            raise BrowserConfigError(
                f"SELENIUM_BROWSER must be one of {', '.join(BROWSERS)}, got {browser!r}"
            )
        remote_url = get("SELENIUM_REMOTE_URL") or None
        browser_executable = get("SELENIUM_BROWSER_EXECUTABLE_PATH") or None
        driver_executable = get("SELENIUM_DRIVER_EXECUTABLE_PATH") or None
        if remote_url is not None:
            remote_url = str(remote_url)
            if urlsplit(remote_url).scheme not in ("http", "https"):
                raise BrowserConfigError(
                    f"SELENIUM_REMOTE_URL must be an http(s) URL, got {remote_url!r}"
                )
            if browser_executable or driver_executable:
                raise BrowserConfigError(
                    "SELENIUM_REMOTE_URL conflicts with SELENIUM_BROWSER_EXECUTABLE_PATH / "
                    "SELENIUM_DRIVER_EXECUTABLE_PATH: a remote browser runs the remote "
                    "machine's executables; unset one or the other"
                )
        elif enabled:
            browser_names, driver_names = _EXECUTABLES[browser]
            browser_executable = cls._executable(
                browser_executable, browser_names, "SELENIUM_BROWSER_EXECUTABLE_PATH", browser
            )
            driver_executable = cls._executable(
                driver_executable, driver_names, "SELENIUM_DRIVER_EXECUTABLE_PATH", browser
            )

        pool_size = int(number("SELENIUM_POOL_SIZE", 1))
        # None: one launch per two CPUs (a Chromium launch keeps about two busy).
        concurrent_starts = (
            max(1, (os.cpu_count() or 2) // 2)
            if get("SELENIUM_CONCURRENT_STARTS") is None
            else int(number("SELENIUM_CONCURRENT_STARTS", 1))
        )
        max_pages = int(number("SELENIUM_MAX_PAGES_PER_SESSION", 0))
        arguments = get("SELENIUM_BROWSER_ARGUMENTS")
        if isinstance(arguments, str):
            arguments = arguments.split()
        if not isinstance(arguments, (list, tuple)):
            raise BrowserConfigError(
                f"SELENIUM_BROWSER_ARGUMENTS must be a list of strings, got {arguments!r}"
            )
        headless = settings.getbool("SELENIUM_HEADLESS", default_settings.SELENIUM_HEADLESS)
        if headless and any(a.startswith("--headless") for a in arguments):
            raise BrowserConfigError(
                "SELENIUM_BROWSER_ARGUMENTS contains --headless: use SELENIUM_HEADLESS instead"
            )
        allowed_hosts = get("SELENIUM_ALLOWED_HOSTS") or ()
        if isinstance(allowed_hosts, str):
            allowed_hosts = [h.strip() for h in allowed_hosts.split(",") if h.strip()]
        for host in allowed_hosts:
            if not isinstance(host, str) or not _HOST_PATTERN.fullmatch(host):
                raise BrowserConfigError(
                    f"SELENIUM_ALLOWED_HOSTS must hold host names (or *.domain patterns), "
                    f"got {host!r}"
                )
        return cls(
            enabled=enabled,
            browser=browser,
            browser_executable=browser_executable,
            driver_executable=driver_executable,
            remote_url=remote_url,
            pool_size=pool_size,
            concurrent_starts=concurrent_starts,
            max_pages_per_session=max_pages,
            page_load_timeout=number("SELENIUM_PAGE_LOAD_TIMEOUT", 0.1),
            wait_timeout=number("SELENIUM_WAIT_TIMEOUT", 0),
            settle=number("SELENIUM_SETTLE", 0),
            settle_timeout=number("SELENIUM_SETTLE_TIMEOUT", 0),
            headless=headless,
            arguments=tuple(str(a) for a in arguments),
            block_resources=validate_block_resources(
                get("SELENIUM_BLOCK_RESOURCES"), "SELENIUM_BLOCK_RESOURCES"
            ),
            window_size=cls._window_size(get("SELENIUM_WINDOW_SIZE")),
            politeness=settings.getbool(
                "SELENIUM_POLITENESS_ENABLED", default_settings.SELENIUM_POLITENESS_ENABLED
            ),
            shutdown_timeout=number("SELENIUM_SHUTDOWN_TIMEOUT", 0),
            temp_dir=str(get("SELENIUM_TEMP_DIR")) if get("SELENIUM_TEMP_DIR") else None,
            user_agent=settings.get("USER_AGENT") or None,
            allowed_hosts=tuple(allowed_hosts),
        )

    @staticmethod
    def _executable(value: object, names: tuple[str, ...], setting: str, browser: str) -> str:
        if value:
            path = shutil.which(str(value))
            if path is None:
                raise BrowserConfigError(f"{setting}={value!r} is not an executable file")
            return path
        found = _find(names)
        if found is None:
            raise BrowserConfigError(
                f"SELENIUM_BROWSER={browser!r} needs one of {', '.join(names)} on PATH; "
                f"install it, set {setting}, set SELENIUM_REMOTE_URL, "
                "or disable rendering with SELENIUM_ENABLED=False"
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
