"""Which ``rel`` values name a page a user could navigate to (``<link>`` and ``Link:``).

A ``rel`` attribute is a space-separated, case-insensitive list of link types
(HTML's "link types", RFC 8288's registry).  A link is followed when one of
its types is in :data:`NAVIGATIONAL_RELS` and none is ``stylesheet``
(``rel="alternate stylesheet"`` is a style sheet):

* ``alternate`` (translations with ``hreflang``, feeds, print versions),
  ``canonical``;
* sequences: ``next``, ``prev``, ``previous``, ``first``, ``last``;
* structure: ``up``, ``index``, ``contents``, ``toc``, ``start``, ``home``,
  ``chapter``, ``section``, ``subsection``, ``appendix``, ``glossary``,
  ``archives``;
* about the page: ``author``, ``help``, ``license``.

Everything else is a resource the page loads or a hint to the browser, not a
page: ``stylesheet``, ``icon`` (and ``apple-touch-icon``, ``mask-icon``),
``preload``, ``prefetch``, ``preconnect``, ``dns-prefetch``,
``modulepreload``, ``manifest``, ``search`` (an OpenSearch description),
``pingback``, ``webmention``, ``shortlink``, ``me``, ``EditURI``...
"""

from __future__ import annotations

NAVIGATIONAL_RELS = frozenset(
    {
        "alternate",
        "canonical",
        "next",
        "prev",
        "previous",
        "first",
        "last",
        "up",
        "index",
        "contents",
        "toc",
        "start",
        "home",
        "chapter",
        "section",
        "subsection",
        "appendix",
        "glossary",
        "archives",
        "author",
        "help",
        "license",
    }
)
_NEVER = frozenset({"stylesheet"})


def rel_tokens(rel: str | None) -> list[str]:
    """The link types of a ``rel`` value, lower-cased, in order (``[]`` for none)."""
    return (rel or "").lower().split()


def navigational_rel(rel: str | None) -> str | None:
    """The first navigational link type of ``rel`` (what the link is recorded as),
    or ``None`` when the link is not a page to follow."""
    tokens = rel_tokens(rel)
    if _NEVER.intersection(tokens):
        return None
    return next((token for token in tokens if token in NAVIGATIONAL_RELS), None)
