"""Building XPath expressions from values found on pages."""

from __future__ import annotations


def xpath_literal(text: str) -> str:
    """``text`` as an XPath 1.0 string literal.

    XPath 1.0 literals have no escapes (XPath 1.0, section 3.7): a value with
    one quote kind goes in the other; a value with both is a ``concat()`` of
    single-quoted parts joined by ``"'"``.
    """
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    parts = text.split("'")
    return "concat(" + ', "\'", '.join(f"'{part}'" for part in parts) + ")"
