"""Text rules shared by every engine, so that all of them give the same strings.

Both engines walk their own tree but hand the strings to these helpers; see
``README.md`` in this package for the rule in prose.
"""

from __future__ import annotations

from w3lib.encoding import html_to_unicode


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Elements whose boundaries count as whitespace in ``all_text`` (as a browser
# would put them on their own line), so ``<td>1</td><td>2</td>`` gives "1 2".
BLOCK_ELEMENTS = _names(
    "address article aside blockquote br caption dd details dialog div dl dt "
    "fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr li "
    "main nav ol option p pre section summary table tbody td tfoot th thead tr ul"
)
# Elements whose text is never page text.
NON_TEXT_ELEMENTS = frozenset({"script", "style", "template", "noscript"})
# Elements libxml2 2.14 builds empty (its HTML 4 list): no content, no end
# tag in `html`.  <embed>, <source>, <track> and <wbr> are not among them:
# libxml2 puts what follows them inside them, up to their parent's end.
VOID_ELEMENTS = _names("area base basefont br col frame hr img input isindex link meta param")
# Raw text (HTML standard): what is between the tags is the text as written,
# no reference decoded when parsed, nothing escaped in `html`.  <plaintext>
# runs to the end of the document.  Escapable raw text: no tags inside, but
# references are decoded.
RAW_TEXT_ELEMENTS = _names("script style xmp iframe noembed noframes plaintext")
ESCAPABLE_RAW_TEXT_ELEMENTS = _names("title textarea")
# HTML 4 boolean attributes: libxml2 gives `<input checked>` the value
# "checked", bs4 gives "", and neither can tell `checked` from `checked=""`.
BOOLEAN_ATTRIBUTES = _names(
    "checked compact declare defer disabled ismap multiple nohref noresize "
    "noshade nowrap readonly selected"
)


def attribute_value(name: str, value: str) -> str:
    """An attribute's value as every engine reports it: a boolean attribute
    that is present has its own name as value, whatever the parser said."""
    return name if not value and name in BOOLEAN_ATTRIBUTES else value


def normalize_space(text: str) -> str:
    """Collapse runs of whitespace (including no-break spaces) to one space and trim."""
    return " ".join(text.split())


def decode_body(body: bytes | str, encoding: str | None = None) -> str:
    """Decode a page the way Scrapy's ``TextResponse`` does.

    ``encoding`` is the declared one (from the Content-Type header); a BOM
    wins over it, and without either the ``<meta>`` charset, then UTF-8, is
    used.  NUL characters are removed, as parsel does, because libxml2 stops
    at them.
    """
    if isinstance(body, str):
        text = body
    else:
        content_type = f"text/html; charset={encoding}" if encoding else None
        _, text = html_to_unicode(content_type, body)
    return text.replace("\x00", "")


def escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;")


def start_tag(name: str, attributes: list[tuple[str, str]]) -> str:
    attrs = "".join(
        f' {key}="{escape_attribute(attribute_value(key, value))}"' for key, value in attributes
    )
    return f"<{name}{attrs}>"
