"""BeautifulSoup trees shaped like the tree libxml2 (lxml) builds.

bs4 on the lxml parser already gets libxml2's tree; Python's ``html.parser``
closes nothing implicitly, so ``<li>a<li>b`` nests.  For ``html.parser`` this
module replays the rules libxml2 2.14 applies, measured on it (see the
README): a start tag closes the current element while the pair is in
``CLOSED_BY``; an end tag is ignored when an element of higher end priority
is open above its match; an unclosed ``<!--`` runs to the end, and ``<!-->``
and ``<!--->`` are empty comments.  For both parsers, the document is then
given one ``<html>`` with ``<head>``/``<body>``, and content after
``</html>`` is dropped, as libxml2 does.

``html.parser`` also reads character references differently: it decodes
attribute values with the rules for text (``href="?a&para=4"`` gives ``¶=4``)
and keeps ``x&ampy`` as written.  Here it is handed the markup with every
``&`` escaped, so what it gives back is the text as written, which
:mod:`crawler.extract.charrefs` then decodes by the HTML standard's rules, as
libxml2 does: text, attribute values and the text of ``<title>`` and
``<textarea>`` (escapable raw text) decoded, the raw text of ``<script>``,
``<style>``, ``<xmp>``, ``<iframe>``, ``<noembed>``, ``<noframes>`` and
``<plaintext>`` (which runs to the end) not.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, Tag
from bs4.builder import HTMLParserTreeBuilder
from bs4.builder._htmlparser import BeautifulSoupHTMLParser

from crawler.extract.charrefs import decode_attribute, decode_text
from crawler.extract.text import ESCAPABLE_RAW_TEXT_ELEMENTS, RAW_TEXT_ELEMENTS

# CLOSED_BY[new] = the open elements a start tag of `new` closes (when they are
# the current element; repeated while the next one qualifies too).
_CLOSES: dict[str, str] = {
    "a": "a",
    "address": "p ul",
    "blockquote": "p",
    "caption": "p",
    "center": "b font i p",
    "col": "caption p",
    "colgroup": "caption colgroup p",
    "dd": "address dir dt menu p pre",
    "dir": "p",
    "div": "p",
    "dl": "address dir dt menu p pre",
    "dt": "address dd dir menu p pre",
    "fieldset": "a h1 h2 h3 h4 h5 h6 legend p pre",
    "form": "address dir dl form h1 h2 h3 h4 h5 h6 menu ol p pre ul",
    "h1": "p",
    "h2": "p",
    "h3": "p",
    "h4": "p",
    "h5": "p",
    "h6": "p",
    "hr": "p",
    "li": "address dl h1 h2 h3 h4 h5 h6 li p pre",
    "menu": "p ul",
    "ol": "p",
    "optgroup": "option",
    "option": "option",
    "p": "b h1 h2 h3 h4 h5 h6 i p s small u",
    "pre": "p ul",
    "table": "a h1 h2 h3 h4 h5 h6 p pre",
    "tbody": "caption colgroup p tbody td tfoot th thead tr",
    "td": "a b font i p span td th u",
    "tfoot": "caption colgroup p tbody td th thead tr",
    "th": "a b font i p span td th u",
    "thead": "caption colgroup",
    "tr": "caption colgroup p td th tr",
    "ul": "address dir menu p pre",
}
CLOSED_BY: dict[str, frozenset[str]] = {new: frozenset(old.split()) for new, old in _CLOSES.items()}
# An end tag does not close through an open element of higher priority.
END_PRIORITY: dict[str, int] = {
    "div": 150, "td": 160, "th": 160, "tr": 170, "thead": 180, "tbody": 180,
    "tfoot": 180, "table": 190, "head": 200, "body": 200, "html": 220,
}  # fmt: skip
DEFAULT_END_PRIORITY = 100
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"  # what bytes.strip() strips
HEAD_ELEMENTS = frozenset({"base", "link", "meta", "script", "style", "title"})

# Attribute values stay strings ("a b", not ["a", "b"]); with html.parser
# the first of duplicate attributes wins, as in libxml2.
SOUP_OPTIONS: dict[str, Any] = {"multi_valued_attributes": None}
HTML_PARSER_OPTIONS: dict[str, Any] = {**SOUP_OPTIONS, "on_duplicate_attribute": "ignore"}


class _LibxmlShapedSoup(BeautifulSoup):
    """A soup whose tag events follow libxml2's implied-end-tag rules."""

    def handle_starttag(
        self, name: str, namespace: Any, nsprefix: Any, attrs: Any, *args: Any, **kwargs: Any
    ) -> Tag | None:
        closes = CLOSED_BY.get(name)
        if closes:
            while len(self.tagStack) > 1 and self.tagStack[-1].name in closes:
                self.endData()
                self.popTag()
        return super().handle_starttag(name, namespace, nsprefix, attrs, *args, **kwargs)

    def handle_endtag(self, name: str, nsprefix: str | None = None) -> None:
        priority = END_PRIORITY.get(name, DEFAULT_END_PRIORITY)
        for tag in reversed(self.tagStack[1:]):
            if tag.name == name:
                break
            if END_PRIORITY.get(tag.name, DEFAULT_END_PRIORITY) > priority:
                return  # libxml2 ignores this end tag
        else:
            return  # nothing to close
        super().handle_endtag(name, nsprefix)


