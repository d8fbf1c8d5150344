"""Field and container selectors: ``css:EXPR`` or ``xpath:EXPR``.

A selector is parsed and checked once, when its spec is built, against every
engine (cssselect for the lxml engine, soupsieve for the bs4 engine, libxml2
for XPath), so a spec that loads runs on either engine.

CSS may end in parsel's ``::text`` (the element's own text nodes) or
``::attr(name)``; every group of a selector list must end in the same one.
CSS is relative to the context (the container, else the root element) and, as
in parsel, the context itself can match: ``li`` evaluated on an ``<li>``
container matches the container.  Every compound of the selector must match
at or below the context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import cssselect
from lxml import etree
from parsel.csstranslator import HTMLTranslator

from crawler.extract.exceptions import SpecError

_TRANSLATOR = HTMLTranslator()
_TRAILING_PSEUDO = re.compile(r"\s*::[-\w]+(?:\([^)]*\))?\s*$")
_COMBINATOR_CHARS = frozenset(" \t\r\n\f>+~")


@dataclass(frozen=True)
class Selector:
    """A parsed selector.  ``pseudo`` is ``"text"``, ``"attr"`` or ``None``."""

    kind: Literal["css", "xpath"]
    expr: str
    pseudo: Literal["text", "attr"] | None = None
    attribute: str | None = None
    # The CSS without its pseudo-element, split into groups; empty for XPath.
    css_groups: tuple[str, ...] = field(default=(), repr=False)

    def __str__(self) -> str:
        return f"{self.kind}:{self.expr}"

    @property
    def yields_strings(self) -> bool:
        """True when the selector is known to give strings, not elements."""
        return self.pseudo is not None

    def to_xpath(self) -> str:
        """XPath for the lxml engine, pseudo-element included (as parsel does)."""
        if self.kind == "xpath":
            return self.expr
        # Rebuilt from the parts so ::attr(NAME) is lower-cased, as HTML
        # parsers lower-case attribute names.
        suffix = {"text": "::text", "attr": f'::attr("{self.attribute}")', None: ""}[self.pseudo]
        return _TRANSLATOR.css_to_xpath(", ".join(g + suffix for g in self.css_groups))

    @property
    def css_base(self) -> str:
        return ", ".join(self.css_groups)

    def soupsieve_patterns(self) -> tuple[str, str | None]:
        """CSS for soupsieve: (matches below the context, matches the context).

        soupsieve, like the DOM's ``querySelectorAll``, lets the left part of
        a selector match ancestors of the element it is called on; parsel
        does not.  Each group ``C1 REST`` becomes ``:scope C1 REST`` plus
        ``C1:scope REST`` so every compound stays at or below the context; a
        one-compound group can also match the context itself, which the
        second pattern tests.
        """
        below: list[str] = []
        itself: list[str] = []
        for group in self.css_groups:
            first, rest = _split_first_compound(group)
            below.append(f":scope {group}")
            if rest:
                below.append(f"{first}:scope{rest}")
            else:
                itself.append(group)
        return ", ".join(below), ", ".join(itself) or None


def parse_selector(text: str) -> Selector:
    """Parse ``css:EXPR`` or ``xpath:EXPR``; raise :class:`SpecError` saying what is wrong."""
    if not isinstance(text, str):
        raise SpecError(f"a selector must be a string like 'css:h1', not {text!r}")
    kind, sep, expr = text.strip().partition(":")
    expr = expr.strip()
    if not sep or kind not in ("css", "xpath"):
        raise SpecError(f"selector {text!r} must start with 'css:' or 'xpath:'")
    if not expr:
        raise SpecError(f"selector {text!r} is empty")
    if kind == "xpath":
        try:
            etree.XPath(expr)
        except etree.XPathSyntaxError as e:
            raise SpecError(f"invalid XPath in {text!r}: {e}") from e
        return Selector("xpath", expr)
    return _parse_css(expr, text)


def _parse_css(expr: str, text: str) -> Selector:
    try:
        parsed = cssselect.parse(expr)
    except cssselect.SelectorError as e:
        raise SpecError(f"invalid CSS in {text!r}: {e}") from e
    pseudos = {_pseudo_of(p.pseudo_element, text) for p in parsed}
    if len(pseudos) > 1:
        raise SpecError(
            f"selector {text!r}: every group of a selector list must end in the same "
            "pseudo-element (::text, ::attr(name) or none)"
        )
    pseudo, attribute = pseudos.pop()
    groups = tuple(_TRAILING_PSEUDO.sub("", g) if pseudo else g for g in _split_groups(expr))
    if any(not g for g in groups):
        raise SpecError(
            f"selector {text!r} has a pseudo-element with nothing before it; "
            "leave the selector out to take the context element itself"
        )
    selector = Selector("css", expr, pseudo, attribute, groups)
    try:
        selector.to_xpath()
    except (cssselect.SelectorError, cssselect.xpath.ExpressionError) as e:
        raise SpecError(f"unsupported CSS in {text!r}: {e}") from e
    # soupsieve (and the bs4 it imports, ~65 ms) only when a spec has CSS to check
    import soupsieve

    for pattern in selector.soupsieve_patterns():
        if pattern is None:
            continue
        try:
            soupsieve.compile(pattern)
        except soupsieve.SelectorSyntaxError as e:
            raise SpecError(
                f"CSS in {text!r} is not supported by the bs4 engine (soupsieve): {e}"
            ) from e
    return selector


def _pseudo_of(pseudo: object, text: str) -> tuple[Literal["text", "attr"] | None, str | None]:
    if pseudo is None:
        return None, None
    if pseudo == "text":
        return "text", None
    if isinstance(pseudo, cssselect.parser.FunctionalPseudoElement) and pseudo.name == "attr":
        args = [t for t in pseudo.arguments if t.type != "S"]
        if len(args) == 1 and args[0].type in ("IDENT", "STRING") and args[0].value:
            return "attr", str(args[0].value).lower()
        raise SpecError(f"selector {text!r}: ::attr() takes one attribute name")
    raise SpecError(
        f"selector {text!r}: unsupported pseudo-element {pseudo!s}; use ::text or ::attr(name)"
    )


def _scan(css: str, stop_at: frozenset[str]) -> int:
    """Index of the first top-level character of ``css`` in ``stop_at``, or -1.

    Top level means outside quotes, brackets and parentheses.
    """
    depth = 0
    quote = ""
    i = 0
    while i < len(css):
        char = css[i]
        if char == "\\":
            i += 2
            continue
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif depth == 0 and char in stop_at:
            return i
        i += 1
    return -1


def _split_groups(css: str) -> list[str]:
    groups = []
    while True:
        i = _scan(css, frozenset(","))
        if i < 0:
            groups.append(css.strip())
            return groups
        groups.append(css[:i].strip())
        css = css[i + 1 :]


def _split_first_compound(group: str) -> tuple[str, str]:
    i = _scan(group, _COMBINATOR_CHARS)
    if i < 0:
        return group, ""
    return group[:i], group[i:]
