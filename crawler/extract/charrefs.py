"""Character references (``&amp;``, ``&copy``, ``&#38;``) decoded by the HTML standard's rules.

The rules are those of WHATWG HTML's tokenizer (13.2.5.72-13.2.5.80, the
character reference states); libxml2 2.14, and so the lxml engine, follows
them (measured against Chromium, see ``README.md``).  :mod:`crawler.extract.soup`
uses these functions so that ``html.parser`` gives the same strings.

- **Named**, from the standard's table (:data:`html.entities.html5`).  A name
  without ``;`` is read only if it is one of the legacy names (``amp``,
  ``copy``, ``para``...), and then the longest one that matches: in text
  ``x&ampy`` is ``x&y`` and ``&notit;`` is ``¬it;``.  In an attribute value
  such a reference stays as written when the next character is ``=`` or an
  ASCII letter or digit, so query strings survive: ``?a=1&para=4&copy=2``,
  ``&center``, ``&copy2``.  Unknown names stay as written: ``&foo;``,
  ``&euro`` (``euro`` needs its ``;``).
- **Numeric** (``&#38;``, ``&#x26``, with or without ``;``): 0, surrogates
  and numbers past U+10FFFF give U+FFFD; 0x80-0x9F go through the standard's
  windows-1252 table (``&#x80;`` is ``€``); other control characters and
  noncharacters are kept as they are (``&#1;`` is U+0001).  ``&#;`` and
  ``&#x;`` stay as written.

:func:`html.unescape` implements the text rules apart from two points, handled
here: it drops control characters and noncharacters (``&#1;`` gives ``""``),
and it raises :class:`ValueError` on a decimal reference of more than 4300
digits (Python's limit on ``int(str)``).
"""

from __future__ import annotations

import html
import re
from html.entities import html5

# html.unescape's own pattern for one reference (CPython's Lib/html/__init__.py).
_REFERENCE = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
# The legacy names are the table's names that do without ";" (at most 6 letters).
_LONGEST_LEGACY = max(len(name) for name in html5 if not name.endswith(";"))
_LARGEST_CODE_POINT = 0x10FFFF


def decode_text(text: str) -> str:
    """``text`` (text between tags, or in ``<title>``/``<textarea>``), references decoded."""
    return _REFERENCE.sub(_in_text, text) if "&" in text else text


def decode_attribute(value: str) -> str:
    """An attribute value (quotes removed) with its references decoded."""
    return _REFERENCE.sub(_in_attribute, value) if "&" in value else value


def _in_text(match: re.Match[str]) -> str:
    return _decode(match, in_attribute=False)


def _in_attribute(match: re.Match[str]) -> str:
    return _decode(match, in_attribute=True)


def _decode(match: re.Match[str], in_attribute: bool) -> str:
    name = match.group(1)
    if name[0] == "#":
        return _numeric(name[1:].rstrip(";"))
    decoded = html5.get(name)  # "amp;", or a legacy name ("amp") the pattern took whole
    if decoded is not None:
        return decoded
    for end in range(min(len(name) - 1, _LONGEST_LEGACY), 1, -1):
        legacy = html5.get(name[:end])
        if legacy is None:
            continue
        following = name[end]
        if in_attribute and (following == "=" or (following.isascii() and following.isalnum())):
            return match.group(0)
        return legacy + name[end:]
    return match.group(0)


def _numeric(digits: str) -> str:
    """``digits`` is ``38`` or ``x26``."""
    base = 16 if digits[0] in "xX" else 10
    digits = (digits[1:] if base == 16 else digits).lstrip("0") or "0"
    if len(digits) > 8:  # past U+10FFFF in either base; int() would refuse 4300+ digits
        return "\ufffd"
    number = int(digits, base)
    if number > _LARGEST_CODE_POINT:
        return "\ufffd"
    # html.unescape has the standard's table (0 -> U+FFFD, 0x80 -> "€"...) and
    # gives "" only for the controls and noncharacters the standard keeps.
    return html.unescape(f"&#{number};") or chr(number)
