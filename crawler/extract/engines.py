"""Engines by name, for settings and the command line."""

from __future__ import annotations

from crawler.extract.engine import Engine
from crawler.extract.lxml_engine import LxmlEngine

ENGINE_NAMES = ("lxml", "bs4", "bs4-html.parser")


def get_engine(name: str = "lxml") -> Engine:
    """``lxml`` (default), ``bs4`` (BeautifulSoup on lxml) or ``bs4-html.parser``."""
    if name == "lxml":
        return LxmlEngine()
    # BeautifulSoup and soupsieve cost ~65 ms to import: only crawls that use them pay it.
    from crawler.extract.bs4_engine import Bs4Engine

    if name in ("bs4", "bs4-lxml"):
        return Bs4Engine("lxml")
    if name == "bs4-html.parser":
        return Bs4Engine("html.parser")
    raise ValueError(f"unknown extraction engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")
