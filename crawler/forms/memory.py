"""What a crawl remembers about forms: which submissions were made, which hidden
fields are volatile, which forms stopped leading anywhere new.

Identity.  Two submissions are the same when they go to the same place
(action, method, encoding type) with the same entries, *volatile* fields left
out.  A volatile field is a hidden input whose value changes between two
copies of the same page, so it says nothing about what the form asks for:

* by name (:data:`VOLATILE_NAMES`, and ``CRAWLER_FORM_VOLATILE_PATTERN``):
  CSRF tokens, ``__VIEWSTATE``/``__EVENTVALIDATION`` (ASP.NET), nonces,
  timestamps;
* learned: when submitting a form gives back a copy of its page (the same
  text) holding the same form (its shape,
  :meth:`~crawler.forms.model.HtmlForm.identity`) with other hidden values
  than were sent, those hidden fields are volatile for that shape from then
  on, and the submissions remembered so far are compared without them.  Only
  a copy of the same page teaches this: a next step of a multi-step form, or
  the next page of a paged list, carries state of its own in its hidden
  fields (the page text differs), and that state is kept.

Repeats.  A form whose submission leads to a page whose text was seen before
(the same form again, a "no results" page) was *fruitless*; after
``CRAWLER_FORM_MAX_REPEATS`` fruitless submissions of one shape the shape is
*exhausted* and not submitted again (``forms/exhausted``), whatever its
values: the loops volatile fields make stop even when nothing was learned.

Memory: one digest (16 bytes) per page with forms or reached by a form, one
key and the entries of each submission.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from crawler.forms.model import HtmlForm, Submission

#: Hidden field names that are tokens or state, never what a form is for.
VOLATILE_NAMES = (
    r"csrf|xsrf|token|nonce|authenticity|captcha|timestamp|"
    r"^__(?:viewstate|eventvalidation|eventtarget|eventargument|lastfocus|requestdigest|previouspage)"
    r"|^_?ts$|^_$"
)
#: Names that carry a position in a list (``pageToken``, ``nextPageToken``,
#: ``continuation_token``, ``cursor``): state, never volatile by name.
POSITION_NAMES = r"page|next|cursor|continu|offset|start|after|before"

Shape = tuple[Any, ...]
Entries = tuple[tuple[str, str], ...]
Key = tuple[str, str, str, Entries]


def page_digest(title: str, texts: Iterable[str]) -> bytes:
    """A 16-byte digest of a page's title and text, whitespace collapsed."""
    text = " ".join(" ".join(t.split()) for t in texts if t and not t.isspace())
    return hashlib.blake2b(f"{title}\n{text}".encode(), digest_size=16).digest()


class FormMemory:
    """Submissions made, volatile fields learned, fruitless results counted."""

    def __init__(self, max_repeats: int = 3, volatile_pattern: str | None = None) -> None:
        self.max_repeats = max_repeats
        self._user = re.compile(volatile_pattern, re.IGNORECASE) if volatile_pattern else None
        self._names = re.compile(VOLATILE_NAMES, re.IGNORECASE)
        self._positions = re.compile(POSITION_NAMES, re.IGNORECASE)
        self._learned: defaultdict[Shape, set[str]] = defaultdict(set)
        self._made: defaultdict[Shape, list[tuple[Submission, Entries]]] = defaultdict(list)
        self._keys: defaultdict[Shape, set[Key]] = defaultdict(set)
        self._fruitless: Counter[Shape] = Counter()
        self._pages: set[bytes] = set()
        self.variants_used: Counter[Shape] = Counter()

    # -- volatile fields ----------------------------------------------------------

    def volatile(self, form: HtmlForm) -> frozenset[str]:
        """The hidden fields of ``form`` whose values do not make a submission new."""
        learned = self._learned.get(form.identity(), set())
        return frozenset(
            c.name
            for c in form.controls
            if c.type == "hidden" and c.name and (c.name in learned or self._volatile_name(c.name))
        )

    def _volatile_name(self, name: str) -> bool:
        """By name: the user's pattern, or the built-in names unless the name says
        it is a position in a list (``pageToken``)."""
        if self._user is not None and self._user.search(name):
            return True
        return bool(self._names.search(name)) and not self._positions.search(name)

    def learn(self, shape: Shape, sent: Entries, forms: Iterable[HtmlForm]) -> list[str]:
        """A submission of ``shape`` that sent ``sent`` gave back a copy of its page
        with ``forms``: the hidden fields of the same form whose values changed are
        volatile.  The names newly found so (for logs)."""
        values = dict(sent)
        found: list[str] = []
        for form in forms:
            if form.identity() != shape:
                continue
            changed = {
                c.name
                for c in form.controls
                if c.type == "hidden"
                and c.name in values
                and values[c.name] != c.value
                and not self._volatile_name(c.name)  # volatile by its name already
            }
            new = changed - self._learned[shape]
            if new:
                self._learned[shape] |= new
                self._rekey(shape, form)
                found += sorted(new)
        return found

    # -- submissions --------------------------------------------------------------

    def key(self, form: HtmlForm, how: Submission, entries: Entries) -> Key:
        volatile = self.volatile(form)
        kept = tuple(sorted((n, v) for n, v in entries if n not in volatile))
        return how.method, how.action, how.enctype, kept

    def seen(self, form: HtmlForm, how: Submission, entries: Entries) -> bool:
        return self.key(form, how, entries) in self._keys[form.identity()]

    def remember(self, form: HtmlForm, how: Submission, entries: Entries) -> None:
        shape = form.identity()
        self._made[shape].append((how, entries))
        self._keys[shape].add(self.key(form, how, entries))

    def _rekey(self, shape: Shape, form: HtmlForm) -> None:
        self._keys[shape] = {self.key(form, how, entries) for how, entries in self._made[shape]}

    # -- results ------------------------------------------------------------------

    def page(self, digest: bytes) -> bool:
        """Note a page's text; whether it is new."""
        if digest in self._pages:
            return False
        self._pages.add(digest)
        return True

    def fruitless(self, shape: Shape) -> bool:
        """Count a submission of ``shape`` that led to no new page; whether the
        shape is exhausted now (the count reached ``max_repeats``)."""
        self._fruitless[shape] += 1
        return self._fruitless[shape] == self.max_repeats

    def exhausted(self, form: HtmlForm) -> bool:
        return self._fruitless[form.identity()] >= self.max_repeats
