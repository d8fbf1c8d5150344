"""Malformed markup builds one tree on every engine: libxml2's (crawler/extract/soup.py).

Each snippet is compared as the whole ``<html>`` serialised (``take: html``),
so a comment, a misplaced element or a whitespace string that differs shows.
The tokenizer cases (comments, bogus comments, tags, raw text) are what the
HTML standard gives, as Chromium and libxml2 2.14 do; the tree cases are
libxml2's own rules (see crawler/extract/README.md, "Malformed markup").
``tests/golden/`` holds whole pages of each kind.
"""

from __future__ import annotations

import random

import pytest

from crawler.extract.engines import ENGINE_NAMES, get_engine
from crawler.extract.spec import FieldSpec, ItemSpec

TREE = ItemSpec(name="tree", fields=[FieldSpec("html", "css:html", take="html")])
OTHER_ENGINES = [name for name in ENGINE_NAMES if name != "lxml"]

COMMENTS = [
    "<p>a</p><!-- x --!>\n<p>b</p>",
    "<p>a</p><!-->b<p>c</p>",
    "<p>a</p><!--->b<p>c</p>",
    "<p>a</p><!---->b",
    "<p>a</p><!-- x -- y -->b",
    "<p>a</p><!-- x <!-- y -->b",
    "<p>a</p><!-- x --!b -->c",
    "<p>a</p><!-- x ---->b",
    "<p>a</p><!-- x ---!>b",
    "<p>a</p><!-- x -- >b-->c",
    "<p>a</p><!-- x --!-->b",
    "<p>a</p><!---x-->b<!---!>c-->d",
    "<p>a</p><!-- never closed <p>b</p>",
    "<p>a</p><!-- never closed --!",
    "<p>a</p><!-- never closed --",
    "<p>a</p><!-- never closed -",
    "<p>a</p><!-- never closed ---",
    "<p>a</p><!--",
    "<p>a</p><!---",
    "<p>a</p><!-",
    "<!-- c -->\n<p>a</p><!-- d -->b",
    "<title>t</title><!-- in the head --><p>x</p>",
    "<p>a</p><!--  -->b",
]
BOGUS_COMMENTS = [
    "<p>a</p><!x y>b<p>c</p>",
    "<p>a</p><! x >b",
    "<p>a</p><!>b",
    "<p>a</p><!->b",
    "<p>a</p><!-x->b",
    "<p>a</p><!x never closed <p>b</p>",
    "<p>a</p></ x>b</p>",
    "<p>a</p></3>b",
    "<p>a</p></ never closed <p>b</p>",
    "<p>a</p><?php echo 1 ?>b",
    '<p>a</p><?xml version="1.0"?>b',
    "<p>a</p><? never closed <p>b</p>",
    "<p>a</p><![CDATA[x<y]]>b",
    "<p>a</p><![CDATA[x never closed <p>b</p>",
    "<p>a</p><!DOCTYPE html>b",
    "<p>a</p></",
]
TAGS = [
    '<p>a</p><div class="x',
    "<p>a</p><div",
    "<p>a</p>x<b",
    "<p>a</p></div",
    '<a href="x>y</a><p>z</p>',
    "<p>a</p><a href='x>y</a><p>z</p>",
    '<p>a</p foo="</div>">b',
    "<p>x</p></ p>y",
    "<div a==2>t</div>",
    "<div '='>t</div><p>u</p>",
    "<div ==\"a'>t</div><p>u</p>",
    "<div =='a >t</div>",
    "<div \xa0>t</div>",
    "<a href=x\xa0y title=z>t</a>",
    "<div \x0b>t</div>",
    "<div >\r>t</div>\r\n<p title='a\r\nb'>c</p>",
    "<p>a</p><a&b x>t</a&b>",
    "<p>s</p><span</ul><p><title>",
]
RAW_TEXT = [
    "<p>x</p><script><!--<script>a</script>b</script>c",
    "<p>x</p><script><!--a</script>b",
    "<p>x</p><script><!-- a --><script>b</script>c",
    "<p>x</p><script>a</script/>b",
    "<p>x</p><script>a</ script>b</script>c",
    '<p>x</p><script>a</script x=">">b',
    '<p>x</p><textarea>a</textarea x=">">b',
    '<p>x</p><title>a</title x=">">b',
    "<p>x</p><style>a</style",
    "<p>x</p><style>a</style x",
    "<p>x</p><xmp>a</xmp\t>b",
]
TREES = [
    "<html><head><title>t</title><body><p>x</p></body></html>",
    "<html><head><title>t</title><p>x</p></html>",
    "<head><title>t</title><body>x",
    "<html><head><title>t</title><base href=/x/><meta a=b>text<p>x</p></html>",
    "<html><head><title>t</title><noscript><link rel=x></noscript><body>x</body></html>",
    "<p>a</p></body><p>b</p>",
    "<p>a</p></body></html><p>b</p>",
    "<p>a</p></html><p>b</p>",
    "<p>a</body>b</p>c",
    "<title>t</title></head><body>x",
    "<p>x</p><head><title>t</title></head>",
    "<p>x</p><body class=b>y</body>z",
    "<p>x</p><html lang=en>y",
    "<body>a</body><body class=x>b",
    "<head></head><title>t</title>",
    "<head>text<title>t</title>",
    "<title>t</title>\n<meta a=b>\n x",
    "<frameset><frame src=a></frameset>",
    "<p><title>t</title>",
    "<p><xmp>x</xmp>",
    "<big><p>x</big>y",
    "<p><listing>x</listing>",
    "<listing><li>x",
    "<p>a<body>b",
    "<!-- only a comment -->",
    "<!DOCTYPE html>",
]
VOID = [
    "<picture><source srcset=a><source srcset=b><img src=c></picture><p>after</p>",
    "<video><source src=a><track src=b>fallback</video><p>after</p>",
    "<p>long<wbr>word</p><p>after</p>",
    "<div><embed src=x>text</div><p>after</p>",
    "<div><bgsound src=x>text</div>",
    "<div><keygen name=x>text</div>",
    "<div><spacer>text</div>",
    "<div><basefont size=3>text</div>",
]


