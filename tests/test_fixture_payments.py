"""The tinysite payments app (the book's, ch. 11), over HTTP with requests, lxml, parsel, bs4."""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urljoin, urlsplit

import lxml.html
import pytest
import requests
from bs4 import BeautifulSoup
from parsel import Selector

from fixtures.tinysite import payments
from fixtures.tinysite.payments import USERS, Payment, PaymentsApp

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fixtures.tinysite.server import TinySite

# The book's markup, applied here to the raw HTML as mscrape.py does.
ITEM_CSS = "li.to, li.from"
AMOUNT_RE = re.compile(r"^\$(\d+) ")
ITEM_HTML_RE = re.compile(
    r'  <li class="(to|from)">\$(\d+) \1 <b>([^<]*)</b> for: <i>([^<]*)</i></li>'
)
# The book's index.html (listing 11-5) for brandon, under the fixture's /pay/ prefix.
BRANDON_INDEX = """\
<p>Your Payments</p>
<ul>
  <li class="to">$125 to <b>psf</b> for: <i>Registration for PyCon</i></li>
  <li class="to">$200 to <b>liz</b> for: <i>Payment for writing that code</i></li>
  <li class="from">$25 from <b>sam</b> for: <i>Gas money-thanks for the ride!</i></li>
</ul>
<a href="/pay/pay">Make payment</a> | <a href="/pay/logout">Log out</a>
"""


@pytest.fixture
def app(tinysite: TinySite) -> Iterator[PaymentsApp]:
    """The session server's payments app, with its initial payments restored afterwards."""
    [found] = [a for a in tinysite.apps if isinstance(a, PaymentsApp)]
    yield found
    assert requests.post(tinysite.url(payments.RESET_PATH), timeout=10).status_code == 200


@pytest.fixture
def client() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def post_login(
    session: requests.Session, site: TinySite, user: str, password: str, target: str = ""
) -> requests.Response:
    """The book's login: the two fields posted to /login (``?next=`` if a target); no redirects."""
    path = payments.login_url_for(target) if target else payments.LOGIN_PATH
    return session.post(
        site.url(path),
        data={"username": user, "password": password},
        allow_redirects=False,
        timeout=10,
    )


def csrf_login_form(session: requests.Session, site: TinySite) -> lxml.html.FormElement:
    page = session.get(site.url(payments.CSRF_LOGIN_PATH), timeout=10)
    assert page.status_code == 200
    [form] = lxml.html.fromstring(page.text).forms
    return form


def post_csrf_login(
    session: requests.Session, site: TinySite, user: str, password: str, **extra: str
) -> requests.Response:
    """Fetch the CSRF-protected login form and post it back, hidden fields included."""
    fields = dict(csrf_login_form(session, site).form_values())
    fields.update(username=user, password=password, **extra)
    return session.post(
        site.url(payments.CSRF_LOGIN_PATH), data=fields, allow_redirects=False, timeout=10
    )


def logged_in(site: TinySite, user: str = "alice") -> requests.Session:
    session = requests.Session()
    response = post_login(session, site, user, USERS[user])
    assert response.status_code == 302, response.text
    return session


def get(session: requests.Session, site: TinySite, target: str) -> requests.Response:
    return session.get(site.url(target), allow_redirects=False, timeout=10)


def control(site: TinySite, path: str, **params: str) -> requests.Response:
    return requests.post(site.url(path), params=params, timeout=10)


def login_location(target: str) -> str:
    """Where an anonymous request for ``target`` goes: the book's pages to plain /login."""
    if target in (payments.INDEX_PATH, payments.PAY_PATH):
        return payments.LOGIN_PATH
    return payments.login_url_for(target)


def is_login_redirect(response: requests.Response, target: str) -> bool:
    return response.status_code == 302 and response.headers["Location"] == login_location(target)


def set_cookies(response: requests.Response) -> list[str]:
    return [v for k, v in response.raw.headers.items() if k.lower() == "set-cookie"]


def pay_form(session: requests.Session, site: TinySite) -> lxml.html.FormElement:
    page = get(session, site, payments.PAY_PATH)
    assert page.status_code == 200
    [form] = lxml.html.fromstring(page.text).forms
    return form


def pay_fields(session: requests.Session, site: TinySite, **fields: str) -> dict[str, str]:
    return {**dict(pay_form(session, site).form_values()), **fields}


def pay(session: requests.Session, site: TinySite, **fields: str) -> requests.Response:
    data = pay_fields(session, site, **fields)
    return session.post(site.url(payments.PAY_PATH), data=data, allow_redirects=False, timeout=10)


# --- the data ------------------------------------------------------------------------------


def test_the_books_users_and_sample_payments() -> None:
    assert payments.BOOK_USERS == {"brandon": "atigdng", "sam": "xyzzy"}
    assert payments.EXPECTED_PAYMENTS["brandon"] == (
        Payment("to", 125, "psf", "Registration for PyCon"),
        Payment("to", 200, "liz", "Payment for writing that code"),
        Payment("from", 25, "sam", "Gas money-thanks for the ride!"),
    )
    assert payments.EXPECTED_PAYMENTS["sam"] == (
        Payment("to", 25, "brandon", "Gas money-thanks for the ride!"),
    )
    # mscrape.py's output: "325 Total payments made"
    assert payments.payments_made("brandon") == 325
    assert (payments.EXPECTED_TOTALS["brandon"], payments.EXPECTED_TOTALS["sam"]) == (-300, -25)


