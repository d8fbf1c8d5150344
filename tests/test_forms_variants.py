"""The submissions of one form: the default, other submit buttons, each other option
of its selects and radio groups, and sample values for empty fields."""

from __future__ import annotations

from scrapy.http import HtmlResponse

from crawler.forms.discovery import discover_forms
from crawler.forms.model import HtmlForm
from crawler.forms.variants import Variant, samples, variants
from crawler.safety import danger_pattern

PAGE = "http://example.com/list"
DANGER = danger_pattern()


def form(body: str) -> HtmlForm:
    html = f"<html><body>{body}</body></html>".encode()
    [found] = discover_forms(HtmlResponse(PAGE, body=html, encoding="utf-8"))
    return found


def labels(found: list[Variant]) -> list[str]:
    """The variants that are tried (dangerous ones are listed only to be counted)."""
    return [v.label for v in found if not v.dangerous]


def refused(found: list[Variant]) -> list[str]:
    return [v.label for v in found if v.dangerous]


FILTER = (
    '<form action="/list"><select name="cat"><option value="">All</option>'
    "<option>books</option><option>maps</option><option>films</option></select>"
    '<input type="radio" name="sort" value="new" checked><input type="radio" name="sort"'
    ' value="old"><input type="radio" name="sort" value="top">'
    '<select name="size"><option>s</option><option selected>m</option></select>'
    "<button>Filter</button></form>"
)


def test_the_default_comes_first_then_one_change_at_a_time_round_robin() -> None:
    f = form(FILTER)
    found = variants(f, {}, DANGER)
    assert labels(found) == [
        "default",
        "cat=books",
        "sort=old",
        "size=s",
        "cat=maps",
        "sort=top",
        "cat=films",
    ]
    default, *others = found
    assert default.submitter is f.submit and default.values == {}
    assert all(v.submitter is f.submit for v in others)
    # each variant changes one field from the defaults
    assert [v.values for v in others[:3]] == [{"cat": "books"}, {"sort": "old"}, {"size": "s"}]
    assert f.entries_for(None, others[1].values) == (
        ("cat", ""),
        ("sort", "old"),
        ("size", "m"),
    )


def test_supplied_values_are_kept_and_not_varied() -> None:
    found = variants(form(FILTER), {"cat": "maps"}, DANGER)
    assert labels(found) == ["default", "sort=old", "size=s", "sort=top"]
    assert all(v.values["cat"] == "maps" for v in found)


def test_other_submit_buttons() -> None:
    f = form(
        '<form action="/list"><input name="q" value="x"><button>Search</button>'
        '<button name="mode" value="advanced">Advanced</button>'
        "<button>Search again</button>"  # no name, same action: the default's request
        '<button formaction="/archive">Archive</button>'
        '<button name="act" value="del">Delete</button>'
        '<input type="submit" value="Remove all">'
        '<button formaction="/items/delete">Go</button>'
        '<button disabled formaction="/off">Off</button></form>'
    )
    found = variants(f, {}, DANGER)
    assert labels(found) == ["default", "submitter: Advanced", "submitter: Archive"]
    # "Remove all" has no name and no action of its own: the default's request, not tried
    assert refused(found) == ["submitter: Delete", "submitter: Go"]
    assert found[1].submitter is f.submitters[1]


def test_a_dangerous_default_button_is_never_clicked() -> None:
    f = form(
        '<form action="/items"><select name="id"><option>1</option><option>2</option></select>'
        '<button name="delete" value="1">Go</button><button name="view" value="1">View</button>'
        "</form>"
    )
    # the options are varied with the default button: not with that one
    found = variants(f, {}, DANGER)
    assert labels(found) == ["submitter: View"]
    assert refused(found) == ["default"]


def test_dangerous_options_and_radios_are_skipped() -> None:
    f = form(
        '<form action="/manage"><select name="action"><option>view</option>'
        '<option value="purge">Delete all</option><option>export</option>'
        '<option value="unsubscribe">Stop e-mails</option></select>'
        '<input type="radio" name="then" value="stay" checked>'
        '<input type="radio" name="then" value="log-out"><button>Apply</button></form>'
    )
    found = variants(f, {}, DANGER)
    assert labels(found) == ["default", "action=export"]
    assert refused(found) == ["action=purge", "then=log-out", "action=unsubscribe"]


def test_select_alternatives() -> None:
    f = form(
        '<form><select name="one"><option>a</option><option disabled>b</option>'
        "<option>a</option><option>c</option></select>"
        '<select name="many" multiple><option selected>x</option><option selected>y</option>'
        "</select>"
        '<select name="off" disabled><option>p</option><option>q</option></select></form>'
    )
    # disabled options and disabled selects are not chosen; a value is tried once; a
    # multiple select with several selected options is tried with each option alone
    assert labels(variants(f, {}, DANGER)) == ["default", "one=c", "many=x", "many=y"]


def test_samples_fill_empty_fields_a_user_types_into() -> None:
    f = form(
        '<form><input type="email" name="mail"><input type="number" name="n" min="5">'
        '<input name="city" list="cities"><datalist id="cities"><option value="Paris">'
        '<option value="Oslo"></datalist>'
        '<input type="search" name="q" value="kept"><input type="hidden" name="h">'
        '<input type="password" name="p"><input type="date" name="d" max="2020-01-01">'
        '<textarea name="t"></textarea><input name="given"><input name="off" disabled>'
        '<input type="checkbox" name="c"><input type="color" name="col">'
        '<select name="s"><option value="">-</option></select><input type="url" name="u">'
        '<input type="tel" name="tel"><input type="text" name="text"></form>'
    )
    assert samples(f, {"given": "x"}) == {
        "mail": "crawler@example.com",
        "n": "5",
        "city": "Paris",  # the page's own suggestion first
        "d": "2020-01-01",
        "t": "test",
        "u": "https://example.com/",
        "tel": "+1 555 0100",
        "text": "test",
    }


def test_the_pages_own_dangerous_choices_are_refused() -> None:
    """A pre-selected ``delete``, a checked ``unsubscribe``, a hidden ``action=delete``
    or ``_method=DELETE``: the default is refused; a safe option is still tried."""
    select = form(
        '<form action="/d"><select name="do"><option value="delete" selected>Delete item</option>'
        '<option value="view">View</option></select><button>Go</button></form>'
    )
    found = variants(select, {}, DANGER)
    assert (labels(found), refused(found)) == (["do=view"], ["default"])
    radio = form(
        '<form action="/r"><input type="radio" name="l" value="unsubscribe" checked>'
        '<input type="radio" name="l" value="stay"><button>Save</button></form>'
    )
    assert labels(variants(radio, {}, DANGER)) == ["l=stay"]
    for hidden in ('name="action" value="delete"', 'name="_method" value="PUT"'):
        f = form(f'<form action="/h"><input type="hidden" {hidden}><button>Yes</button></form>')
        assert labels(variants(f, {}, DANGER)) == []
    harmless = form(
        '<form action="/h"><input type="hidden" name="note" value="delete me later">'
        "<button>Yes</button></form>"
    )
    assert labels(variants(harmless, {}, DANGER)) == ["default"]  # not an action field
