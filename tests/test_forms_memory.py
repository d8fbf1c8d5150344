"""``FormMemory``: submissions made, volatile hidden fields, forms that lead nowhere new."""

from __future__ import annotations

from scrapy.http import HtmlResponse

from crawler.forms.discovery import discover_forms
from crawler.forms.memory import FormMemory, page_digest
from crawler.forms.model import HtmlForm

PAGE = "http://example.com/search.aspx"
STEP = (
    '<form method="post" action="/wizard"><input type="hidden" name="state" value="{}">'
    '<input type="hidden" name="csrf_token" value="{}"><input name="q" value="lamp">'
    '<button name="go" value="1">Next</button></form>'
)


def form(body: str) -> HtmlForm:
    html = f"<html><body>{body}</body></html>".encode()
    [found] = discover_forms(HtmlResponse(PAGE, body=html, encoding="utf-8"))
    return found


def step(state: str, token: str = "t1") -> HtmlForm:
    return form(STEP.format(state, token))


def remember(memory: FormMemory, f: HtmlForm) -> None:
    memory.remember(f, f.submission(), f.entries)


def seen(memory: FormMemory, f: HtmlForm) -> bool:
    return memory.seen(f, f.submission(), f.entries)


def test_volatile_by_name() -> None:
    f = form(
        '<form><input type="hidden" name="__VIEWSTATE">'
        '<input type="hidden" name="__EVENTVALIDATION">'
        '<input type="hidden" name="authenticity_token"><input type="hidden" name="_ts">'
        '<input type="hidden" name="_"><input type="hidden" name="nonce">'
        '<input type="hidden" name="ts_extra"><input type="hidden" name="page">'
        '<input name="token"><input type="hidden" name="sessionkey"></form>'
    )
    assert FormMemory().volatile(f) == {
        "__VIEWSTATE",
        "__EVENTVALIDATION",
        "authenticity_token",
        "_ts",
        "_",
        "nonce",
    }  # a visible field called "token" is something the user types
    assert "sessionkey" in FormMemory(volatile_pattern="^session").volatile(f)


def test_volatile_fields_do_not_make_a_submission_new() -> None:
    memory = FormMemory()
    remember(memory, step("a", token="t1"))
    assert seen(memory, step("a", token="t2"))  # another CSRF token: the same submission
    assert not seen(memory, step("b", token="t1"))  # another state: a new one


def test_learned_from_a_copy_of_the_page_and_earlier_submissions_rekeyed() -> None:
    """Submitting the form gave back a copy of its page with another state."""
    memory = FormMemory()
    first, copy = step("a"), step("b")
    remember(memory, first)
    assert not seen(memory, copy)
    assert memory.learn(first.identity(), first.entries, [copy]) == ["state"]
    assert memory.volatile(copy) == {"state", "csrf_token"}
    # the submission remembered before the learning now matches the copy
    assert seen(memory, copy)
    assert seen(memory, step("c"))
    assert memory.learn(first.identity(), copy.entries, [step("d")]) == []  # learned once


def test_nothing_learned_when_the_values_sent_come_back() -> None:
    memory = FormMemory()
    first = step("a")
    assert memory.learn(first.identity(), first.entries, [step("a", token="t2")]) == []
    assert memory.volatile(first) == {"csrf_token"}  # by its name only


def test_a_different_form_shape_learns_apart() -> None:
    memory = FormMemory()
    first = step("a")
    other = form(STEP.replace('name="q"', 'name="query"').format("b", "t1"))
    assert memory.learn(first.identity(), first.entries, [other]) == []  # not the same form


def test_fruitless_submissions_exhaust_a_form_at_max_repeats() -> None:
    memory = FormMemory(max_repeats=3)
    f = step("a")
    shape = f.identity()
    assert [memory.fruitless(shape) for _ in range(3)] == [False, False, True]
    assert memory.exhausted(f)
    assert memory.exhausted(step("z"))  # the shape, whatever its values
    assert not memory.fruitless(shape)  # reported once
    assert not memory.exhausted(form('<form action="/other"><input name="q"></form>'))


def test_not_exhausted_before_max_repeats() -> None:
    memory = FormMemory(max_repeats=2)
    f = step("a")
    memory.fruitless(f.identity())
    assert not memory.exhausted(f)


def test_pages_and_digests() -> None:
    memory = FormMemory()
    digest = page_digest("Title", ["  Some\n text ", "more"])
    assert digest == page_digest("Title", ["Some text", "  ", "more"])  # whitespace collapsed
    assert digest != page_digest("Other", ["Some text", "more"])
    assert len(digest) == 16
    assert memory.page(digest)
    assert not memory.page(digest)


def test_a_position_named_token_is_state() -> None:
    f = form(
        '<form method="post"><input type="hidden" name="pageToken" value="T2">'
        '<input type="hidden" name="next_page_token" value="x">'
        '<input type="hidden" name="continuation_token" value="y">'
        '<input type="hidden" name="csrf_token" value="z"></form>'
    )
    assert FormMemory().volatile(f) == {"csrf_token"}
    assert "pageToken" in FormMemory(volatile_pattern="^page").volatile(f)  # the user decides
