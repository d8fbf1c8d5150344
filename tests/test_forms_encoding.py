"""Request bodies in the three form encodings (HTML Standard, 4.10.21.8), read back
with the standard library's parsers."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest

from crawler.forms.encoding import encodable, multipart_body, prepared, text_plain_body


def parts(body: bytes, content_type: str) -> list[Message]:
    message = message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    assert message.is_multipart()
    payload: Any = message.get_payload()
    return list(payload)


def disposition(part: Message, param: str) -> str | None:
    value = part.get_param(param, header="content-disposition")
    return None if value is None else str(value)


def test_multipart_body_reads_back_as_the_entries() -> None:
    body, content_type = multipart_body(
        [("q", "lamp"), ("note", "one\ntwo\rthree\r\nfour"), ("upload", ""), ("q", "")],
        "utf-8",
        files=frozenset({"upload"}),
    )
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1].encode()
    assert body.startswith(b"--" + boundary + b"\r\n")
    assert body.endswith(b"--" + boundary + b"--\r\n")
    found = parts(body, content_type)
    assert [(disposition(p, "name"), p.get_payload(decode=True)) for p in found] == [
        ("q", b"lamp"),
        ("note", b"one\r\ntwo\r\nthree\r\nfour"),  # every line break as CRLF
        ("upload", b""),
        ("q", b""),
    ]
    assert all(p.get_content_disposition() == "form-data" for p in found)
    # a file input with no file: an empty file named "", typed application/octet-stream
    upload = found[2]
    assert disposition(upload, "filename") == ""
    assert upload["Content-Type"] == "application/octet-stream"
    # other parts have neither a filename nor a type
    assert (disposition(found[0], "filename"), found[0]["Content-Type"]) == (None, None)
    assert (
        b'name="upload"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n\r\n' in body
    )


def test_multipart_values_in_the_forms_encoding() -> None:
    body, content_type = multipart_body([("text", "Caf\xe9 \u2603 \u20ac")], "cp1252")
    [part] = parts(body, content_type)
    # é and € in cp1252 bytes; the snowman, which cp1252 lacks, as a character reference
    assert part.get_payload(decode=True) == b"Caf\xe9 &#9731; \x80"


def test_multipart_names_are_escaped() -> None:
    body, content_type = multipart_body([('say "hi"\nnow', "v")], "utf-8")
    assert b'name="say %22hi%22%0D%0Anow"' in body
    [part] = parts(body, content_type)
    assert part.get_payload(decode=True) == b"v"


def test_a_file_name_with_a_value_is_a_plain_part() -> None:
    body, content_type = multipart_body([("f", "typed")], "utf-8", files=frozenset({"f"}))
    [part] = parts(body, content_type)
    assert (disposition(part, "filename"), part.get_payload(decode=True)) == (None, b"typed")


def test_text_plain_body() -> None:
    body = text_plain_body([("a", "1"), ("note", "x\ny"), ("b", "Caf\xe9 \u2603")], "cp1252")
    assert body == b"a=1\r\nnote=x\r\ny\r\nb=Caf\xe9 &#9731;\r\n"
    assert text_plain_body([], "utf-8") == b""
    assert text_plain_body([("k", "\u2603")], "no-such-encoding") == "k=\u2603\r\n".encode()


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [
        ("plain", "utf-8", "plain"),
        ("a\nb\rc\r\nd", "utf-8", "a\r\nb\r\nc\r\nd"),
        ("Caf\xe9 \u2603", "cp1252", "Caf\xe9 &#9731;"),
        ("\u0142\xf3d\u017a", "iso8859-2", "\u0142\xf3d\u017a"),
        ("\u0142", "cp1252", "&#322;"),
        ("\U0001f600", "latin-1", "&#128512;"),  # one reference for a character beyond the BMP
        ("\u2603", "no-such-encoding", "\u2603"),
    ],
)
def test_encodable(text: str, encoding: str, expected: str) -> None:
    assert encodable(text, encoding) == expected


def test_prepared_entries() -> None:
    assert prepared([("n\u2603", "a\nb"), ("k", "\xe9")], "cp1252") == [
        ("n&#9731;", "a\r\nb"),
        ("k", "\xe9"),
    ]
