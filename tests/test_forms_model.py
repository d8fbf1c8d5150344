"""The form model on served HTML: form owners, disabled controls, submitters,
the entry list and the form's encoding (HTML Standard, 4.10.17-4.10.21).

The same rules on the live page, against Chromium's own entry list, are in
tests/test_forms_live.py.
"""

from __future__ import annotations

import lxml.html
import pytest
from lxml import etree
from scrapy.http import HtmlResponse

from crawler.forms.discovery import discover_forms, find_forms
from crawler.forms.model import HtmlForm, form_encoding

PAGE = "http://example.com/dir/page.html"


def forms_of(body: str, head: str = "", encoding: str = "utf-8") -> list[HtmlForm]:
    html = f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"
    return discover_forms(HtmlResponse(PAGE, body=html.encode(encoding), encoding=encoding))


def only_form(body: str, head: str = "", encoding: str = "utf-8") -> HtmlForm:
    [form] = forms_of(body, head, encoding)
    return form


def names(form: HtmlForm) -> list[str]:
    return [control.name for control in form.controls]


# -- form owners (4.10.17.3 Association of controls and forms) -----------------------


def test_the_form_attribute_names_the_form_owner() -> None:
    first, second = forms_of(
        '<form id="one"><input name="a"></form>'
        '<input name="b" form="one">'  # outside any form
        '<form id="two"><input name="c" form="one"><input name="d"></form>'  # inside another
    )
    assert names(first) == ["a", "b", "c"]  # tree order
    assert names(second) == ["d"]
    assert first.entries == (("a", ""), ("b", ""), ("c", ""))


@pytest.mark.parametrize(
    "form_attribute",
    ['form="notaform"', 'form="missing"', 'form=""'],
)
def test_a_form_attribute_naming_no_form_leaves_the_control_without_one(
    form_attribute: str,
) -> None:
    form = only_form(
        f'<div id="notaform"></div><form><input name="a"><input name="b" {form_attribute}></form>'
    )
    assert names(form) == ["a"]


def test_a_control_belongs_to_its_nearest_form_ancestor() -> None:
    # No parser builds nested forms (the HTML parser ignores a <form> tag inside a
    # form), but a script can: the nearest ancestor owns the control.
    root = lxml.html.fromstring("<html><body></body></html>")
    outer = etree.SubElement(root.find("body"), "form", id="outer")
    etree.SubElement(outer, "input", name="x")
    inner = etree.SubElement(outer, "form", id="inner")
    etree.SubElement(inner, "input", name="y")
    etree.SubElement(outer, "input", name="z")
    found = find_forms(root, page_url=PAGE, base_url=PAGE)
    assert [(f.element_id, names(f)) for f in found] == [("outer", ["x", "z"]), ("inner", ["y"])]


def test_controls_in_templates_and_datalists_have_no_form() -> None:
    form = only_form(
        '<form><input name="a" list="dl"><datalist id="dl"><option value="s1">'
        '<option value="s2" disabled><input name="in-list"><select name="s"></select>'
        '</datalist><template><input name="in-template"><button>T</button></template></form>'
    )
    assert names(form) == ["a"]
    assert form.controls[0].suggestions == ("s1",)
    assert form.submit is None


# -- disabled controls (4.10.18.5) ---------------------------------------------------


def test_disabled_fieldsets_except_their_first_legend() -> None:
    form = only_form(
        '<form><fieldset disabled><legend><input name="first-legend"></legend>'
        '<legend><input name="second-legend"></legend><input name="inside"></fieldset>'
        '<fieldset disabled><fieldset><legend><input name="inner-legend"></legend>'
        "</fieldset></fieldset>"
        '<fieldset><legend><input name="enabled-fieldset"></legend></fieldset>'
        '<input name="off" disabled></form>'
    )
    disabled = {c.name: c.disabled for c in form.controls}
    assert disabled == {
        "first-legend": False,
        "second-legend": True,
        "inside": True,
        "inner-legend": True,  # the first legend of an enabled fieldset inside a disabled one
        "enabled-fieldset": False,
        "off": True,
    }
    assert form.entries == (("first-legend", ""), ("enabled-fieldset", ""))


# -- submitters and the submission (4.10.21.3) ---------------------------------------


def test_submitter_overrides() -> None:
    form = only_form(
        '<form action="/a" method="post" enctype="multipart/form-data" target="frame">'
        '<button disabled name="off">Off</button>'
        "<button>Default</button>"
        '<button formaction="b?x=1#f" formmethod="bogus">B</button>'
        '<button formmethod="DIALOG">C</button>'
        '<input type="submit" formenctype="TEXT/PLAIN" formtarget=" _self ">'
        '<button formenctype="application/json">E</button>'
        '<button type="button" formaction="/never">Not a submitter</button></form>'
    )
    default, b, c, d, e = form.submitters
    assert form.submit is default
    assert (form.action, form.method, form.enctype, form.target) == (
        "http://example.com/a",
        "POST",
        "multipart/form-data",
        "frame",
    )
    # the form's own attributes, whatever the default button says
    assert (form.form_action, form.form_method, form.form_enctype, form.form_target) == (
        "http://example.com/a",
        "POST",
        "multipart/form-data",
        "frame",
    )
    how = [form.submission(s) for s in (b, c, d, e)]
    assert [(h.action, h.method, h.enctype, h.target) for h in how] == [
        # an invalid formmethod is GET, and a GET is always URL-encoded
        ("http://example.com/dir/b?x=1", "GET", "application/x-www-form-urlencoded", "frame"),
        ("http://example.com/a", "DIALOG", "multipart/form-data", "frame"),
        ("http://example.com/a", "POST", "text/plain", "_self"),
        ("http://example.com/a", "POST", "application/x-www-form-urlencoded", "frame"),
    ]