def test_every_project_user_pays_and_is_paid() -> None:
    assert set(payments.PROJECT_USERS) == {"alice", "bob", "carol"}
    assert set(USERS) == set(payments.BOOK_USERS) | set(payments.PROJECT_USERS)
    for user in payments.PROJECT_USERS:
        expected = payments.EXPECTED_PAYMENTS[user]
        assert {p.direction for p in expected} == {"to", "from"}, user
        assert len(expected) >= 3
        assert all(p.counterparty in USERS and p.counterparty != user for p in expected)
    memos = {p.memo for user in payments.PROJECT_USERS for p in payments.EXPECTED_PAYMENTS[user]}
    assert "" in memos
    assert any("&" in memo for memo in memos)


def test_totals_are_incoming_minus_outgoing() -> None:
    # Worked out by hand from PROJECT_LEDGER, so a changed definition shows here.
    project = {user: payments.EXPECTED_TOTALS[user] for user in payments.PROJECT_USERS}
    assert project == {"alice": 88, "bob": -117, "carol": 29}
    assert sum(project.values()) == 0  # money moves among them, none is made
    assert payments.payments_of("alice")[:2] == (
        Payment("to", 20, "bob", "lunch"),
        Payment("from", 15, "carol", "concert tickets"),
    )


def test_passwords_are_distinct_and_appear_in_no_page(tinysite: TinySite) -> None:
    assert len(set(USERS.values())) == len(USERS)
    session = logged_in(tinysite, "carol")
    with session:
        pages = [get(session, tinysite, t).text for t in payments.protected_targets()]
    for path in [payments.LOGIN_PATH, payments.CSRF_LOGIN_PATH, payments.SCRIPT_LOGIN_PATH]:
        pages.append(requests.get(tinysite.url(path), timeout=10).text)
    for password in USERS.values():
        assert not any(password in page for page in pages)


# --- the book's login ----------------------------------------------------------------------


def test_login_page_is_the_books_form(tinysite: TinySite, client: requests.Session) -> None:
    response = get(client, tinysite, payments.LOGIN_PATH)
    assert response.status_code == 200
    assert set_cookies(response) == []  # no token, no pre-session: the book's form
    doc = lxml.html.fromstring(response.text)
    assert doc.findtext(".//title") == doc.findtext(".//h1") == "Please log in"
    [form] = doc.forms
    assert form.get("method") == "post"
    assert form.get("action") is None  # posts back to the page's own URL
    assert [(i.get("name"), i.get("type")) for i in form.inputs] == [
        ("username", None),
        ("password", "password"),
    ]
    labels = [" ".join(label.text_content().split()) for label in form.findall(".//label")]
    assert labels == ["User:", "Password:"]
    assert [b.text_content() for b in form.findall(".//button")] == ["Log in"]
    assert form.fields["username"] == ""


def test_the_books_stylesheet_is_served(tinysite: TinySite) -> None:
    page = requests.get(tinysite.url(payments.LOGIN_PATH), timeout=10)
    [href] = lxml.html.fromstring(page.text).xpath("//link[@rel='stylesheet']/@href")
    assert href == payments.STYLE_PATH
    sheet = requests.get(tinysite.url(href), timeout=10)
    assert sheet.status_code == 200
    assert sheet.headers["Content-Type"].startswith("text/css")
    assert "li.to" in sheet.text


def test_login_sets_an_httponly_session_and_redirects_to_the_index(tinysite: TinySite) -> None:
    values = []
    for user in ["brandon", "brandon", "alice"]:
        with requests.Session() as session:
            response = post_login(session, tinysite, user, USERS[user])
            assert response.status_code == 302
            assert response.headers["Location"] == payments.INDEX_PATH
            [cookie] = set_cookies(response)
            assert cookie.startswith(f"{payments.SESSION_COOKIE}=")
            assert "HttpOnly" in cookie
            values.append(session.cookies[payments.SESSION_COOKIE])
            index = get(session, tinysite, payments.INDEX_PATH)
            assert index.status_code == 200
            assert f"<h1>Welcome, {user}</h1>" in index.text
    assert len(set(values)) == 3
    assert all(len(value) >= 20 for value in values)


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("brandon", "wrong"),
        ("brandon", USERS["sam"]),
        ("alice", USERS["bob"]),
        ("mallory", "x"),
        ("", ""),
        ("BRANDON", "atigdng"),
        ('<b>"x"</b>', "y"),
    ],
)
def test_wrong_credentials_show_the_same_form_with_the_username(
    tinysite: TinySite, client: requests.Session, user: str, password: str
) -> None:
    fresh = get(client, tinysite, payments.LOGIN_PATH).text
    response = post_login(client, tinysite, user, password)
    assert response.status_code == 200
    assert set_cookies(response) == []
    # The book shows the same form again, the username filled in (escaped), and nothing else.
    assert lxml.html.fromstring(response.text).forms[0].fields["username"] == user
    filled = f'<input name="username" value="{escape(user)}">'
    assert response.text == fresh.replace('<input name="username" value="">', filled)
    assert get(client, tinysite, payments.INDEX_PATH).status_code == 302


