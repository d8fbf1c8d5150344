"""The default engine: lxml, one parse per page, selectors compiled to XPath once per spec."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from lxml import etree

from crawler.extract.engine import Engine, ParsedPage
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
    from crawler.extract.selectors import Selector

_EMPTY_DOCUMENT = b"<html><body></body></html>"
_local = threading.local()  # lxml parsers must not be shared between threads


def _parser() -> etree.HTMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        # The text is already decoded: force UTF-8 so a <meta charset> in it
        # cannot make libxml2 decode it a second time.
        # huge_tree, as parsel sets it: without it libxml2 cuts documents nested
        # deeper than 256 elements, where bs4 keeps them.
        parser = _local.parser = etree.HTMLParser(
            encoding="utf-8", recover=True, no_network=True, remove_pis=True, huge_tree=True
        )
    return parser


def parse_html(text: str) -> etree._Element:
    """The root ``<html>`` element of ``text``, parsed as parsel does."""
    parser = _parser()
    data = text.encode("utf-8", "surrogatepass").strip()
    root = None
    if data:
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError:
            root = None
    return root if root is not None else etree.fromstring(_EMPTY_DOCUMENT, parser)


class LxmlEngine(Engine[etree._Element, etree.XPath]):
    name = "lxml"

    def _make_page(self, url: str, text: str) -> ParsedPage[etree._Element]:
        return ParsedPage(url, text, parse_html(text))

    def _compile_selector(self, selector: Selector) -> etree.XPath:
        return etree.XPath(selector.to_xpath())

    def _select(
        self, compiled: etree.XPath, context: etree._Element, page: ParsedPage[etree._Element]
    ) -> list[Any]:
        result = compiled(context)
        if not isinstance(result, list):
            return [result]
        if "" in result:  # maybe a valueless boolean attribute (see attribute_value)
            return [
                attribute_value(r.attrname, r) if getattr(r, "is_attribute", False) else r
                for r in result
            ]
        return result

    def _is_element(self, node: Any) -> bool:
        return isinstance(node, etree._Element)

    def _own_text(self, node: etree._Element) -> str:
        if not isinstance(node.tag, str):  # a comment
            return normalize_space(node.text or "")
        parts = [node.text] if node.text else []
        parts.extend(child.tail for child in node if child.tail)
        return normalize_space(" ".join(parts))

    def _all_text(self, node: etree._Element) -> str:
        if not isinstance(node.tag, str):
            return normalize_space(node.text or "")
        parts: list[str] = []
        stack: list[etree._Element | str] = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
                continue
            tag = item.tag
            if not isinstance(tag, str) or tag in NON_TEXT_ELEMENTS:
                continue
            block = tag in BLOCK_ELEMENTS
            if block:
                parts.append(" ")
                stack.append(" ")
            if item.text:
                parts.append(item.text)
            for child in reversed(item):
                if child.tail:
                    stack.append(child.tail)
                stack.append(child)
        return normalize_space("".join(parts))

    def _attribute(self, node: etree._Element, name: str) -> str | None:
        value = node.get(name)
        return value if value is None else attribute_value(name, value)

    def _inner_html(self, node: etree._Element) -> str:
        parts: list[str] = []
        raw = node.tag in RAW_TEXT_ELEMENTS
        if node.text:
            parts.append(node.text if raw else escape_text(node.text))
        stack: list[etree._Element | str] = list(reversed(node))
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
                continue
            tail = escape_text(item.tail) if item.tail else ""
            tag = item.tag
            if not isinstance(tag, str):
                if tag is etree.Comment:
                    parts.append(f"<!--{item.text or ''}-->")
                parts.append(tail)
                continue
            parts.append(start_tag(tag, item.items()))
            if tag in VOID_ELEMENTS:
                parts.append(tail)
                continue
            if item.text:
                parts.append(item.text if tag in RAW_TEXT_ELEMENTS else escape_text(item.text))
            stack.append(f"</{tag}>{tail}")
            stack.extend(reversed(item))
        return "".join(parts)