def test_a_default_button_with_overrides_makes_the_forms_submission() -> None:
    form = only_form(
        '<form action="/a"><input name="q"><button formaction="/b" formmethod="post">Go</button>'
        "</form>"
    )
    assert (form.action, form.method) == ("http://example.com/b", "POST")
    assert (form.form_action, form.form_method) == ("http://example.com/a", "GET")


@pytest.mark.parametrize(
    ("head", "form_tag", "target"),
    [
        ('<base target="results">', "<form>", "results"),
        ('<base target="results"><base target="second">', "<form>", "results"),
        ('<base target="results">', '<form target="">', ""),  # the form's own, even empty
        ('<base target="results">', '<form target="_top">', "_top"),
        ("", "<form>", ""),
    ],
)
def test_base_target(head: str, form_tag: str, target: str) -> None:
    assert only_form(f"{form_tag}<button>Go</button></form>", head=head).target == target


def test_image_buttons_send_coordinates() -> None:
    named, nameless = forms_of(
        '<form><input name="a" value="1"><input type="image" name="map" alt="Map">'
        '<input type="image" name="other"></form>'
        '<form><input type="image" alt="Go"><input name="a" value="2"></form>'
    )
    map_button, other = named.submitters
    assert named.entries == (("a", "1"), ("map.x", "0"), ("map.y", "0"))
    assert named.entries_for(other) == (("a", "1"), ("other.x", "0"), ("other.y", "0"))
    assert nameless.entries == (("x", "0"), ("y", "0"), ("a", "2"))  # where the button is
    assert map_button.text == "Map"


# -- the entry list (4.10.21.4) --------------------------------------------------------


@pytest.mark.parametrize(
    ("select", "entries"),
    [
        # a multiple select sends every selected option, in order
        (
            "<select name=s multiple><option selected>a<option>b<option selected>c</select>",
            ["a", "c"],
        ),
        ("<select name=s multiple><option>a<option>b</select>", []),
        # a drop-down with nothing selected shows, and sends, its first enabled option
        ("<select name=s><option disabled>a<option>b<option>c</select>", ["b"]),
        # a list box (size > 1) with nothing selected sends nothing
        ("<select name=s size=3><option>a<option>b</select>", []),
        ("<select name=s size=1><option>a<option>b</select>", ["a"]),
        # the last of several selected options wins in a single select
        ("<select name=s><option selected>a<option selected>b<option>c</select>", ["b"]),
        # a disabled optgroup disables its options
        ("<select name=s><optgroup disabled><option>a</optgroup><option>b</select>", ["b"]),
        ("<select name=s><optgroup disabled><option selected>a</optgroup><option>b</select>", []),
        ("<select name=s><option value=''>Any<option>b</select>", [""]),
        ("<select name=s><option>  a \n b  </select>", ["a b"]),
        ("<select name=s><option>a&nbsp;b</select>", ["a\xa0b"]),  # only ASCII spaces collapse
        ("<select name=s></select>", []),
    ],
)
def test_select_entries(select: str, entries: list[str]) -> None:
    form = only_form(f"<form>{select}</form>")
    assert [value for _, value in form.entries] == entries


def test_one_checked_radio_per_group() -> None:
    form = only_form(
        '<form><input type="radio" name="r" value="1" checked>'
        '<input type="radio" name="r" value="2" checked><input type="radio" name="r" value="3">'
        '<input type="radio" name="other" value="x" checked>'
        '<input type="checkbox" name="c" value="1" checked>'
        '<input type="checkbox" name="c" value="2" checked></form>'
    )
    assert form.entries == (("r", "2"), ("other", "x"), ("c", "1"), ("c", "2"))


@pytest.mark.parametrize(
    ("accept_charset", "page_encoding", "charset"),
    [
        ("", "utf-8", "UTF-8"),
        ("", "cp1252", "windows-1252"),
        ("ISO-8859-2", "utf-8", "ISO-8859-2"),
        ("utf-16", "cp1252", "UTF-8"),
    ],
)
def test_charset_field_sends_the_submissions_encoding(
    accept_charset: str, page_encoding: str, charset: str
) -> None:
    form = only_form(
        f'<form accept-charset="{accept_charset}"><input type="hidden" name="_charset_">'
        '<input type="hidden" name="_CHARSET_" value="x"><input name="_charset_" value="typed">'
        "</form>",
        encoding=page_encoding,
    )
    assert form.entries == (("_charset_", charset), ("_CHARSET_", charset), ("_charset_", "typed"))