def test_login_goes_to_next(tinysite: TinySite, client: requests.Session) -> None:
    target = payments.statement_path(2)
    redirected = get(client, tinysite, target)
    assert is_login_redirect(redirected, target)
    login_page = tinysite.url(redirected.headers["Location"])
    page = client.get(login_page, timeout=10)
    [form] = lxml.html.fromstring(page.text).forms
    assert form.get("action") is None  # so it posts back to /login?next=...
    fields = {**dict(form.form_values()), "username": "bob", "password": USERS["bob"]}
    response = client.post(login_page, data=fields, timeout=10)
    assert response.status_code == 200
    assert response.url == tinysite.url(target)
    assert "Statement 2 of 5" in response.text


@pytest.mark.parametrize("target", ["http://elsewhere.invalid/", "//elsewhere.invalid/", "/page1"])
def test_login_never_redirects_off_the_app(
    tinysite: TinySite, client: requests.Session, target: str
) -> None:
    response = post_login(client, tinysite, "alice", USERS["alice"], target=target)
    assert (response.status_code, response.headers["Location"]) == (302, payments.INDEX_PATH)


@pytest.mark.parametrize(
    "target",
    [
        payments.INDEX_PATH,
        payments.PAY_PATH,
        payments.AREA_PATH,
        payments.AREA_PATH + "?pages=7",
        payments.statement_path(3),
        payments.statement_path(9) + "?pages=300",
    ],
)
def test_anonymous_requests_go_to_the_login(
    tinysite: TinySite, client: requests.Session, target: str
) -> None:
    response = get(client, tinysite, target)
    assert is_login_redirect(response, target)
    location = urlsplit(response.headers["Location"])
    assert location.path == payments.LOGIN_PATH
    if target in (payments.INDEX_PATH, payments.PAY_PATH):
        assert location.query == ""  # the book's redirect(url_for('login'))
    else:
        assert parse_qs(location.query) == {"next": [target]}


def test_anonymous_post_to_the_pay_form_goes_to_the_login(tinysite: TinySite) -> None:
    response = requests.post(
        tinysite.url(payments.PAY_PATH),
        data={"account": "bob", "dollars": "5", "memo": "x"},
        allow_redirects=False,
        timeout=10,
    )
    assert is_login_redirect(response, payments.PAY_PATH)


def test_unknown_session_cookie_is_anonymous(tinysite: TinySite, client: requests.Session) -> None:
    client.cookies.set(payments.SESSION_COOKIE, "forged", path=payments.COOKIE_PATH)
    assert is_login_redirect(get(client, tinysite, payments.INDEX_PATH), payments.INDEX_PATH)


# --- the project's CSRF-protected login ----------------------------------------------------


