"""Links in Link, Refresh and Content-Location headers (crawler.discovery.headers)."""

from __future__ import annotations

import pytest
from scrapy.http import Response

from crawler.discovery.headers import header_links, parse_link_header, refresh_target
from crawler.discovery.screen import UrlScreen
from crawler.items import Link

PAGE = "http://x.test/a/page.html"


def links(headers: list[tuple[str, str]]) -> list[Link]:
    response = Response(PAGE, headers=[(n.encode(), v.encode()) for n, v in headers])
    return header_links(response, UrlScreen())


def test_link_header_values_and_params() -> None:
    value = (
        '</next>; rel="next"; title="Page, two", <https://y.test/s.css>;rel=stylesheet,'
        " <a b>; REL=Alternate; rel=ignored; hreflang=fr"
    )
    assert parse_link_header(value) == [
        ("/next", {"rel": "next", "title": "Page, two"}),
        ("https://y.test/s.css", {"rel": "stylesheet"}),
        ("a b", {"rel": "Alternate", "hreflang": "fr"}),  # the first rel counts
    ]


def test_garbage_in_a_link_header_is_skipped_up_to_the_next_comma() -> None:
    assert parse_link_header("nonsense, </ok>; rel=next junk, </also>; rel=prev") == [
        ("/ok", {"rel": "next"}),
        ("/also", {"rel": "prev"}),
    ]
    assert parse_link_header("") == []


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ("5; url=/next", "/next"),
        ("0;URL='http://x.test/q'", "http://x.test/q"),
        ('3, url="next.html"', "next.html"),
        ("1.5; next.html", "next.html"),
        ("30", None),
        ("", None),
    ],
)
def test_refresh_targets(value: str, target: str | None) -> None:
    assert refresh_target(value) == target


def test_header_links_are_navigational_resolved_and_not_the_page_itself() -> None:
    found = links(
        [
            ("Link", '<2.html>; rel="next", </style.css>; rel=stylesheet'),
            ("Link", '</other>; rel=next; anchor="/elsewhere", <page.html>; rel=canonical'),
            ("Link", '<mailto:a@x.test>; rel=author, </alt.css>; rel="alternate stylesheet"'),
            ("Refresh", "5; url=/later#part"),
            ("Content-Location", "page.en.html"),
        ]
    )
    assert found == [
        Link("http://x.test/a/2.html", "header", "Link rel=next"),
        Link("http://x.test/later", "header", "Refresh"),
        Link("http://x.test/a/page.en.html", "header", "Content-Location"),
    ]


def test_a_content_location_that_is_the_page_is_no_link() -> None:
    assert links([("Content-Location", PAGE)]) == []
