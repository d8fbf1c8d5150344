"""The BeautifulSoup engine: bs4 on the ``lxml`` parser (default) or ``html.parser``.

CSS runs on the soup itself through soupsieve, the engine bs4's ``select``
uses, with the selector rewritten so it keeps parsel's scoping (see
:meth:`Selector.soupsieve_patterns`).

XPath is supported, because a spec should not have to know which engine will
run it: soupsieve has no XPath, so on the first XPath selector of a page the
soup is copied into an lxml tree of the same shape (a *mirror*), the XPath is
evaluated there, and the elements it selects are mapped back to their soup
tags, from which text and attributes are read as for CSS.  The results are
those of the soup's tree: with ``html.parser`` that is the tree bs4 built,
shaped by :mod:`crawler.extract.soup`.  The mirror costs a second pass over
the page, only on pages that use XPath.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import soupsieve
from bs4 import Comment, NavigableString, Tag
from bs4.element import PreformattedString
from lxml import etree

from crawler.extract.engine import Engine, ParsedPage
from crawler.extract.soup import parse_soup
from crawler.extract.text import (
    BLOCK_ELEMENTS,
    NON_TEXT_ELEMENTS,
    RAW_TEXT_ELEMENTS,
    VOID_ELEMENTS,
    attribute_value,
    escape_text,
    normalize_space,
    start_tag,
)

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

    from crawler.extract.selectors import Selector

PARSERS = ("lxml", "html.parser")
# Characters HTML text may hold but XML may not (XML 1.0, production [2] Char).
# The XPath copy holds each as a stand-in from the end of plane 16 (private use,
# valid XML), and strings that XPath returns get the original back, so XPath on
# the soup sees what CSS and the lxml engine see.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_STAND_IN = {c: 0x10FF00 + (c & 0xFF) for c in (*range(0x20), 0xFFFE, 0xFFFF)}
_TO_XML = str.maketrans({c: s for c, s in _STAND_IN.items() if c not in (0x09, 0x0A, 0x0D)})
_FROM_XML = str.maketrans({s: c for c, s in _STAND_IN.items() if c not in (0x09, 0x0A, 0x0D)})


def _to_xml(text: str) -> str:
    return text.translate(_TO_XML) if _XML_INVALID.search(text) else text


def _from_xml(text: str) -> str:
    return text.translate(_FROM_XML) if max(text, default="\0") >= "\U0010ff00" else text


_BAD_NAME_CHARS = re.compile(r"[^\w.-]")


def _is_text(node: Any) -> bool:
    return isinstance(node, NavigableString) and not isinstance(node, PreformattedString)


@dataclass(frozen=True)
class _CompiledCss:
    below: soupsieve.SoupSieve
    itself: soupsieve.SoupSieve | None
    pseudo: str | None
    attribute: str | None


@dataclass(frozen=True)
class _CompiledXPath:
    xpath: etree.XPath


_Compiled = _CompiledCss | _CompiledXPath


class _Mirror:
    """An lxml copy of a soup subtree, with the mapping both ways."""

    def __init__(self, root: Tag) -> None:
        self.element_of: dict[int, etree._Element] = {}
        self.tag_of: dict[etree._Element, Tag] = {}
        self.root = self._element(root, None)
        stack = [(root, self.root)]
        while stack:
            tag, element = stack.pop()
            last: etree._Element | None = None
            for child in tag.contents:
                if isinstance(child, Tag):
                    last = self._element(child, element)
                    stack.append((child, last))
                elif isinstance(child, Comment):
                    last = etree.Comment(_safe_comment(str(child)))
                    element.append(last)
                elif _is_text(child):
                    text = _to_xml(str(child))
                    if last is None:
                        element.text = (element.text or "") + text
                    else:
                        last.tail = (last.tail or "") + text

    def _element(self, tag: Tag, parent: etree._Element | None) -> etree._Element:
        name = _BAD_NAME_CHARS.sub("_", tag.name)
        if not name[:1].isalpha():
            name = "_" + name
        element = etree.Element(name) if parent is None else etree.SubElement(parent, name)
        for key, value in tag.attrs.items():
            try:
                element.set(key, _to_xml(attribute_value(key, value or "")))
            except ValueError:
                continue  # a name XML cannot hold (`"`, `1a`): invisible to XPath
        self.element_of[id(tag)] = element
        self.tag_of[element] = tag
        return element


def _safe_comment(text: str) -> str:
    text = _to_xml(text).replace("--", "- -")
    return text + " " if text.endswith("-") else text


class SoupPage(ParsedPage[Tag]):
    def __init__(self, url: str, text: str, soup: BeautifulSoup) -> None:
        root = soup.find("html", recursive=False)
        assert isinstance(root, Tag)  # parse_soup guarantees one <html>
        super().__init__(url, text, root)
        self.soup = soup

    @cached_property
    def mirror(self) -> _Mirror:
        return _Mirror(self.root)


class Bs4Engine(Engine[Tag, _Compiled]):
    def __init__(self, parser: str = "lxml") -> None:
        if parser not in PARSERS:
            raise ValueError(f"bs4 parser must be one of {', '.join(PARSERS)}, not {parser!r}")
        super().__init__()
        self.parser = parser
        self.name = "bs4" if parser == "lxml" else f"bs4-{parser}"

    def _make_page(self, url: str, text: str) -> SoupPage:
        return SoupPage(url, text, parse_soup(text, self.parser))

    def _compile_selector(self, selector: Selector) -> _Compiled:
        if selector.kind == "xpath":
            return _CompiledXPath(etree.XPath(selector.to_xpath()))
        below, itself = selector.soupsieve_patterns()
        return _CompiledCss(
            soupsieve.compile(below),
            soupsieve.compile(itself) if itself else None,
            selector.pseudo,
            selector.attribute,
        )

    def _select(self, compiled: _Compiled, context: Tag, page: ParsedPage[Tag]) -> list[Any]:
        if isinstance(compiled, _CompiledXPath):
            return self._select_xpath(compiled.xpath, context, page)
        tags = [context] if compiled.itself is not None and compiled.itself.match(context) else []
        tags.extend(compiled.below.select(context))
        if compiled.pseudo == "text":
            return [child for tag in tags for child in tag.contents if _is_text(child)]
        if compiled.pseudo == "attr":
            name = compiled.attribute or ""
            return [v for tag in tags if (v := self._attribute(tag, name)) is not None]
        return tags

    def _select_xpath(self, xpath: etree.XPath, context: Tag, page: ParsedPage[Tag]) -> list[Any]:
        assert isinstance(page, SoupPage)
        mirror = page.mirror
        result = xpath(mirror.element_of[id(context)])
        if not isinstance(result, list):
            return [result]
        out: list[Any] = []
        for node in result:
            if isinstance(node, etree._Element):
                tag = mirror.tag_of.get(node)
                out.append(tag if tag is not None else _from_xml(str(node.text or "")))
            elif isinstance(node, str):
                out.append(_from_xml(node))
            else:
                out.append(node)
        return out

    def _is_element(self, node: Any) -> bool:
        return isinstance(node, Tag)

    def _own_text(self, node: Tag) -> str:
        return normalize_space(" ".join(child for child in node.contents if _is_text(child)))

    def _all_text(self, node: Tag) -> str:
        parts: list[str] = []
        stack: list[Any] = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, Tag):
                name = item.name
                if name in NON_TEXT_ELEMENTS:
                    continue
                if name in BLOCK_ELEMENTS:
                    parts.append(" ")
                    stack.append(" ")
                stack.extend(reversed(item.contents))
            elif isinstance(item, str) and (_is_text(item) or type(item) is str):
                parts.append(item)
        return normalize_space("".join(parts))

    def _attribute(self, node: Tag, name: str) -> str | None:
        value = node.get(name)
        if value is None:
            return None
        return attribute_value(name, value if isinstance(value, str) else " ".join(value))

    def _inner_html(self, node: Tag) -> str:
        parts: list[str] = []
        raw = node.name in RAW_TEXT_ELEMENTS
        stack: list[Any] = [(child, raw) for child in reversed(node.contents)]
        while stack:
            item = stack.pop()
            if isinstance(item, str):  # a closing tag queued below
                parts.append(item)
                continue
            child, raw = item
            if isinstance(child, Tag):
                name = child.name
                attributes = [
                    (k, v if isinstance(v, str) else " ".join(v or ""))
                    for k, v in child.attrs.items()
                ]
                parts.append(start_tag(name, attributes))
                if name in VOID_ELEMENTS:
                    continue
                stack.append(f"</{name}>")
                child_raw = name in RAW_TEXT_ELEMENTS
                stack.extend((c, child_raw) for c in reversed(child.contents))
            elif isinstance(child, Comment):
                parts.append(f"<!--{child}-->")
            elif _is_text(child):
                parts.append(str(child) if raw else escape_text(child))
        return "".join(parts)