def test_dirname_adds_the_direction() -> None:
    form = only_form(
        '<form><input name="t" value="x" dirname="t.dir"><input name="e" dirname="">'
        '<textarea name="ta" dirname="ta.dir">y</textarea>'
        '<input type="number" name="n" value="1" dirname="n.dir">'
        '<input type="hidden" name="h" value="h" dirname="h.dir"></form>'
    )
    assert form.entries == (
        ("t", "x"),
        ("t.dir", "ltr"),
        ("e", ""),
        ("ta", "y"),
        ("ta.dir", "ltr"),
        ("n", "1"),  # a number has no direction
        ("h", "h"),
        ("h.dir", "ltr"),
    )


def test_values_are_sanitized_and_files_are_empty() -> None:
    form = only_form(
        '<form><input type="number" name="n" value="ten"><input type="email" name="e"'
        ' value=" a@b.example "><input name="t" value="a&#10;b"><input type="hidden" name="h"'
        ' value="a&#10;b"><input type="file" name="f"><textarea name="ta">\nkept\n</textarea>'
        "</form>"
    )
    assert form.entries == (
        ("n", ""),
        ("e", "a@b.example"),
        ("t", "ab"),
        ("h", "a\nb"),  # hidden values are not sanitized
        ("f", ""),
        ("ta", "kept\n"),  # the parser drops the newline right after <textarea>
    )


# -- supplied values ---------------------------------------------------------------


def test_supplied_values_go_where_the_first_control_of_that_name_is() -> None:
    form = only_form(
        '<form><input type="checkbox" name="c" value="1"><input name="q" value="d">'
        '<input type="radio" name="r" value="a"><input type="radio" name="r" value="b" checked>'
        '<select name="s" multiple><option selected>x</option><option selected>y</option>'
        '</select><input name="c" value="text"><input name="off" disabled>'
        '<input type="submit" name="go" value="Go"></form>'
    )
    values = {"s": "z", "c": "9", "r": "a", "off": "1", "go": "not a field"}
    assert form.data(values) == (("c", "9"), ("q", "d"), ("r", "a"), ("s", "z"), ("go", "Go"))
    assert form.applicable(values) == {"s": "z", "c": "9", "r": "a", "off": "1"}


# -- identity and the form's encoding ------------------------------------------------


def test_identity_is_the_shape_without_values() -> None:
    one = only_form(
        '<form action="/s?page=1" method="post"><input type="hidden" name="t" value="1">'
        '<input name="q" value="a"><button>Go</button></form>'
    )
    other_values = only_form(
        '<form action="/s?page=2" method="post"><input type="hidden" name="t" value="2">'
        '<input name="q" value="b"><button>Go</button></form>'
    )
    other_field = only_form(
        '<form action="/s" method="post"><input type="hidden" name="t" value="1">'
        '<input name="query" value="a"><button>Go</button></form>'
    )
    assert one.identity() == other_values.identity()
    assert one.identity() != other_field.identity()
    assert one.identity()[:2] == ("POST", "http://example.com/s")


@pytest.mark.parametrize(
    ("accept_charset", "page", "encoding"),
    [
        (None, "cp1252", "cp1252"),
        ("", "utf-8", "utf-8"),
        ("ISO-8859-2", "utf-8", "iso8859-2"),
        ("bogus  iso-8859-2 utf-8", "utf-8", "iso8859-2"),  # the first label that is known
        ("bogus", "cp1252", "cp1252"),
        ("utf-16", "cp1252", "utf-8"),  # UTF-16 and UTF-32 submit as UTF-8
        ("UTF-32LE", "cp1252", "utf-8"),
    ],
)
def test_form_encoding(accept_charset: str | None, page: str, encoding: str) -> None:
    assert form_encoding(accept_charset, page) == encoding


def test_enctype_is_not_trimmed_and_accept_charset_splits_on_commas() -> None:
    """Enumerated attributes match without trimming, as in Chromium; Chromium also
    splits accept-charset on commas."""
    html = (
        b'<html><body><form method="post" enctype=" multipart/form-data"></form>'
        b'<form accept-charset="ISO-8859-1,utf-8"></form></body></html>'
    )
    first, second = discover_forms(HtmlResponse("http://e.com/", body=html, encoding="utf-8"))
    assert first.enctype == "application/x-www-form-urlencoded"
    assert second.encoding == form_encoding("ISO-8859-1", "utf-8")


def test_a_cancel_button_does_not_make_a_dialog_form() -> None:
    from crawler.forms.classify import FormKind, classify

    html = (
        b'<html><body><form action="/a"><input name="e" value="1">'
        b'<button formmethod="dialog">Cancel</button><button name="ok" value="1">OK</button>'
        b'</form><form method="dialog"><button>Close</button></form></body></html>'
    )
    ok, close = discover_forms(HtmlResponse("http://e.com/", body=html, encoding="utf-8"))
    assert (classify(ok, None), classify(close, None)) == (FormKind.GET, FormKind.DIALOG)
