"""The payments page of the tinysite's bank (and of the book's example): items, parsers, a table.

The index lists payments as ``<li class="to">20 to bob <i>lunch</i></li>``:
the direction is the class, the amount and the other party are the item's
own text, the memo is the ``<i>``.  Two parsers give the same items, one with
lxml and XPath, one with BeautifulSoup; both depend on the HTML only, so the
spider (``spiders/payments.py``) just fetches and routes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import lxml.html
from bs4 import BeautifulSoup

from crawler.summary import table

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

PARSERS = ("lxml", "bs4")
DIRECTIONS = ("to", "from")
_OWN_TEXT = re.compile(r"^(\d+)\s+(to|from)\s+(\S+)$")


@dataclass(frozen=True)
class PaymentItem:
    """One payment as the logged-in user's index shows it."""

    direction: str  # "to": the user paid; "from": the user was paid
    amount: int
    counterparty: str
    memo: str

    @property
    def signed_amount(self) -> int:
        return self.amount if self.direction == "from" else -self.amount


@dataclass(frozen=True)
class PaymentsTotal:
    """What came in minus what went out, over ``payments`` payments."""

    payments: int
    total: int


class PaymentsPageError(ValueError):
    """The page has no payments list, or an item of it is not in the expected shape."""


def _squash(text: str) -> str:
    return " ".join(text.split())


def _item(direction: str, own_text: str, memo: str) -> PaymentItem:
    match = _OWN_TEXT.match(_squash(own_text))
    if direction not in DIRECTIONS or match is None or match[2] != direction:
        raise PaymentsPageError(
            f"a payment item is not '<li class=\"to|from\">AMOUNT to|from NAME <i>MEMO</i>': "
            f"class {direction!r}, text {own_text.strip()[:60]!r}"
        )
    return PaymentItem(direction, int(match[1]), match[3], _squash(memo))


def parse_lxml(html: str | bytes) -> list[PaymentItem]:
    doc = lxml.html.fromstring(html)
    lists = doc.xpath("//ul[contains(concat(' ', normalize-space(@class), ' '), ' payments ')]")
    if not lists:
        raise PaymentsPageError('the page has no <ul class="payments">')
    return [
        _item(
            li.get("class", "").strip(),
            " ".join(li.xpath("text()")),
            li.xpath("string(i)"),
        )
        for li in lists[0].xpath("li")
    ]


def parse_bs4(html: str | bytes) -> list[PaymentItem]:
    soup = BeautifulSoup(html, "lxml")
    payments = soup.select_one("ul.payments")
    if payments is None:
        raise PaymentsPageError('the page has no <ul class="payments">')
    items = []
    for li in payments.find_all("li", recursive=False):
        memo = li.find("i")
        items.append(
            _item(
                " ".join(li.get("class") or []),
                " ".join(li.find_all(string=True, recursive=False)),
                memo.get_text() if memo is not None else "",
            )
        )
    return items


def get_parser(name: str) -> Callable[[str | bytes], list[PaymentItem]]:
    if name == "lxml":
        return parse_lxml
    if name == "bs4":
        return parse_bs4
    raise ValueError(f"parser must be one of {', '.join(PARSERS)}, not {name!r}")


def total(payments: Iterable[PaymentItem]) -> PaymentsTotal:
    items = list(payments)
    return PaymentsTotal(payments=len(items), total=sum(p.signed_amount for p in items))


def payments_table(payments: Iterable[PaymentItem], summary: PaymentsTotal | None = None) -> str:
    """The payments as a small text table, with the total under it."""
    items = list(payments)
    summary = summary or total(items)
    rows = [(p.direction, p.amount, p.counterparty, p.memo or "-") for p in items]
    return (
        table(["direction", "amount", "counterparty", "memo"], rows)
        + f"\n\nTotal of {summary.payments} payments: {summary.total:+d}"
    )