def test_csrf_login_page_has_a_csrf_protected_post_form(
    tinysite: TinySite, client: requests.Session
) -> None:
    response = get(client, tinysite, payments.CSRF_LOGIN_PATH)
    assert response.status_code == 200
    [cookie] = set_cookies(response)
    assert cookie.startswith(f"{payments.PRESESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert f"Path={payments.COOKIE_PATH}" in cookie
    [form] = lxml.html.fromstring(response.text).forms
    assert (form.get("method"), form.get("action")) == ("post", payments.CSRF_LOGIN_PATH)
    assert [(i.get("name"), i.get("type")) for i in form.inputs] == [
        (payments.CSRF_FIELD, "hidden"),
        ("username", "text"),
        ("password", "password"),
    ]
    token = form.fields[payments.CSRF_FIELD]
    assert re.fullmatch(r"[0-9a-f]{40}", token)
    # The same pre-session keeps its token; another client gets another one.
    assert csrf_login_form(client, tinysite).fields[payments.CSRF_FIELD] == token
    with requests.Session() as other:
        assert csrf_login_form(other, tinysite).fields[payments.CSRF_FIELD] != token


def test_csrf_login_starts_a_session(tinysite: TinySite, client: requests.Session) -> None:
    response = post_csrf_login(client, tinysite, "carol", USERS["carol"])
    assert (response.status_code, response.headers["Location"]) == (302, payments.INDEX_PATH)
    [cookie] = set_cookies(response)
    assert cookie.startswith(f"{payments.SESSION_COOKIE}=") and "HttpOnly" in cookie
    assert "<h1>Welcome, carol</h1>" in get(client, tinysite, payments.INDEX_PATH).text


def test_csrf_login_goes_to_next(tinysite: TinySite, client: requests.Session) -> None:
    target = payments.statement_path(2)
    page = client.get(tinysite.url(payments.CSRF_LOGIN_PATH), params={"next": target}, timeout=10)
    [form] = lxml.html.fromstring(page.text).forms
    assert form.fields["next"] == target
    fields = {**dict(form.form_values()), "username": "bob", "password": USERS["bob"]}
    response = client.post(tinysite.url(payments.CSRF_LOGIN_PATH), data=fields, timeout=10)
    assert response.url == tinysite.url(target)
    assert "Statement 2 of 5" in response.text
    evil = post_csrf_login(client, tinysite, "bob", USERS["bob"], next="//elsewhere.invalid/")
    assert evil.headers["Location"] == payments.INDEX_PATH


@pytest.mark.parametrize("token", ["", "0" * 40, "stolen"])
def test_csrf_login_with_a_wrong_token_is_403(
    tinysite: TinySite, client: requests.Session, token: str
) -> None:
    if token == "stolen":  # a real token, but bound to another client's pre-session
        with requests.Session() as other:
            token = csrf_login_form(other, tinysite).fields[payments.CSRF_FIELD]
    response = post_csrf_login(client, tinysite, "alice", USERS["alice"], csrf_token=token)
    assert response.status_code == 403
    assert payments.CSRF_ERROR_TEXT in response.text
    assert payments.SESSION_COOKIE not in client.cookies


def test_csrf_login_without_the_presession_cookie_is_403(
    tinysite: TinySite, client: requests.Session
) -> None:
    fields = dict(csrf_login_form(client, tinysite).form_values())
    fields.update(username="alice", password=USERS["alice"])
    response = requests.post(
        tinysite.url(payments.CSRF_LOGIN_PATH), data=fields, allow_redirects=False, timeout=10
    )
    assert response.status_code == 403


@pytest.mark.parametrize(("user", "password"), [("alice", "wrong"), ("mallory", "x"), ("", "")])
def test_csrf_login_with_wrong_credentials_shows_an_error(
    tinysite: TinySite, client: requests.Session, user: str, password: str
) -> None:
    response = post_csrf_login(client, tinysite, user, password)
    assert response.status_code == 200
    assert set_cookies(response) == []
    doc = lxml.html.fromstring(response.text)
    assert doc.xpath("string(//p[@class='error'])") == payments.LOGIN_ERROR_TEXT
    [form] = doc.forms
    assert form.get("action") == payments.CSRF_LOGIN_PATH
    assert form.fields["username"] == user
    assert get(client, tinysite, payments.INDEX_PATH).status_code == 302


# --- the index -----------------------------------------------------------------------------


def extract_with_parsel(html: str) -> list[Payment]:
    out = []
    for li in Selector(text=html).css(ITEM_CSS):
        text = li.xpath("string()").get()
        out.append(
            Payment(
                direction=li.attrib["class"],
                amount=int(AMOUNT_RE.match(text)[1]),
                counterparty=li.css("b").xpath("string()").get(),
                memo=li.css("i").xpath("string()").get(),
            )
        )
    return out


def extract_with_bs4(html: str) -> list[Payment]:
    out = []
    for li in BeautifulSoup(html, "html.parser").select(ITEM_CSS):
        out.append(
            Payment(
                direction=" ".join(li["class"]),
                amount=int(AMOUNT_RE.match(li.get_text())[1]),
                counterparty=li.select_one("b").get_text(),
                memo=li.select_one("i").get_text(),
            )
        )
    return out


def test_brandons_index_is_the_books(tinysite: TinySite, app: PaymentsApp) -> None:
    with logged_in(tinysite, "brandon") as session:
        html = get(session, tinysite, payments.INDEX_PATH).text
    doc = lxml.html.fromstring(html)
    assert doc.findtext(".//title") == doc.findtext(".//h1") == "Welcome, brandon"
    assert f"<h1>Welcome, brandon</h1>\n{BRANDON_INDEX}" in html
    # mscrape.py's two scrapers, as the book has them
    soup = BeautifulSoup(html, "html.parser")
    made = [int(li.get_text().split()[0].lstrip("$")) for li in soup.find_all("li", "to")]
    assert made == [125, 200]
    root = lxml.html.document_fromstring(html)
    memos = [li.cssselect("i")[0].text_content() for li in root.cssselect("li.to")]
    assert memos == ["Registration for PyCon", "Payment for writing that code"]


@pytest.mark.parametrize("user", sorted(USERS))
def test_index_lists_the_expected_payments_in_the_exact_shape(
    tinysite: TinySite, app: PaymentsApp, user: str
) -> None:
    with logged_in(tinysite, user) as session:
        html = get(session, tinysite, payments.INDEX_PATH).text
    expected = list(payments.EXPECTED_PAYMENTS[user])
    assert f"<h1>Welcome, {user}</h1>" in html
    assert extract_with_parsel(html) == expected
    assert extract_with_bs4(html) == expected
    assert sum(p.signed_amount for p in extract_with_parsel(html)) == payments.EXPECTED_TOTALS[user]
    [ul] = re.findall(r"<p>Your Payments</p>\n<ul>\n(.*?)</ul>\n", html, re.DOTALL)
    lines = ul.splitlines()
    assert len(lines) == len(expected)
    for line, payment in zip(lines, expected, strict=True):
        match = ITEM_HTML_RE.fullmatch(line)
        assert match, line
        assert match.groups() == (
            payment.direction,
            str(payment.amount),
            escape(payment.counterparty),
            escape(payment.memo),
        )


def test_memos_are_escaped(tinysite: TinySite, app: PaymentsApp) -> None:
    with logged_in(tinysite, "bob") as session:
        html = get(session, tinysite, payments.INDEX_PATH).text
    assert '<li class="to">$42 to <b>carol</b> for: <i>books &amp; records</i></li>' in html
    with logged_in(tinysite, "alice") as session:
        html = get(session, tinysite, payments.INDEX_PATH).text
    assert '<li class="to">$7 to <b>carol</b> for: <i></i></li>' in html


def test_index_links_the_pay_form_and_logout_and_the_area_outside_the_books_markup(
    tinysite: TinySite,
) -> None:
    with logged_in(tinysite) as session:
        html = get(session, tinysite, payments.INDEX_PATH).text
    doc = lxml.html.fromstring(html)
    assert set(doc.xpath("//a/@href")) == {
        payments.PAY_PATH,
        payments.LOGOUT_PATH,
        payments.AREA_PATH,
    }
    book, footer = html.split("<footer>")
    assert '<a href="/pay/pay">Make payment</a> | <a href="/pay/logout">Log out</a>' in book
    assert payments.AREA_PATH not in book
    assert f'<a href="{payments.AREA_PATH}">' in footer
    logout_texts = {a.text_content() for a in doc.xpath(f"//a[@href='{payments.LOGOUT_PATH}']")}
    assert logout_texts == {payments.LOGOUT_TEXT}
    assert doc.forms == []


# --- the pay form --------------------------------------------------------------------------


def test_pay_form_is_the_books_with_the_sessions_token(tinysite: TinySite) -> None:
    with logged_in(tinysite) as session:
        page = get(session, tinysite, payments.PAY_PATH)
        again = pay_form(session, tinysite)
    doc = lxml.html.fromstring(page.text)
    assert doc.findtext(".//title") == doc.findtext(".//h1") == "Make a Payment"
    [form] = doc.forms
    assert (form.get("method"), form.get("action")) == ("post", payments.PAY_PATH)
    assert [i.get("name") for i in form.inputs] == ["account", "dollars", "memo", "csrf_token"]
    assert form.inputs[payments.CSRF_FIELD].get("type") == "hidden"
    labels = [" ".join(label.text_content().split()) for label in form.findall(".//label")]
    assert labels == ["To account:", "Dollars:", "Memo:"]
    assert [b.text_content() for b in form.findall(".//button")] == ["Send money"]
    assert form.xpath(".//a[text()='Cancel']/@href") == [payments.INDEX_PATH]
    assert form.xpath(".//span[@class='complaint']") == []
    assert not form.xpath(".//input[@type='password']")
    token = form.fields[payments.CSRF_FIELD]
    assert re.fullmatch(r"[0-9a-f]{32}", token)  # uuid4().hex, set at login
    assert again.fields[payments.CSRF_FIELD] == token  # the session's, not the page's
    with logged_in(tinysite) as other:
        assert pay_form(other, tinysite).fields[payments.CSRF_FIELD] != token


def test_a_payment_is_recorded_flashed_once_and_undone_by_reset(
    tinysite: TinySite, app: PaymentsApp
) -> None:
    close = f'<a href="{payments.INDEX_PATH}">&times;</a>'
    flash = f'<div class="flash_message">Payment successful{close}</div>'
    with logged_in(tinysite, "carol") as session:
        response = pay(session, tinysite, account="alice", dollars="30", memo="tea & cake")
        assert (response.status_code, response.headers["Location"]) == (302, payments.INDEX_PATH)
        first = get(session, tinysite, payments.INDEX_PATH).text
        second = get(session, tinysite, payments.INDEX_PATH).text
    assert f"<h1>Welcome, carol</h1>\n{flash}\n<p>Your Payments</p>" in first
    assert "flash_message" not in second  # shown once
    carol = extract_with_parsel(first)
    assert carol[-1] == Payment("to", 30, "alice", "tea & cake")
    assert carol[:-1] == list(payments.EXPECTED_PAYMENTS["carol"])
    assert app.ledger()[-1] == payments.Transfer("carol", "alice", 30, "tea & cake")
    with logged_in(tinysite, "alice") as session:
        alice = extract_with_parsel(get(session, tinysite, payments.INDEX_PATH).text)
        assert alice[-1] == Payment("from", 30, "carol", "tea & cake")
        reset = control(tinysite, payments.RESET_PATH)
        assert reset.status_code == 200
        assert reset.json()["ok"] is True
        after = extract_with_parsel(get(session, tinysite, payments.INDEX_PATH).text)
    assert after == list(payments.EXPECTED_PAYMENTS["alice"])
    assert app.ledger() == payments.INITIAL_LEDGER


def test_any_account_can_be_paid_as_in_the_book(tinysite: TinySite, app: PaymentsApp) -> None:
    with logged_in(tinysite, "brandon") as session:
        response = pay(session, tinysite, account="  psf ", dollars=" 75 ", memo=" PyCon dinner ")
        assert response.status_code == 302
        made = [
            p
            for p in extract_with_parsel(get(session, tinysite, "/pay/").text)
            if p.direction == "to"
        ]
    assert made[-1] == Payment("to", 75, "psf", "PyCon dinner")  # stripped, as the book does
    assert sum(p.amount for p in made) == 400


@pytest.mark.parametrize("token", [None, "", "0" * 32, "other-session"])
def test_pay_with_a_wrong_token_is_403(
    tinysite: TinySite, app: PaymentsApp, token: str | None
) -> None:
    with logged_in(tinysite, "bob") as session:
        fields = pay_fields(session, tinysite, account="alice", dollars="3", memo="x")
        if token is None:
            del fields[payments.CSRF_FIELD]
        elif token == "other-session":
            with logged_in(tinysite, "bob") as other:
                fields[payments.CSRF_FIELD] = pay_fields(other, tinysite)[payments.CSRF_FIELD]
        else:
            fields[payments.CSRF_FIELD] = token
        response = session.post(
            tinysite.url(payments.PAY_PATH), data=fields, allow_redirects=False, timeout=10
        )
    assert response.status_code == 403
    assert payments.CSRF_ERROR_TEXT in response.text
    assert app.ledger() == payments.INITIAL_LEDGER


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"account": "bob", "dollars": "", "memo": "x"}, payments.DOLLARS_COMPLAINT),
        ({"account": "bob", "dollars": "five", "memo": "x"}, payments.DOLLARS_COMPLAINT),
        ({"account": "bob", "dollars": "-5", "memo": "x"}, payments.DOLLARS_COMPLAINT),
        ({"account": "bob", "dollars": "1.50", "memo": "x"}, payments.DOLLARS_COMPLAINT),
        ({"account": "", "dollars": "", "memo": ""}, payments.DOLLARS_COMPLAINT),
        ({"account": "", "dollars": "5", "memo": "x"}, payments.FIELDS_COMPLAINT),
        ({"account": "  ", "dollars": "5", "memo": "x"}, payments.FIELDS_COMPLAINT),
        ({"account": "bob", "dollars": "5", "memo": ""}, payments.FIELDS_COMPLAINT),
    ],
)
def test_pay_with_bad_fields_shows_the_books_complaint(
    tinysite: TinySite, app: PaymentsApp, fields: dict[str, str], complaint: str
) -> None:
    with logged_in(tinysite, "alice") as session:
        response = pay(session, tinysite, **fields)
    assert response.status_code == 200
    doc = lxml.html.fromstring(response.text)
    assert doc.xpath("string(//form/span[@class='complaint'])") == complaint
    [form] = doc.forms
    for name, value in fields.items():
        assert form.fields[name] == value.strip()  # what was typed comes back
    assert app.ledger() == payments.INITIAL_LEDGER


