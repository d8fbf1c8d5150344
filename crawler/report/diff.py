"""What changed between two runs of one job: pages new, gone and changed.

Pages are matched by their recorded URL (``pages.url``).  A page both runs
have changed when its body's digest (``pages.digest``, the sha256 of a 200
response as served) differs, if both runs recorded one; otherwise when its
status or title differs (pages without a digest: errors, redirects, non-200
answers, and stores older than digests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crawler.report.data import EXAMPLES

if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True)
class Change:
    """One page both runs have that changed: ``what`` says how (``content``,
    ``status 200 -> 404``, ``title``)."""

    url: str
    what: str
    title: str | None


@dataclass(frozen=True)
class RunDiff:
    """The difference from run ``base_id`` (older) to run ``run_id``.

    ``new`` and ``gone``: URLs (sorted); ``changed``: :class:`Change` s;
    ``same``: pages both have, unchanged; ``by_digest``: how many of the pages
    both have were compared by digest (the others by status and title).
    """

    base_id: int
    run_id: int
    new: tuple[str, ...]
    gone: tuple[str, ...]
    changed: tuple[Change, ...]
    same: int
    by_digest: int

    def examples(self, limit: int = EXAMPLES) -> dict[str, tuple[Any, ...]]:
        """At most ``limit`` of each kind, for the report's tables."""
        return {
            "new": self.new[:limit],
            "gone": self.gone[:limit],
            "changed": self.changed[:limit],
        }


def _change(old: dict[str, Any], new: dict[str, Any]) -> tuple[str | None, bool]:
    """How ``new`` differs from ``old`` (``None``: it does not), and whether the
    digests decided."""
    if old.get("digest") and new.get("digest"):
        return ("content" if old["digest"] != new["digest"] else None), True
    if old.get("status") != new.get("status"):
        shown = [s if s is not None else "no response" for s in (old["status"], new["status"])]
        return f"status {shown[0]} -> {shown[1]}", False
    if (old.get("title") or None) != (new.get("title") or None):
        return "title", False
    return None, False


def diff_runs(
    base_id: int,
    base_pages: Iterable[dict[str, Any]],
    run_id: int,
    run_pages: Iterable[dict[str, Any]],
) -> RunDiff:
    """Compare the pages of run ``base_id`` with those of run ``run_id`` (dicts
    with ``url``, ``status``, ``title``, ``digest``)."""
    old = {page["url"]: page for page in base_pages}
    new = {page["url"]: page for page in run_pages}
    changed: list[Change] = []
    same = by_digest = 0
    for url in sorted(old.keys() & new.keys()):
        what, digested = _change(old[url], new[url])
        by_digest += digested
        if what is None:
            same += 1
        else:
            changed.append(Change(url, what, new[url].get("title")))
    return RunDiff(
        base_id=base_id,
        run_id=run_id,
        new=tuple(sorted(new.keys() - old.keys())),
        gone=tuple(sorted(old.keys() - new.keys())),
        changed=tuple(changed),
        same=same,
        by_digest=by_digest,
    )