class _AsWrittenParser(BeautifulSoupHTMLParser):
    """bs4's html.parser events, read by the HTML standard's tokenizer where html.parser is not.

    **Character references.**  It is fed markup whose every ``&`` is escaped
    as ``&amp;`` (see :class:`StandardReferencesTreeBuilder`): where
    html.parser decodes (text outside raw text elements, attribute values) it
    gives back the text as written; where it does not (raw text, comments,
    attribute names), ``&amp;`` is turned back into ``&`` here.

    **Markup other than start tags** (WHATWG HTML 13.2.5, the states named
    below), which html.parser reads by older rules (and differently from one
    Python release to the next):

    - comments: ``<!-->`` and ``<!--->`` are empty; a comment ends at the
      first ``-->`` or ``--!>``; ``--`` and ``<!--`` inside are text; one
      that is not closed runs to the end (comment states, 13.2.5.43-52);
    - ``<!`` not followed by ``--`` or ``DOCTYPE``, ``</`` followed by
      neither a letter nor ``>``, and ``<?``, are bogus comments ending at
      the first ``>`` or the end (13.2.5.41-42, 13.2.5.6-7); so is
      ``<![CDATA[``, as outside SVG and MathML (libxml2 reads it so there
      too);
    - an end tag ends at its ``>``, past quoted attribute values
      (``</p x=">">``); one cut by the end of the input is dropped;
    - a start tag cut by the end of the input is dropped with the rest
      (13.2.5.32-40, eof-in-tag);
    - raw text (``<script>``...) ends at ``</name`` followed by whitespace,
      ``/`` or ``>``, whatever follows up to the end tag's ``>``; in
      ``<script>``, ``<!--`` opens the escaped states, where a nested
      ``<script>`` must be closed before ``</script>`` ends the element
      (13.2.5.4-5, 13.2.5.15-31).

    The whole document is in ``rawdata`` (bs4 feeds it in one call), so
    reaching the end of ``rawdata`` is the end of the input: these methods
    never return -1, and html.parser's own end-of-input handling never runs.
    """

    CDATA_CONTENT_ELEMENTS = tuple(RAW_TEXT_ELEMENTS | ESCAPABLE_RAW_TEXT_ELEMENTS)
    RCDATA_CONTENT_ELEMENTS = ()  # Python 3.14's own RCDATA would decode with the wrong rules

    def set_cdata_mode(self, elem: str, *args: Any, **kwargs: Any) -> None:
        self.cdata_elem = elem.lower()  # parse_starttag reads the raw text itself

    def parse_starttag(self, i: int) -> int:
        end: int = super().parse_starttag(i)
        if end < 0:
            return len(self.rawdata)  # the input ends inside the tag: dropped
        if self.cdata_elem is not None:
            end = self._parse_raw_text(end)
        return end

    def _parse_raw_text(self, start: int) -> int:
        """The text of the raw text element just opened, and its end tag."""
        rawdata, name = self.rawdata, self.cdata_elem
        assert name is not None
        if name == "script":
            close = _script_end(rawdata, start)
        elif name == "plaintext":
            close = -1
        else:
            match = _raw_text_end(name).search(rawdata, start)
            close = match.start() if match else -1
        if close < 0:
            self.handle_data(rawdata[start:])  # runs to the end
            self.cdata_elem = None
            return len(rawdata)
        if close > start:
            self.handle_data(rawdata[start:close])
        self.cdata_elem = None
        tag_end = _TAG_REST.match(rawdata, close + 2 + len(name))
        if tag_end is None:
            return len(rawdata)  # the input ends inside the end tag
        self.handle_endtag(name)
        return tag_end.end()

    def parse_endtag(self, i: int) -> int:
        rawdata = self.rawdata
        name = _END_TAG_NAME.match(rawdata, i + 2)
        if name is None:
            if rawdata.startswith("</>", i):
                return i + 3  # nothing
            if i + 2 == len(rawdata):
                self.handle_data("</")
                return i + 2
            return self.parse_bogus_comment(i)
        tag_end = _TAG_REST.match(rawdata, name.end())
        if tag_end is None:
            return len(rawdata)  # the input ends inside the tag: dropped
        self.handle_endtag(name.group().lower())
        return tag_end.end()

    def parse_comment(self, i: int, report: Any = True) -> int:
        rawdata = self.rawdata
        start = i + 4
        abrupt = _ABRUPT_COMMENT_END.match(rawdata, start)
        if abrupt:
            self.handle_comment("")
            return abrupt.end()
        end = _COMMENT_END.search(rawdata, start)
        if end is None:
            self.handle_comment(_DASHES_AT_END.sub("", rawdata[start:]))
            return len(rawdata)
        self.handle_comment(rawdata[start : end.start()])
        return end.end()

    def parse_html_declaration(self, i: int) -> int:
        rawdata = self.rawdata
        if rawdata.startswith("<!--", i):
            return self.parse_comment(i)
        if rawdata[i + 2 : i + 9].lower() == "doctype":
            end = rawdata.find(">", i + 9)
            end = len(rawdata) if end < 0 else end
            self.handle_decl(rawdata[i + 2 : end])
            return end + 1
        return self.parse_bogus_comment(i)

    def parse_bogus_comment(self, i: int, report: Any = True) -> int:
        """``<!x>``, ``</ x>``, and ``<?x>`` (from ``?``): a comment up to ``>``."""
        rawdata = self.rawdata
        start = i + 1 if rawdata.startswith("<?", i) else i + 2
        end = rawdata.find(">", start)
        end = len(rawdata) if end < 0 else end
        self.handle_comment(rawdata[start:end])
        return end + 1

    def parse_pi(self, i: int) -> int:
        return self.parse_bogus_comment(i)

    def handle_starttag(
        self,
        tag: str,
        attrs: list[tuple[str, str | None]],
        handle_empty_element: bool = True,
    ) -> None:
        # (Tag names are left escaped, start and end tag alike: `<a&b>` is
        # "a&amp;b" here, "a&b" in libxml2.)
        if "&" in (self.get_starttag_text() or ""):
            attrs = [(_as_written(k), decode_attribute(v) if v else v) for k, v in attrs]
        super().handle_starttag(tag, attrs, handle_empty_element)

    def handle_data(self, data: str) -> None:
        if "&" in data:
            if self.cdata_elem is None:  # html.parser has undone the escaping
                data = decode_text(data)
            elif self.cdata_elem in ESCAPABLE_RAW_TEXT_ELEMENTS:
                data = decode_text(_as_written(data))
            else:
                data = _as_written(data)
        self.soup.handle_data(data)  # what bs4's handle_data does

    def handle_comment(self, data: str) -> None:
        # Not through bs4's handle_comment, which makes "" or "  " one space.
        self.soup.endData()
        self.soup.object_was_parsed(Comment(_as_written(data)))

    def handle_decl(self, decl: str) -> None:
        super().handle_decl(_as_written(decl))