# --- logout --------------------------------------------------------------------------------


def test_logout_ends_the_session(tinysite: TinySite, app: PaymentsApp) -> None:
    before = len(tinysite.requests_seen)
    with logged_in(tinysite, "bob") as session:
        value = session.cookies[payments.SESSION_COOKIE]
        sessions = app.session_count()
        response = get(session, tinysite, payments.LOGOUT_PATH)
        assert (response.status_code, response.headers["Location"]) == (302, payments.LOGIN_PATH)
        assert payments.SESSION_COOKIE not in session.cookies  # Max-Age=0 cleared it
        assert app.session_count() == sessions - 1
        session.cookies.set(payments.SESSION_COOKIE, value, path=payments.COOKIE_PATH)
        assert is_login_redirect(get(session, tinysite, payments.INDEX_PATH), payments.INDEX_PATH)
    seen = [(r.method, r.target) for r in tinysite.requests_seen[before:]]
    assert ("GET", payments.LOGOUT_PATH) in seen


# --- the protected area --------------------------------------------------------------------


def crawl_logged_in(
    site: TinySite, session: requests.Session, start: str
) -> tuple[set[str], list[str]]:
    """Follow every same-app link but the logout link: the 200 targets and everything fetched."""
    queue, seen, ok, fetched = deque([start]), {start}, set(), []
    while queue:
        target = queue.popleft()
        fetched.append(target)
        response = get(session, site, target)
        if response.status_code != 200:
            continue
        ok.add(target)
        for href in lxml.html.fromstring(response.text).xpath("//a/@href"):
            parts = urlsplit(urljoin(site.url(target), href))
            found = parts.path + (f"?{parts.query}" if parts.query else "")
            wanted = found.startswith(payments.PREFIX) and found != payments.LOGOUT_PATH
            if wanted and found not in seen:
                seen.add(found)
                queue.append(found)
    return ok, fetched


