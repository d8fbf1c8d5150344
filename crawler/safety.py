"""What a crawl must never do to a site: the one definition of a dangerous action.

Two patterns, one matcher (:func:`matches`):

* **logout** (:data:`LOGOUT_WORDS`, the default of ``CRAWLER_LOGOUT_PATTERN``):
  links and forms that end the crawl's own session.  While logged in, the
  crawl does not follow them (:mod:`crawler.login.logout`), and form discovery
  never submits them;
* **danger** (:func:`danger_pattern`): what a browser exploring a page
  (:mod:`crawler.browser.explore`) never clicks, hovers or changes, whatever
  the settings: logging out, deleting or removing, unsubscribing, buying or
  paying, cancelling or closing an account.  It always includes the logout
  words and ``CRAWLER_LOGOUT_PATTERN``; ``CRAWLER_DANGER_PATTERN`` adds words of
  a site's own (it can extend the pattern, never shrink it).

:func:`matches` looks at URLs by their path and query (percent-decoded) and at
texts (an element's text, value, title, ``aria-label``, id, class, name,
inline handler), with ``-``, ``_``, ``.``, ``/`` and camelCase boundaries
turned into spaces, so ``btn-delete``, ``deleteItem`` and ``/cart/checkout``
all read as words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import unquote, urlsplit

#: Logging out (the default ``CRAWLER_LOGOUT_PATTERN``).
LOGOUT_WORDS = r"log ?out|sign ?out"

#: Everything exploration never fires, besides the logout pattern.
DANGER_WORDS = (
    r"\b(?:log ?off|sign ?off|delete|remove|destroy|erase|wipe|unsubscribe|"
    r"purchase|buy|checkout|check ?out|pay|payment|order|place order|subscribe|"
    r"cancel (?:my |the )?(?:account|subscription|membership|order)|"
    r"close (?:my |the )?account|deactivate|terminate)\b"
)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[-_./\s]+")


@lru_cache(maxsize=32)
def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def danger_pattern(logout_pattern: str | None = None, extra: str | None = None) -> str:
    """The combined pattern exploration refuses: :data:`DANGER_WORDS`, the logout
    words, ``logout_pattern`` (``CRAWLER_LOGOUT_PATTERN``) and ``extra``
    (``CRAWLER_DANGER_PATTERN``), as one alternation."""
    parts = [DANGER_WORDS, LOGOUT_WORDS]
    parts += [p for p in (logout_pattern, extra) if p and p not in parts]
    return "|".join(f"(?:{p})" for p in parts)


def words(text: str) -> str:
    """``text`` with camelCase, ``-``, ``_``, ``.``, ``/`` and runs of spaces as one space."""
    return _SEPARATORS.sub(" ", _CAMEL.sub(" ", text)).strip()


def url_words(url: str) -> str:
    """A URL's path and query, decoded, as :func:`words` (the host is not the action)."""
    parts = urlsplit(url)
    return words(unquote(f"{parts.path} {parts.query}"))


def matches(pattern: str, urls: Iterable[str] = (), texts: Iterable[str] = ()) -> bool:
    """Whether ``pattern`` (case-insensitive) is found in any URL (path and query)
    or any text, both read as :func:`words`.  Raises ``re.error`` for a bad pattern
    (the settings check compiles the settings' patterns first)."""
    regex = compiled(pattern)
    for url in urls:
        if url and regex.search(url_words(url)):
            return True
    return any(text and (regex.search(words(text)) or regex.search(text)) for text in texts)