# The HTML standard's tokenizer, where html.parser reads otherwise (see above).
_COMMENT_END = re.compile(r"--!?>")
_ABRUPT_COMMENT_END = re.compile(r"-?>")  # right after "<!--"
_DASHES_AT_END = re.compile(r"(?:--!?|-)\Z")  # of a comment the input ends in
_END_TAG_NAME = re.compile(r"[a-zA-Z][^\t\n\f\r />]*")
# What follows a tag's name up to its ">": attributes, whose quoted values
# may hold ">".  No match: the input ends inside the tag.
_TAG_REST = re.compile(
    r"""(?>
        [\t\n\f\r /]+
      | [^\t\n\f\r />][^\t\n\f\r />=]*+
        (?>[\t\n\f\r ]*+=[\t\n\f\r ]*+(?>"[^"]*+"?|'[^']*+'?|[^\t\n\f\r >]*+))?
    )*+>""",
    re.VERBOSE,
)
_SCRIPT_DATA = re.compile(r"<!--|</script(?=[\t\n\f\r />])", re.IGNORECASE)
_SCRIPT_ESCAPED = re.compile(r"-->|<(/?)script(?=[\t\n\f\r />])", re.IGNORECASE)


@functools.cache
def _raw_text_end(name: str) -> re.Pattern[str]:
    return re.compile(rf"</{name}(?=[\t\n\f\r />])", re.IGNORECASE)