def test_area_index_links_its_statements(tinysite: TinySite) -> None:
    with logged_in(tinysite) as session:
        default = lxml.html.fromstring(get(session, tinysite, payments.AREA_PATH).text)
        seven = lxml.html.fromstring(get(session, tinysite, payments.AREA_PATH + "?pages=7").text)
    statements = default.xpath("//li/a/@href")
    assert statements == [payments.statement_path(n) for n in range(1, 6)]
    assert len(statements) == payments.DEFAULT_AREA_PAGES
    assert seven.xpath("//li/a/@href") == [
        f"{payments.statement_path(n)}?pages=7" for n in range(1, 8)
    ]
    # Only the area's own links carry ?pages=; its footer also leads to the book's index.
    assert seven.xpath("//footer//a/@href") == [
        payments.AREA_PATH + "?pages=7",
        payments.INDEX_PATH,
        payments.LOGOUT_PATH,
    ]
    assert seven.findtext(".//h1") == "Statements of alice"


def test_statements_link_the_next_one_and_back(tinysite: TinySite) -> None:
    with logged_in(tinysite, "carol") as session:
        first = get(session, tinysite, payments.statement_path(1))
        last = get(session, tinysite, payments.statement_path(5))
        beyond = get(session, tinysite, payments.statement_path(6))
        carried = get(session, tinysite, payments.statement_path(6) + "?pages=6")
    first_doc = lxml.html.fromstring(first.text)
    assert first_doc.xpath("//a[text()='Next statement']/@href") == [payments.statement_path(2)]
    assert payments.INDEX_PATH in first_doc.xpath("//a/@href")
    assert first_doc.xpath("string(//span[@class='holder'])") == "carol"
    assert lxml.html.fromstring(last.text).xpath("//a[text()='Next statement']") == []
    assert beyond.status_code == 404
    assert carried.status_code == 200


