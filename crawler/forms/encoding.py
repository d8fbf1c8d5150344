"""Form data sets as request bodies, in the three encodings forms have.

HTML Standard, 4.10.22.8 "Form submission": ``application/x-www-form-urlencoded``
(the URL's query for GET, the body for POST), ``multipart/form-data`` and
``text/plain``.  In each, line breaks in names and values are sent as CRLF and
characters the form's encoding lacks as decimal character references
(``&#1234;``), as browsers send them.

URL-encoding is Scrapy's (:class:`scrapy.FormRequest`); multipart bodies are
urllib3's encoder, whose header parameters follow the HTML Standard's
escaping (``"``, CR and LF percent-encoded).  Part headers are written in
UTF-8 whatever the form's encoding: a non-ASCII field *name* in a form of
another encoding is sent as UTF-8 where a browser would use the form's
encoding (values are in the form's encoding).
"""

from __future__ import annotations

from collections.abc import Iterable

from urllib3.fields import RequestField
from urllib3.filepost import encode_multipart_formdata

from crawler.forms.model import normalize_newlines

#: ``(name, value)`` pairs in order.
Entries = Iterable[tuple[str, str]]


def encodable(text: str, encoding: str) -> str:
    """``text`` with characters ``encoding`` lacks as ``&#N;``, line breaks as CRLF."""
    text = normalize_newlines(text)
    try:
        return text.encode(encoding, "xmlcharrefreplace").decode(encoding)
    except LookupError:
        return text


def prepared(entries: Entries, encoding: str) -> list[tuple[str, str]]:
    """Entries ready for URL-encoding in ``encoding`` (Scrapy encodes them)."""
    return [(encodable(name, encoding), encodable(value, encoding)) for name, value in entries]


def multipart_body(
    entries: Entries, encoding: str, files: frozenset[str] = frozenset()
) -> tuple[bytes, str]:
    """``(body, content type with boundary)``; names in ``files`` are file inputs
    with no file chosen (an empty part named ``""``, ``application/octet-stream``)."""
    fields: list[RequestField] = []
    for name, value in entries:
        name = encodable(name, encoding)
        if name in files and value == "":
            field = RequestField(name, b"", filename="")
            field.make_multipart(content_type="application/octet-stream")
        else:
            value = normalize_newlines(value)
            encoding = encoding if _known(encoding) else "utf-8"
            field = RequestField(name, value.encode(encoding, "xmlcharrefreplace"))
            field.make_multipart()
        fields.append(field)
    return encode_multipart_formdata(fields)


def text_plain_body(entries: Entries, encoding: str) -> bytes:
    """``name=value`` lines ending in CRLF (HTML Standard, "text/plain encoding
    algorithm"); not reliably machine-readable, as the standard warns."""
    lines = "".join(f"{name}={value}\r\n" for name, value in prepared(entries, encoding))
    return lines.encode(encoding if _known(encoding) else "utf-8", "xmlcharrefreplace")


def _known(encoding: str) -> bool:
    try:
        "".encode(encoding)
    except LookupError:
        return False
    return True
