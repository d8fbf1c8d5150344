"""Character references read the same by every engine, by the HTML standard's rules.

The table is what Chromium 156 (WHATWG HTML's tokenizer) gives for each
string in text and in an attribute value; libxml2 2.14 (the lxml engine) gives
the same.  ``tests/golden/entities_*`` hold whole pages of the kind.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crawler.extract.charrefs import decode_attribute, decode_text
from crawler.extract.engines import ENGINE_NAMES, get_engine
from crawler.extract.spec import FieldSpec, ItemSpec
from crawler.extract.text import normalize_space
from tests.crawltools import run_crawler
from tests.test_extract_golden import DEFAULT_URL, GOLDEN

# (as written, in text, in an attribute value)
REFERENCES: list[tuple[str, str, str]] = [
    ("?z=13&center=1&para=4&copy=2", "?z=13¢er=1¶=4©=2", "?z=13&center=1&para=4&copy=2"),
    ("&amp;", "&", "&"),
    ("&amp", "&", "&"),
    ("&ampy", "&y", "&ampy"),
    ("x&ampy", "x&y", "x&ampy"),
    ("&amp=", "&=", "&amp="),
    ("&amp-x", "&-x", "&-x"),
    ("&copy", "©", "©"),
    ("&copy;", "©", "©"),
    ("&copyx", "©x", "&copyx"),
    ("&copy=", "©=", "&copy="),
    ("&copy-x", "©-x", "©-x"),
    ("&copy2", "©2", "&copy2"),
    ("&copy.", "©.", "©."),
    ("&notit;", "¬it;", "&notit;"),
    ("&notin;", "∉", "∉"),
    ("&not", "¬", "¬"),
    ("&notx", "¬x", "&notx"),
    ("&cent", "¢", "¢"),
    ("&center", "¢er", "&center"),
    ("&para=4", "¶=4", "&para=4"),
    ("&para", "¶", "¶"),
    ("&AMP;", "&", "&"),
    ("&AMP", "&", "&"),
    ("&COPY", "©", "©"),
    ("&Amp;", "&Amp;", "&Amp;"),
    ("&lt", "<", "<"),
    ("&ltx", "<x", "&ltx"),
    ("&gt;", ">", ">"),
    ("&NotEqualTilde;", "\u2242\u0338", "\u2242\u0338"),
    ("&nGt;", "\u226b\u20d2", "\u226b\u20d2"),
    ("x&nbsp", "x", "x"),  # U+00A0, then whitespace-normalised
    ("&#38;", "&", "&"),
    ("&#x26;", "&", "&"),
    ("&#X26;", "&", "&"),
    ("&#38", "&", "&"),
    ("&#x26", "&", "&"),
    ("&#38x", "&x", "&x"),
    ("&#0000038;", "&", "&"),
    ("&#0;", "\ufffd", "\ufffd"),
    ("&#x80;", "€", "€"),
    ("&#x81;", "\x81", "\x81"),
    ("&#x8D;", "\x8d", "\x8d"),
    ("&#x9F;", "Ÿ", "Ÿ"),
    ("&#150;", "\u2013", "\u2013"),  # en dash, from the windows-1252 table
    ("&#xD800;", "\ufffd", "\ufffd"),
    ("&#x110000;", "\ufffd", "\ufffd"),
    ("&#9999999999;", "\ufffd", "\ufffd"),
    ("&#" + "9" * 5000 + ";", "\ufffd", "\ufffd"),  # past Python's int(str) limit
    ("&#xFFFE;", "\ufffe", "\ufffe"),
    ("&#x1F600;", "😀", "😀"),
    ("a&#13;b", "a b", "a b"),  # U+000D, then whitespace-normalised
    ("&#1;", "\x01", "\x01"),
    ("&#x7F;", "\x7f", "\x7f"),
    ("&#;", "&#;", "&#;"),
    ("&#x;", "&#x;", "&#x;"),
    ("&#xZ;", "&#xZ;", "&#xZ;"),
    ("&#", "&#", "&#"),
    ("&#x", "&#x", "&#x"),
    ("&foo;", "&foo;", "&foo;"),
    ("&foo", "&foo", "&foo"),
    ("&", "&", "&"),
    ("&&", "&&", "&&"),
    ("a & b", "a & b", "a & b"),
    ("&;", "&;", "&;"),
    ("a&&b", "a&&b", "a&&b"),
    ("&amp;amp;", "&amp;", "&amp;"),
    ("&&amp;", "&&", "&&"),
    ("&eacute", "é", "é"),
    ("&eacute;", "é", "é"),
    ("&Eacute", "É", "É"),
    ("&euro", "&euro", "&euro"),
    ("&euro;", "€", "€"),
    ("&apos", "&apos", "&apos"),
    ("&apos;", "'", "'"),
    ("&quot", '"', '"'),
    ("&sup1", "¹", "¹"),
    ("&sup2x", "²x", "&sup2x"),
    ("&frac12=", "½=", "&frac12="),
]  # fmt: skip
# A page that ends inside a reference: (the page's last text, as read)
AT_END: list[tuple[str, str]] = [
    ("x &copy", "x ©"),
    ("x &#38", "x &"),
    ("x &amp", "x &"),
    ("x &", "x &"),
    ("x &#x", "x &#x"),
    ("x &notit", "x ¬it"),
    ("x &ampy", "x &y"),
]
ATTRIBUTES = ("title", "href", "data-x", "value")


def _references_page() -> str:
    rows = []
    for n, (source, _, _) in enumerate(REFERENCES):
        attributes = " ".join(f'{name}="{source}"' for name in ATTRIBUTES[:-1])
        rows.append(
            f"<p id=t{n}>{source}</p><a id=a{n} {attributes}></a><input id=v{n} value='{source}'>"
        )
    return "<!DOCTYPE html><html><head><title>t</title></head><body>\n" + "\n".join(rows)


def _references_spec() -> ItemSpec:
    fields = []
    for n in range(len(REFERENCES)):
        fields.append(FieldSpec(f"text {n}", f"css:#t{n}"))
        fields.extend(
            FieldSpec(f"{name} {n}", f"css:#a{n}::attr({name})") for name in ATTRIBUTES[:-1]
        )
        fields.append(FieldSpec(f"value {n}", f"css:#v{n}::attr(value)"))
    return ItemSpec(name="references", fields=fields)


def _as_read(value: str) -> str | None:
    """What an engine reports for ``value``: whitespace-normalised, empty is missing."""
    return normalize_space(value) or None


@pytest.mark.parametrize("engine_name", ENGINE_NAMES)
def test_references_in_text_and_attributes(engine_name: str) -> None:
    (item,) = get_engine(engine_name).extract(_references_spec(), _references_page(), DEFAULT_URL)
    got: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for n, (source, in_text, in_attribute) in enumerate(REFERENCES):
        got[f"text {source!r}"] = item.data[f"text {n}"]
        expected[f"text {source!r}"] = _as_read(in_text)
        for name in ATTRIBUTES:
            got[f"{name} {source!r}"] = item.data[f"{name} {n}"]
            expected[f"{name} {source!r}"] = _as_read(in_attribute)
    assert got == expected


@pytest.mark.parametrize("engine_name", ENGINE_NAMES)
def test_reference_at_the_end_of_the_page(engine_name: str) -> None:
    engine = get_engine(engine_name)
    spec = ItemSpec(name="end", fields=[FieldSpec("last", "css:p")])
    got = {}
    for tail, _ in AT_END:
        (item,) = engine.extract(spec, f"<!DOCTYPE html><title>t</title><p>{tail}", DEFAULT_URL)
        got[tail] = item.data["last"]
    assert got == dict(AT_END)


def test_decoding_functions_follow_the_table() -> None:
    """The functions the html.parser engine uses, without normalising: controls are kept."""
    for source, in_text, in_attribute in REFERENCES:
        if "&#13;" in source or "&nbsp" in source:
            continue  # the table holds these whitespace-normalised
        assert (decode_text(source), decode_attribute(source)) == (in_text, in_attribute), source
    assert decode_text("a&#13;b&nbsp;") == "a\rb\xa0"


@pytest.fixture(scope="module")
def golden_server() -> Iterator[str]:
    """Serves tests/golden/ on a free loopback port; yields its base URL."""

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(GOLDEN)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_crawler_extract_prints_the_same_items_with_every_engine(
    golden_server: str, tmp_path: Path
) -> None:
    case = GOLDEN / "entities_mixed"
    url = f"{golden_server}/{case.name}/page.html"
    outputs = {}
    for engine_name in ENGINE_NAMES:
        proc = run_crawler(
            "extract", url, "--spec", str(case / "spec.yaml"), "--engine", engine_name,
            "--ignore-robots", cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outputs[engine_name] = proc.stdout
    # The golden answer, its links made absolute against this server.
    golden_origin = DEFAULT_URL.rsplit("/", 1)[0]
    expected_text = (case / "expected.json").read_text(encoding="utf-8")
    expected = json.loads(expected_text.replace(golden_origin, golden_server))
    rows = [{"url": url, **item["data"]} for item in expected]
    assert [json.loads(line) for line in outputs["lxml"].splitlines()] == rows
    assert outputs == dict.fromkeys(ENGINE_NAMES, outputs["lxml"])