@pytest.mark.parametrize("query", ["?pages=0", "?pages=x", "?pages=-1", "?pages=10001"])
def test_bad_pages_parameter_is_400(tinysite: TinySite, query: str) -> None:
    with logged_in(tinysite) as session:
        assert get(session, tinysite, payments.AREA_PATH + query).status_code == 400


@pytest.mark.parametrize(
    ("start", "pages"), [(payments.INDEX_PATH, None), (payments.AREA_PATH + "?pages=40", 40)]
)
def test_a_logged_in_crawl_finds_every_protected_page(
    tinysite: TinySite, start: str, pages: int | None
) -> None:
    with logged_in(tinysite, "bob") as session:
        ok, fetched = crawl_logged_in(tinysite, session, start)
        assert get(session, tinysite, payments.INDEX_PATH).status_code == 200  # still logged in
    assert ok == set(fetched) == payments.protected_targets(pages)
    # the index, the pay form, the area and its default statements; and the N with ?pages=N
    default = 3 + payments.DEFAULT_AREA_PAGES
    assert len(payments.protected_targets(pages)) == default + (0 if pages is None else 1 + pages)


def test_a_300_page_area_for_the_benchmark(tinysite: TinySite) -> None:
    targets = payments.protected_targets(300)
    assert sum(1 for t in targets if t.endswith(".html?pages=300")) == 300
    with logged_in(tinysite) as session:
        index = lxml.html.fromstring(get(session, tinysite, payments.AREA_PATH + "?pages=300").text)
        last = get(session, tinysite, payments.statement_path(300) + "?pages=300")
    assert len(index.xpath("//li/a")) == 300
    assert last.status_code == 200


# --- session expiry ------------------------------------------------------------------------


def test_expire_ends_one_users_sessions_or_everyones(tinysite: TinySite) -> None:
    alice, bob = logged_in(tinysite, "alice"), logged_in(tinysite, "bob")
    with alice, bob:
        expired = control(tinysite, payments.EXPIRE_PATH, user="alice")
        assert expired.status_code == 200
        assert expired.json()["expired"] >= 1
        assert is_login_redirect(get(alice, tinysite, payments.INDEX_PATH), payments.INDEX_PATH)
        assert get(bob, tinysite, payments.INDEX_PATH).status_code == 200
        assert control(tinysite, payments.EXPIRE_PATH).status_code == 200
        target = payments.statement_path(2)
        assert is_login_redirect(get(bob, tinysite, target), target)
    with logged_in(tinysite, "alice") as again:
        assert get(again, tinysite, payments.INDEX_PATH).status_code == 200


def test_expire_after_lets_a_session_serve_n_more_pages(tinysite: TinySite) -> None:
    with logged_in(tinysite, "alice") as session, logged_in(tinysite, "bob") as bystander:
        response = control(tinysite, payments.EXPIRE_AFTER_PATH, requests="3", user="alice")
        assert response.status_code == 200
        assert response.json()["requests"] == 3
        statuses = [
            get(session, tinysite, payments.statement_path(n)).status_code for n in range(1, 6)
        ]
        assert statuses == [200, 200, 200, 302, 302]
        assert get(bystander, tinysite, payments.INDEX_PATH).status_code == 200
    # Sessions started later are not affected; a fresh login gets going again.
    with logged_in(tinysite, "alice") as fresh:
        assert all(get(fresh, tinysite, payments.AREA_PATH).status_code == 200 for _ in range(5))


def test_expire_after_zero_ends_sessions_at_their_next_request(tinysite: TinySite) -> None:
    with logged_in(tinysite, "carol") as session:
        assert control(tinysite, payments.EXPIRE_AFTER_PATH, requests="0").status_code == 200
        assert is_login_redirect(get(session, tinysite, payments.AREA_PATH), payments.AREA_PATH)


def test_expire_after_counts_exactly_under_concurrency(tinysite: TinySite) -> None:
    clients, allowed = 8, 5
    with logged_in(tinysite, "bob") as session:
        cookie = f"{payments.SESSION_COOKIE}={session.cookies[payments.SESSION_COOKIE]}"
        control(tinysite, payments.EXPIRE_AFTER_PATH, requests=str(allowed), user="bob")
    barrier = threading.Barrier(clients)
    statuses: list[int] = []

    def client() -> None:
        barrier.wait()
        response = requests.get(
            tinysite.url(payments.AREA_PATH),
            headers={"Cookie": cookie},
            allow_redirects=False,
            timeout=10,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200] * allowed + [302] * (clients - allowed)


