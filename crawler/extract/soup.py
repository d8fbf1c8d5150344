"""BeautifulSoup trees shaped like the tree libxml2 (lxml) builds.

bs4 on the lxml parser already gets libxml2's tree.  For Python's
``html.parser`` this module makes bs4 build the same tree, in two layers:

- **Reading the markup** (:class:`_AsWrittenParser`): html.parser reads
  comments, bogus comments, tags, raw text and character references by older
  rules than the HTML standard's, and differently from one Python release to
  the next.  Here its loop over the text is kept, and the markup is read by
  the standard's tokenizer (WHATWG HTML 13.2.5), as libxml2 2.14 reads it:
  comments (``--!>`` ends one, ``<!-->`` is empty, an unclosed one runs to
  the end), bogus comments (``<!x>``, ``</ x>``, ``<?x>``), attributes,
  tags cut by the end of the input, raw text and its end tag, character
  references (decoded by :mod:`crawler.extract.charrefs`).
- **Building the tree** (:class:`_LibxmlShapedSoup`): html.parser closes
  nothing implicitly, so ``<li>a<li>b`` nests.  The soup replays, event by
  event, the rules libxml2 2.14 applies (measured on it): implied end tags
  (:data:`CLOSED_BY`), end tags that do not close through an element of
  higher priority (:data:`END_PRIORITY`), the implied and misplaced
  ``<html>``, ``<head>`` and ``<body>``, content after ``</html>`` dropped.

For both parsers strings are kept as the parser gave them (bs4 would turn a
whitespace-only string into one space), and a document with no element gets
``<html><body></body></html>``, as the lxml engine does.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from bs4 import BeautifulSoup, Comment, Doctype, Tag
from bs4.builder import HTMLParserTreeBuilder
from bs4.builder._htmlparser import BeautifulSoupHTMLParser

from crawler.extract.charrefs import decode_attribute, decode_text
from crawler.extract.text import ESCAPABLE_RAW_TEXT_ELEMENTS, RAW_TEXT_ELEMENTS, VOID_ELEMENTS

# CLOSED_BY[new] = the open elements a start tag of `new` closes (when they are
# the current element; repeated while the next one qualifies too).
_CLOSES: dict[str, str] = {
    "a": "a",
    "address": "p ul",
    "blockquote": "p",
    "body": "p",
    "caption": "p",
    "center": "b font i p",
    "col": "caption p",
    "colgroup": "caption colgroup p",
    "dd": "address dir dt listing menu p pre",
    "dir": "p",
    "div": "p",
    "dl": "address dir dt listing menu p pre",
    "dt": "address dd dir listing menu p pre",
    "fieldset": "a h1 h2 h3 h4 h5 h6 legend listing p pre",
    "frameset": "p",
    "form": "address dir dl form h1 h2 h3 h4 h5 h6 listing menu ol p pre ul",
    "h1": "p",
    "h2": "p",
    "h3": "p",
    "h4": "p",
    "h5": "p",
    "h6": "p",
    "head": "p",
    "hr": "p",
    "listing": "p",
    "li": "address dl h1 h2 h3 h4 h5 h6 li listing p pre",
    "menu": "p ul",
    "ol": "p",
    "optgroup": "option",
    "option": "option",
    "p": "b big h1 h2 h3 h4 h5 h6 i p s small strike tt u",
    "pre": "p ul",
    "table": "a h1 h2 h3 h4 h5 h6 listing p pre",
    "tbody": "caption colgroup p tbody td tfoot th thead tr",
    "td": "a b font i p span td th u",
    "tfoot": "caption colgroup p tbody td th thead tr",
    "th": "a b font i p span td th u",
    "thead": "caption colgroup",
    "title": "p",
    "tr": "caption colgroup p td th tr",
    "ul": "address dir listing menu p pre",
    "xmp": "p",
}
# An end tag does not close through an open element of higher priority.
END_PRIORITY: dict[str, int] = {
    "div": 150, "td": 160, "th": 160, "tr": 170, "thead": 180, "tbody": 180,
    "tfoot": 180, "table": 190, "head": 200, "body": 200, "html": 220,
}  # fmt: skip
DEFAULT_END_PRIORITY = 100
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"  # what bytes.strip() strips
HEAD_ELEMENTS = frozenset({"base", "link", "meta", "script", "style", "title"})
# Start tags that close an open <head> (when it is the current element).
_CLOSE_HEAD = (
    "a abbr acronym address b bdo big blockquote body br center cite code dd dfn dir div dl "
    "dt em fieldset font form frameset h1 h2 h3 h4 h5 h6 hr i iframe img kbd li listing map "
    "menu ol p pre q s samp small span strike strong sub sup table tt u ul var xmp"
)
_CLOSES_HEAD = frozenset(_CLOSE_HEAD.split())
CLOSED_BY: dict[str, frozenset[str]] = {
    new: frozenset(_CLOSES.get(new, "").split()) | ({"head"} if new in _CLOSES_HEAD else set())
    for new in _CLOSES.keys() | _CLOSES_HEAD
}
_DOCUMENT_ELEMENTS = frozenset({"html", "head", "body"})
_OWN_ELEMENTS = frozenset({"head", "body"})
_FRAME_ELEMENTS = frozenset({"frameset", "frame", "noframes"})
_OUTSIDE_BODY = frozenset({"[document]", "html", "head"})  # where text implies <body>
_BLANKS = " \t\n\f\r"  # what libxml2 counts as blank text (HTML whitespace)

# Attribute values stay strings ("a b", not ["a", "b"]); with html.parser
# the first of duplicate attributes wins, as in libxml2.
SOUP_OPTIONS: dict[str, Any] = {"multi_valued_attributes": None}
# The elements without content are libxml2's (bs4's list has <source>, <wbr>,
# <bgsound>...).
HTML_PARSER_OPTIONS: dict[str, Any] = {
    **SOUP_OPTIONS,
    "on_duplicate_attribute": "ignore",
    "empty_element_tags": VOID_ELEMENTS,
}


class _Soup(BeautifulSoup):
    """A soup that keeps strings as the parser gave them.

    bs4 turns a string of whitespace only (a comment's too: ``<!---->``)
    into one space or newline; libxml2 keeps it.
    """

    def endData(self, containerClass: Any = None) -> None:
        if self.current_data:
            data = "".join(self.current_data)
            self.current_data = []
            self.object_was_parsed(self.string_container(containerClass)(data))


class _LibxmlShapedSoup(_Soup):
    """A soup whose tag events build the tree libxml2 2.14 builds (measured on it).

    - A start tag first closes the current element while the pair is in
      :data:`CLOSED_BY` (``<p>`` closes ``<p>``, ``<div>`` closes ``<head>``).
    - Then the implied elements: ``<html>`` when none is open; ``<head>``
      for a head element (``<title>``, ``<meta>``...) met directly in
      ``<html>`` before any ``<head>``; ``<body>`` for anything else
      (``<frameset>``, ``<frame>``, ``<noframes>`` apart) until a ``<body>``
      has been opened.  Text other than whitespace closes an open ``<head>``
      and implies ``<body>`` the same way.
    - ``<html>`` inside ``<html>``, ``<head>`` anywhere but directly in
      ``<html>``, ``<body>`` inside ``<body>`` are dropped, attributes
      included, and so is the next ``</html>``, ``</body>`` or ``</head>``.
    - An end tag is ignored when an element of higher end priority is open
      above its match (``</b>`` does not close an open ``<div>``); so
      ``</body>`` closes everything in ``<body>``, and what follows goes into
      ``<html>``.  After ``</html>`` the rest of the page is dropped (comments
      go outside ``<html>``).
    """

    def reset(self) -> None:
        super().reset()
        self._seen = 0  # as libxml2's ctxt->html: 3 once a <head> was opened, 10 a <body>
        self._ignored_ends = 0  # end tags owed to dropped <html>, <head>, <body>
        self._ended = False  # </html> closed the document

    def handle_starttag(
        self, name: str, namespace: Any, nsprefix: Any, attrs: Any, *args: Any, **kwargs: Any
    ) -> Tag | None:
        if not self.prepare_start(name):
            return None
        return self._open(name, namespace, nsprefix, attrs, *args, **kwargs)

    def prepare_start(self, name: str) -> bool:
        """What a start tag of ``name`` does before it is built; false: it is dropped.

        libxml2 does this much for a start tag that the end of the input cuts.
        """
        if self._ended:
            return False
        stack = self.tagStack
        closes = CLOSED_BY.get(name)
        if closes:
            while len(stack) > 1 and stack[-1].name in closes:
                self.endData()
                self.popTag()
        if name == "html":
            if len(stack) > 1:
                self._ignored_ends += 1
                return False
        else:
            self._open_implied(name)
            if (name == "head" and len(stack) != 2) or (
                name == "body" and any(tag.name == "body" for tag in stack)
            ):
                self._ignored_ends += 1
                return False
        return True

    def _open(self, name: str, *args: Any, **kwargs: Any) -> Tag | None:
        if name == "head":
            self._seen = max(self._seen, 3)
        elif name == "body":
            self._seen = 10
        return super().handle_starttag(name, *args, **kwargs)

    def _open_implied(self, name: str) -> None:
        """libxml2's htmlCheckImplied: the <html>, <head> or <body> that ``name`` needs."""
        stack = self.tagStack
        if len(stack) == 1:
            self._open("html", None, None, {})
        if name in _OWN_ELEMENTS:
            return
        if len(stack) == 2 and name in HEAD_ELEMENTS:
            if self._seen < 3:
                self._open("head", None, None, {})
        elif (
            name not in _FRAME_ELEMENTS
            and self._seen < 10
            and not any(tag.name in _OWN_ELEMENTS for tag in stack)
        ):
            self._open("body", None, None, {})

    def handle_data(self, data: str) -> None:
        current = self.currentTag.name
        if current in _OUTSIDE_BODY:
            if self._ended:
                return
            text = data.lstrip(_BLANKS)
            if text:
                if len(text) < len(data):  # leading blanks stay where they are
                    super().handle_data(data[: len(data) - len(text)])
                    data = text
                if current == "head":
                    self.endData()
                    self.popTag()
                self._open_implied("#text")
        super().handle_data(data)

    def handle_endtag(self, name: str, nsprefix: str | None = None) -> None:
        if self._ended:
            return
        if self._ignored_ends and name in _DOCUMENT_ELEMENTS:
            self._ignored_ends -= 1
            return
        priority = END_PRIORITY.get(name, DEFAULT_END_PRIORITY)
        for tag in reversed(self.tagStack[1:]):
            if tag.name == name:
                break
            if END_PRIORITY.get(tag.name, DEFAULT_END_PRIORITY) > priority:
                return  # libxml2 ignores this end tag
        else:
            return  # nothing to close
        super().handle_endtag(name, nsprefix)
        if name == "html":
            self._ended = True


class _AsWrittenParser(BeautifulSoupHTMLParser):
    """bs4's html.parser events, read by the HTML standard's tokenizer where html.parser is not.

    **Character references.**  It is fed markup whose every ``&`` is escaped
    as ``&amp;`` (see :class:`StandardReferencesTreeBuilder`): where
    html.parser decodes (text between tags) it gives back the text as
    written; in what is read here (tags, attributes, raw text, comments)
    ``&amp;`` is turned back into ``&``.  Then :mod:`crawler.extract.charrefs`
    decodes text, attribute values and escapable raw text by the standard.

    **The markup** is read by the HTML standard's tokenizer (WHATWG HTML
    13.2.5, the states named below), where html.parser reads by older rules
    (and differently from one Python release to the next); only its loop
    over the text (``goahead``) is kept:

    - comments: ``<!-->`` and ``<!--->`` are empty; a comment ends at the
      first ``-->`` or ``--!>``; ``--`` and ``<!--`` inside are text; one
      that is not closed runs to the end (comment states, 13.2.5.43-52);
    - ``<!`` not followed by ``--`` or ``DOCTYPE``, ``</`` followed by
      neither a letter nor ``>``, and ``<?``, are bogus comments ending at
      the first ``>`` or the end (13.2.5.41-42, 13.2.5.6-7); so is
      ``<![CDATA[``, as outside SVG and MathML (libxml2 reads it so there
      too);
    - start tags and their attributes (13.2.5.8, 13.2.5.32-40): ``a==b`` is
      ``=b``, a quote right after ``=`` opens a value that may hold ``>``,
      only ASCII whitespace separates; end tags end at their ``>``, past
      quoted attribute values (``</p x=">">``); a tag cut by the end of the
      input is dropped (eof-in-tag), after what its name does to the tree;
    - raw text (``<script>``...) ends at ``</name`` followed by whitespace,
      ``/`` or ``>``, whatever follows up to the end tag's ``>``; in
      ``<script>``, ``<!--`` opens the escaped states, where a nested
      ``<script>`` must be closed before ``</script>`` ends the element
      (13.2.5.4-5, 13.2.5.15-31).

    The whole document is in ``rawdata`` (bs4 feeds it in one call), so
    reaching the end of ``rawdata`` is the end of the input: these methods
    never return -1, and html.parser's own end-of-input handling never runs.
    """

    def parse_starttag(self, i: int) -> int:
        rawdata = self.rawdata
        tag = _START_TAG.match(rawdata, i)
        if tag is None:  # the input ends inside the tag: dropped
            cut = _TAG_NAME.match(rawdata, i + 1)
            assert cut is not None  # goahead calls this on "<" + letter
            self.soup.prepare_start(_as_written(cut.group()).lower())
            return len(rawdata)
        name, rest = tag.group(1, 2)
        name = self.lasttag = _as_written(name).lower()
        attrs: list[tuple[str, str | None]] = []
        self_closing = False
        if rest:
            end = 0
            for attr in _ATTRIBUTE.finditer(rest):
                key, value = attr.group(1, 2)
                if value and value[0] in "\"'":
                    value = value[1:-1]
                if value and "&" in value:
                    value = decode_attribute(_as_written(value))
                attrs.append((_as_written(key).lower(), value))
                end = attr.end()
            # "/>" closes, unless the "/" ends an unquoted value (<a href=x/>).
            self_closing = rest[-1] == "/" and end < len(rest)
        if self_closing:
            self.handle_startendtag(name, attrs)
            return tag.end()
        self.handle_starttag(name, attrs)
        if name in _RAW_TEXT:
            self.cdata_elem = name
            return self._parse_raw_text(tag.end())
        return tag.end()

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
        name = _TAG_NAME.match(rawdata, i + 2)
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
        if len(self.soup.tagStack) > 1:
            return  # a doctype inside the document: dropped, as libxml2 does
        # Not through bs4's handle_decl, whose text would imply a <body>.
        self.soup.endData()
        self.soup.object_was_parsed(Doctype(_as_written(decl)[len("DOCTYPE ") :]))


# The HTML standard's tokenizer, where html.parser reads otherwise (see above).
_COMMENT_END = re.compile(r"--!?>")
_ABRUPT_COMMENT_END = re.compile(r"-?>")  # right after "<!--"
_DASHES_AT_END = re.compile(r"(?:--!?|-)\Z")  # of a comment the input ends in
_TAG_NAME = re.compile(r"[a-zA-Z][^\t\n\f\r />]*")
# What follows a tag's name up to its ">": attributes, whose quoted values
# may hold ">" (13.2.5.32-40).  No match: the input ends inside the tag.
_ATTRIBUTES = r"""(?>
    [\t\n\f\r /]+
  | [^\t\n\f\r />][^\t\n\f\r />=]*+
    (?>[\t\n\f\r ]*+=[\t\n\f\r ]*+(?>"[^"]*+"?|'[^']*+'?|[^\t\n\f\r >]*+))?
)*+"""
_TAG_REST = re.compile(_ATTRIBUTES + ">", re.VERBOSE)
_START_TAG = re.compile(rf"<([a-zA-Z][^\t\n\f\r />]*+)({_ATTRIBUTES})>", re.VERBOSE)
# One attribute in what _ATTRIBUTES matched: its name and value (quotes kept).
_ATTRIBUTE = re.compile(
    r"""([^\t\n\f\r />][^\t\n\f\r />=]*)
    (?:[\t\n\f\r ]*=[\t\n\f\r ]*("[^"]*"|'[^']*'|[^\t\n\f\r >]*))?""",
    re.VERBOSE,
)
_RAW_TEXT = RAW_TEXT_ELEMENTS | ESCAPABLE_RAW_TEXT_ELEMENTS
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
        if "\r" in text:  # newlines normalised before tokenizing (13.2.3.5)
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        soup: BeautifulSoup = _LibxmlShapedSoup(
            text, builder=StandardReferencesTreeBuilder, **HTML_PARSER_OPTIONS
        )
    else:
        soup = _Soup(text, parser, **SOUP_OPTIONS)
    _shape_document(soup)
    return soup


def _shape_document(soup: BeautifulSoup) -> None:
    """The tree under one ``<html>``, as the lxml engine has it.

    With nothing but comments, a doctype or whitespace, libxml2 builds no
    ``<html>`` and the lxml engine parses ``<html><body></body></html>``
    instead.  What follows ``</html>`` (bs4 on lxml gets it from libxml2's
    events) is dropped, apart from comments.
    """
    html = None
    for node in list(soup.contents):
        if html is None:
            if isinstance(node, Tag) and node.name == "html":
                html = node
        elif not isinstance(node, Comment):
            node.extract()
    if html is None:
        html = soup.new_tag("html")
        html.append(soup.new_tag("body"))
        soup.append(html)