def _script_end(rawdata: str, pos: int) -> int:
    """Where ``</script`` ends the script whose text starts at ``pos``; -1: none does."""
    while True:
        found = _SCRIPT_DATA.search(rawdata, pos)
        if found is None:
            return -1
        if found.group() != "<!--":
            return found.start()
        # Escaped: "-->" leaves (the dashes of "<!--" count: "<!-->"); a
        # nested <script> is double escaped until its </script>.
        pos = found.start() + 2
        double = False
        while True:
            found = _SCRIPT_ESCAPED.search(rawdata, pos)
            if found is None:
                return -1
            pos = found.end()
            if found.group() == "-->":
                break
            if found.group(1):  # </script
                if not double:
                    return found.start()
                double = False
            else:
                double = True


def _as_written(text: str) -> str:
    return text.replace("&amp;", "&") if "&" in text else text


class StandardReferencesTreeBuilder(HTMLParserTreeBuilder):
    """bs4's ``html.parser`` tree builder, reading character references as libxml2 does.

    Takes the options of :class:`bs4.builder.HTMLParserTreeBuilder`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Text comes to handle_data in runs between tags, not cut at each "&".
        self.parser_args[1]["convert_charrefs"] = True

    def feed(self, markup: Any, _parser_class: Any = _AsWrittenParser) -> None:
        assert isinstance(markup, str)  # prepare_markup yields str for html.parser
        super().feed(markup.replace("&", "&amp;"), _parser_class=_parser_class)


def parse_soup(text: str, parser: str) -> BeautifulSoup:
    """Parse ``text`` with bs4 on ``parser`` ("lxml" or "html.parser")."""
    text = text.strip(_ASCII_WHITESPACE)  # as the lxml engine's parse_html does
    if parser == "html.parser":
        soup: BeautifulSoup = _LibxmlShapedSoup(
            text, builder=StandardReferencesTreeBuilder, **HTML_PARSER_OPTIONS
        )
    else:
        soup = BeautifulSoup(text, parser, **SOUP_OPTIONS)
    _shape_document(soup)
    return soup


def _is_blank(node: Any) -> bool:
    return isinstance(node, NavigableString) and not isinstance(node, Comment) and not node.strip()


def _shape_document(soup: BeautifulSoup) -> None:
    """One ``<html>`` holding ``<head>`` (if any) and ``<body>``."""
    html = next((c for c in soup.contents if isinstance(c, Tag) and c.name == "html"), None)
    if html is None:
        html = soup.new_tag("html")
        # Leading comments (and the doctype) stay before <html>, as in libxml2.
        nodes = list(soup.contents)
        index = 0
        while index < len(nodes) and (
            isinstance(nodes[index], Doctype | Comment) or _is_blank(nodes[index])
        ):
            index += 1
        movable = nodes[index:]
        first = next((c for c in soup.contents if c in movable), None)
        if first is not None:
            first.insert_before(html)
        else:
            soup.append(html)
        for node in movable:
            html.append(node.extract())
    else:
        # libxml2 drops what follows </html>, apart from comments.
        after = False
        for node in list(soup.contents):
            if node is html:
                after = True
            elif after and not isinstance(node, Comment) and not _is_blank(node):
                node.extract()
    if (
        html.find("body", recursive=False) is None
        and html.find("frameset", recursive=False) is None
    ):
        _add_body(soup, html)


def _add_body(soup: BeautifulSoup, html: Tag) -> None:
    head = html.find("head", recursive=False)
    body = soup.new_tag("body")
    nodes = list(html.contents)
    index = 0
    if head is None:
        # Leading head elements go into a new <head>, as libxml2 does.
        leading = []
        while index < len(nodes) and (
            _is_blank(nodes[index])
            or isinstance(nodes[index], Comment)
            or (isinstance(nodes[index], Tag) and nodes[index].name in HEAD_ELEMENTS)
        ):
            leading.append(nodes[index])
            index += 1
        if any(isinstance(n, Tag) for n in leading):
            head = soup.new_tag("head")
            html.insert(0, head)
            for node in leading:
                head.append(node.extract())
        else:
            index = 0
    else:
        index = nodes.index(head) + 1
    rest = nodes[index:]
    while rest and _is_blank(rest[0]):
        rest.pop(0)
    html.append(body)
    for node in rest:
        body.append(node.extract())
