"""Anchors, frames and <link rel> in HTML as served (crawler.discovery.html, .page, .rels)."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse

from crawler.discovery.html import HtmlDiscovery
from crawler.discovery.page import PageDiscovery
from crawler.discovery.rels import navigational_rel
from crawler.discovery.screen import UrlScreen
from crawler.items import Link

BASE = "http://x.test/d/"


def page(body: str, head: str = "", url: str = BASE + "p.html") -> HtmlResponse:
    html = f"<html><head>{head}</head><body>{body}</body></html>"
    return HtmlResponse(url, body=html.encode(), encoding="utf-8")


@pytest.mark.parametrize(
    ("rel", "kind"),
    [
        ("next", "next"),
        ("Prev", "prev"),
        ("alternate", "alternate"),
        ("nofollow next", "next"),
        ("alternate stylesheet", None),
        ("stylesheet", None),
        ("icon", None),
        ("preload", None),
        ("search", None),
        ("", None),
        (None, None),
    ],
)
def test_navigational_rels(rel: str | None, kind: str | None) -> None:
    assert navigational_rel(rel) == kind


def test_each_kind_of_html_link() -> None:
    head = (
        '<link rel="next" href="2.html"><link rel="stylesheet" href="s.css">'
        '<link rel="alternate" hreflang="de" href=" de.html "><link rel="icon" href="i.png">'
    )
    body = (
        '<a href="a.html">A <b>text</b></a><map><area href="area.html"></map>'
        '<iframe src="frame.html#x"></iframe><a href="mailto:x@x.test">mail</a>'
        '<a href="#!/about">hash route</a><a href="javascript:void(0)">js</a>'
    )
    skipped: list[str] = []
    found = HtmlDiscovery(UrlScreen(skipped.append)).links(page(body, head))
    assert found == [
        Link(BASE + "a.html", "link", "A text"),
        Link(BASE + "area.html", "link", None),
        Link(BASE + "p.html", "link", "hash route"),  # #!/about is the page itself
        Link(BASE + "frame.html", "frame"),
        Link(BASE + "2.html", "rel", "next"),
        Link(BASE + "de.html", "rel", "alternate"),
    ]
    assert sorted(skipped) == [
        "crawler/links/skipped_scheme/javascript",
        "crawler/links/skipped_scheme/mailto",
    ]


def test_a_frameset_page_leads_to_its_frames() -> None:
    html = (
        b'<html><head><base href="http://x.test/f/"></head><frameset cols="1,2">'
        b'<frame src="nav.html"><frame src="main.html"></frameset></html>'
    )
    found = HtmlDiscovery(UrlScreen()).links(HtmlResponse(BASE, body=html))
    assert found == [
        Link("http://x.test/f/nav.html", "frame"),
        Link("http://x.test/f/main.html", "frame"),
    ]


def test_declarative_shadow_dom_links_are_found() -> None:
    body = '<div><template shadowrootmode="open"><a href="in-shadow.html">S</a></template></div>'
    assert HtmlDiscovery(UrlScreen()).links(page(body)) == [
        Link(BASE + "in-shadow.html", "link", "S")
    ]


def test_a_rendered_page_keeps_served_links_and_marks_script_links() -> None:
    served = page(
        '<a href="a.html">A</a><div><template shadowrootmode="open">'
        '<a href="shadow.html">S</a></template></div><iframe src="f.html"></iframe>'
    )
    rendered = page('<a href="a.html">A</a><a href="js.html">J</a><div></div>')
    found = PageDiscovery().links(rendered, served=served)
    assert found == [
        Link(BASE + "a.html", "link", "A"),
        Link(BASE + "js.html", "script", "J"),
        Link(BASE + "shadow.html", "link", "S"),  # gone from the rendered DOM
        Link(BASE + "f.html", "frame"),
    ]


def test_a_page_that_is_not_html_has_its_header_links_only() -> None:
    response = HtmlResponse(
        BASE + "doc.pdf", body=b'<a href="x.html">x</a>', headers={"Link": "<y.html>; rel=next"}
    )
    assert PageDiscovery().links(response, html=False) == [
        Link(BASE + "y.html", "header", "Link rel=next")
    ]