def tree(engine_name: str, markup: str) -> str | None:
    (item,) = get_engine(engine_name).extract(TREE, markup.encode(), "http://h/")
    value: str | None = item.data["html"]
    return value


@pytest.mark.parametrize("engine_name", OTHER_ENGINES)
@pytest.mark.parametrize("markup", COMMENTS + BOGUS_COMMENTS + TAGS + RAW_TEXT + TREES + VOID)
def test_same_tree_as_lxml(engine_name: str, markup: str) -> None:
    assert tree(engine_name, markup) == tree("lxml", markup)


# Pieces of markup for random documents: structure, comments, tags, raw text
# (no <frameset>: text starting with "<" in it is a known difference).
PIECES = [
    "<html>", "</html>", "<head>", "</head>", "<body>", "</body>", "<body class=b>",
    "<title>t</title>", "<meta a=b>", "<script>s</script>", "<style>y</style>", "<p>", "</p>",
    "<div>", "</div>", "<b>", "</b>", "<li>", "<table>", "<td>", "<noscript>",
    "text", " ", "\n", "\r", "x&amp;y", "&", "<", "<3", "< ", ">", "=", '"', "'", "-", "!", "/",
    "<!--", "-->", "--!>", "<!-->", "<!--->", "<!", "</", "<?", "<![CDATA[", "]]>",
    "<!DOCTYPE html>", "<div class=", "<a href=", "<div ", "<span", "</span>", "<br>", "</br>",
    "<br/>", "<div/>", "<script>", "</script>", "</script x>", "<!--<script>", "<textarea>",
    "</textarea>", "<xmp>", "</xmp >", "<plaintext>", "<source>", "<wbr>", "\xa0", "==",
]  # fmt: skip


@pytest.mark.parametrize("engine_name", OTHER_ENGINES)
@pytest.mark.parametrize("seed", range(4))
def test_random_documents_same_tree_as_lxml(engine_name: str, seed: int) -> None:
    pick = random.Random(seed)
    for _ in range(300):
        markup = "".join(pick.choice(PIECES) for _ in range(pick.randint(1, 12)))
        assert tree(engine_name, markup) == tree("lxml", markup), markup


def test_comment_and_whitespace_strings_kept_as_written() -> None:
    # bs4 would make "<!---->" and a whitespace-only string one space.
    markup = "<div><!----><!--  --><span>a</span>  \n <span>b</span>\r\n</div>"
    expected = "<body><div><!----><!--  --><span>a</span>  \n <span>b</span>\n</div></body>"
    for engine_name in ENGINE_NAMES:
        assert tree(engine_name, markup) == expected, engine_name
