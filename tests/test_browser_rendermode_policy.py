from __future__ import annotations

import pytest

from crawler.browser.rendermode import AdaptiveRenderPolicy, has_scripts, url_pattern

SCRIPTED = b"<html><script>document.write('x')</script></html>"
PLAIN = b"<html><body><a href='/x'>x</a></body></html>"


@pytest.mark.parametrize(
    ("url", "pattern"),
    [
        ("http://h/", "h/"),
        ("http://h", "h/"),
        ("http://h:8000/item/17.html", "h/item/{n}.html"),
        ("http://h/item/903.html?p=9&a=1", "h/item/{n}.html?a&p"),
        ("http://h/page1.html", "h/page{n}.html"),
        ("http://h/search.html?q=A", "h/search.html?q"),
    ],
)
def test_url_pattern(url: str, pattern: str) -> None:
    assert url_pattern(url) == pattern


def test_has_scripts() -> None:
    assert has_scripts(SCRIPTED)
    assert has_scripts(b"<SCRIPT src=x.js></SCRIPT>")
    assert not has_scripts(PLAIN)
    assert not has_scripts(b"<noscript>no</noscript><scripts>")


def test_pages_without_scripts_are_never_rendered() -> None:
    policy = AdaptiveRenderPolicy()
    assert not policy.should_render("http://h/a.html", PLAIN)


def test_a_type_is_sampled_then_skipped_when_its_scripts_add_no_links() -> None:
    policy = AdaptiveRenderPolicy(sample_size=2, resample_every=5)
    decisions = []
    for n in range(12):
        url = f"http://h/item/{n}.html"
        render = policy.should_render(url, SCRIPTED)
        decisions.append(render)
        if render:
            policy.learn(url, script_links=0)
    # two samples, then one render every fifth page of the type
    assert decisions == [
        True,
        True,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
        False,
        False,
        True,
    ]


def test_a_type_that_showed_script_links_is_always_rendered() -> None:
    policy = AdaptiveRenderPolicy(sample_size=2, resample_every=100)
    policy.learn("http://h/item/1.html", script_links=0)
    policy.learn("http://h/item/2.html", script_links=3)
    assert all(policy.should_render(f"http://h/item/{n}.html", SCRIPTED) for n in range(3, 50))
    # other types are unaffected
    policy.learn("http://h/about/1.html", 0)
    policy.learn("http://h/about/2.html", 0)
    assert not policy.should_render("http://h/about/3.html", SCRIPTED)


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AdaptiveRenderPolicy(sample_size=0)