@pytest.mark.parametrize("query", [{}, {"requests": "x"}, {"requests": "-1"}])
def test_expire_after_needs_a_count(tinysite: TinySite, query: dict[str, str]) -> None:
    assert control(tinysite, payments.EXPIRE_AFTER_PATH, **query).status_code == 400


@pytest.mark.parametrize(
    "path", [payments.RESET_PATH, payments.EXPIRE_PATH, payments.EXPIRE_AFTER_PATH]
)
def test_control_endpoints_take_post_only(tinysite: TinySite, path: str) -> None:
    response = requests.get(tinysite.url(path), timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


# --- the script-only login -----------------------------------------------------------------


def script_login_token(session: requests.Session, site: TinySite) -> str:
    page = session.get(site.url(payments.SCRIPT_LOGIN_PATH), timeout=10)
    assert page.status_code == 200
    doc = lxml.html.fromstring(page.text)
    [token] = doc.xpath(f"//meta[@name='{payments.CSRF_META_NAME}']/@content")
    return token


def api_login(
    session: requests.Session, site: TinySite, body: object, token: str | None
) -> requests.Response:
    headers = {payments.CSRF_HEADER: token} if token is not None else {}
    return session.post(
        site.url(payments.API_LOGIN_PATH),
        data=json.dumps(body),
        headers={"Content-Type": "application/json", **headers},
        timeout=10,
    )


def test_script_login_page_offers_no_submittable_form(tinysite: TinySite) -> None:
    response = requests.get(tinysite.url(payments.SCRIPT_LOGIN_PATH), timeout=10)
    assert response.status_code == 200
    assert any(c.startswith(payments.PRESESSION_COOKIE) for c in set_cookies(response))
    doc = lxml.html.fromstring(response.text)
    assert doc.forms == []
    assert doc.xpath("//input[@type='password']") and doc.xpath("//input[@id='username']")
    assert doc.xpath("//button[@type='button']")
    [script] = doc.xpath("//script")
    for needle in [payments.API_LOGIN_PATH, payments.CSRF_HEADER, "JSON.stringify", "meta"]:
        assert needle in script.text
    assert f'location.href = "{payments.INDEX_PATH}"' in script.text


def test_script_login_by_json_with_the_meta_token(
    tinysite: TinySite, client: requests.Session
) -> None:
    token = script_login_token(client, tinysite)
    response = api_login(client, tinysite, {"username": "bob", "password": USERS["bob"]}, token)
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    [cookie] = set_cookies(response)
    assert cookie.startswith(f"{payments.SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    index = get(client, tinysite, payments.INDEX_PATH)
    assert index.status_code == 200
    assert extract_with_parsel(index.text) == list(payments.EXPECTED_PAYMENTS["bob"])


@pytest.mark.parametrize("token", [None, "", "0" * 40])
def test_script_login_without_the_token_header_is_403(
    tinysite: TinySite, client: requests.Session, token: str | None
) -> None:
    script_login_token(client, tinysite)
    response = api_login(client, tinysite, {"username": "bob", "password": USERS["bob"]}, token)
    assert response.status_code == 403
    assert response.json()["ok"] is False
    assert payments.SESSION_COOKIE not in client.cookies


def test_script_login_token_needs_its_presession_cookie(tinysite: TinySite) -> None:
    with requests.Session() as first:
        token = script_login_token(first, tinysite)
    with requests.Session() as second:
        body = {"username": "bob", "password": USERS["bob"]}
        assert api_login(second, tinysite, body, token).status_code == 403


def test_script_login_with_a_wrong_password_is_401(
    tinysite: TinySite, client: requests.Session
) -> None:
    token = script_login_token(client, tinysite)
    response = api_login(client, tinysite, {"username": "bob", "password": "nope"}, token)
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error": payments.LOGIN_ERROR_TEXT}
    assert payments.SESSION_COOKIE not in client.cookies


@pytest.mark.parametrize("body", [["bob"], {"username": "bob"}, {"username": 1, "password": 2}])
def test_script_login_with_a_malformed_body_is_400(
    tinysite: TinySite, client: requests.Session, body: object
) -> None:
    token = script_login_token(client, tinysite)
    assert api_login(client, tinysite, body, token).status_code == 400


def test_script_login_api_takes_post_only(tinysite: TinySite) -> None:
    assert requests.get(tinysite.url(payments.API_LOGIN_PATH), timeout=10).status_code == 405


# --- odds and ends -------------------------------------------------------------------------


def test_app_root_without_slash_redirects_and_unknown_paths_are_404(tinysite: TinySite) -> None:
    response = requests.get(tinysite.url("/pay"), allow_redirects=False, timeout=10)
    assert (response.status_code, response.headers["Location"]) == (302, payments.INDEX_PATH)
    for path in ["/pay/nothing", "/pay/area/statement/0.html", "/pay/area/statement/01.html"]:
        assert requests.get(tinysite.url(path), timeout=10).status_code == 404, path
