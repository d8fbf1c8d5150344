"""The run report as one HTML document: :func:`render_report`.

The page is made by Jinja2 with autoescaping on (``templates/report.html``):
every value from a crawled site (URLs, titles, errors, stats keys) is escaped
where it is written.  The figures' JSON goes in one ``<script
type="application/json">`` block with ``<``, ``>`` and ``&`` as ``\\u`` escapes
(a data block is never run, and no ``</script>`` can end it early); one
constant script (:data:`REPORT_SCRIPT`) draws them.  Its hash
(:data:`REPORT_SCRIPT_HASH`) lets a server allow that script, and no other
inline one, in a Content-Security-Policy (``script-src 'self' <hash>``).

Plotly and Jinja2 are imported when a report is rendered, not when
``crawler`` starts.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crawler.report import data as rd
from crawler.report.diff import diff_runs

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from crawler.report.data import RunData
    from crawler.report.diff import RunDiff
    from crawler.storage.sql import SqlStore

INLINE = "inline"
NO_PAGES = "no pages in this run"
NO_LATENCY = "no response times recorded (no responses, or a store written before they were)"
#: Draws every figure of the page's ``report-figures`` data block with Plotly.
REPORT_SCRIPT = (
    "(function(){"
    'var figures=JSON.parse(document.getElementById("report-figures").textContent);'
    "Object.keys(figures).forEach(function(id){"
    "var f=figures[id];"
    "Plotly.newPlot(id,f.data,f.layout,{displaylogo:false,displayModeBar:false,responsive:true});"
    "});"
    "})();"
)
#: :data:`REPORT_SCRIPT`'s CSP source expression (``'sha256-...'``).
REPORT_SCRIPT_HASH = (
    "'sha256-" + base64.b64encode(hashlib.sha256(REPORT_SCRIPT.encode()).digest()).decode() + "'"
)
_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


@dataclass(frozen=True)
class Chart:
    """One chart of the page: its div's id, its heading, and its figure's JSON
    (``None``: nothing to draw, ``note`` says why)."""

    id: str
    title: str
    figure: str | None
    note: str = "no data"


def _chart(chart_id: str, title: str, figure: Figure | None, note: str = NO_PAGES) -> Chart:
    return Chart(chart_id, title, None if figure is None else figure.to_json(), note)


@dataclass(frozen=True)
class Comparison:
    """How the run compared with relates to the reported one: ``later`` when it
    started after it (the diff then runs from this run to that one: "changes
    until run N"), ``other_site`` when its spider or canonical start URL
    differs (:func:`w3lib.url.canonicalize_url`, as
    :meth:`~crawler.storage.sql.SqlStore.previous_run` compares them)."""

    base: RunData
    later: bool
    other_site: bool

    @property
    def heading(self) -> str:
        return f"Changes {'until' if self.later else 'since'} run {self.base.id}"


def _comparison(data: RunData, base: RunData) -> Comparison:
    from w3lib.url import canonicalize_url

    def started(run: RunData) -> tuple[datetime, int]:
        when = run.run.get("started_at") or datetime.min
        return (when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when, run.id)

    def start(run: RunData) -> str:
        return canonicalize_url(run.run.get("start_url") or "")

    return Comparison(
        base=base,
        later=started(base) > started(data),
        other_site=base.run.get("spider") != data.run.get("spider") or start(base) != start(data),
    )


def _charts(
    data: RunData, diff: RunDiff | None, comparison: Comparison | None = None
) -> dict[str, Chart]:
    from crawler.report import charts

    made = [
        _chart("chart-status-time", "Pages over time, by status", charts.status_over_time(data)),
        _chart("chart-latency", "Response times", charts.response_times(data), NO_LATENCY),
        _chart("chart-found-via", "How pages were found", charts.found_via(data)),
        _chart("chart-rendered", "Rendered vs plain HTTP", charts.rendered_vs_plain(data)),
        _chart("chart-depth", "Depth", charts.depth(data)),
        _chart("chart-patterns", "Top URL patterns", charts.url_patterns(data)),
    ]
    if diff is not None and comparison is not None:
        title = f"Pages {'until' if comparison.later else 'since'} run {comparison.base.id}"
        made.append(_chart("chart-changes", title, charts.changes(diff)))
    return {chart.id: chart for chart in made}


def _figures_json(charts: dict[str, Chart]) -> str:
    """``{div id: figure}`` as JSON safe inside a ``<script>`` element."""
    body = ",".join(
        f"{json.dumps(chart.id)}:{chart.figure}" for chart in charts.values() if chart.figure
    )
    return ("{" + body + "}").translate(_JSON_ESCAPES)


def _plotly_script(plotlyjs: str) -> dict[str, str]:
    if plotlyjs == INLINE:
        from plotly.offline import get_plotlyjs

        return {"inline": get_plotlyjs()}
    return {"src": plotlyjs}


def _web_url(url: str | None) -> bool:
    """Whether ``url`` may be a link of the page: http or https only (never
    ``javascript:``, ``data:``...)."""
    return bool(url) and urlsplit(str(url)).scheme.lower() in ("http", "https")


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_report(
    store: SqlStore,
    run_id: int,
    *,
    compare_with: int | None = None,
    plotlyjs: str = INLINE,
) -> str:
    """The report of run ``run_id`` in ``store``, a whole HTML document (UTF-8 text).

    ``compare_with``: another run's id, whose pages are compared with this
    run's (new, gone, changed: :mod:`crawler.report.diff`), from the earlier
    of the two runs to the later ("changes since run N", or "until run N" for
    a later one; a run of another spider or start URL is named as another
    site); ``None``: no comparison (``crawler report`` passes
    :func:`previous_run_for` by default).
    ``plotlyjs``: ``"inline"`` embeds Plotly's JavaScript (about 4.8 MB; the file
    needs no network), any other value is the ``src`` URL of a ``<script>``
    that loads it (the dashboard's ``/static/plotly.min.js``).

    Raises :class:`~crawler.exceptions.ReportError` (a ``ConfigError``) when the
    store has no run ``run_id`` or ``compare_with``;
    :class:`~crawler.exceptions.StoreError` when the store cannot be read.
    """
    import jinja2
    from markupsafe import Markup

    data = rd.load_run(store, run_id)
    base: RunData | None = None
    diff: RunDiff | None = None
    comparison: Comparison | None = None
    if compare_with is not None:
        base = rd.load_run(store, compare_with)
        comparison = _comparison(data, base)
        if comparison.later:  # from this run to the later one
            diff = diff_runs(data.id, data.pages, base.id, base.pages)
        else:
            diff = diff_runs(base.id, base.pages, data.id, data.pages)
    charts = _charts(data, diff, comparison)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("crawler.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["seconds"] = _seconds
    env.filters["when"] = _when
    env.tests["web_url"] = _web_url
    stats = data.stats
    template = env.get_template("report.html")
    return template.render(
        data=data,
        run=data.run,
        verdict=rd.verdict(stats),
        kind=rd.run_kind(data.run),
        reasons=rd.failure_reasons(stats),
        pages_failed=rd.pages_failed(data),
        pages_fetched=rd.pages_fetched(data),
        duration=rd.duration(data.run),
        charts=charts,
        figures_json=Markup(_figures_json(charts)),
        report_script=Markup(REPORT_SCRIPT),
        plotly=_plotly_script(plotlyjs),
        status_counts=[
            ("no response" if s is None else s, n) for s, n in rd.counts_by(data.pages, "status")
        ],
        slowest=rd.slowest(data.pages),
        errors=rd.error_groups(data.pages),
        traps=rd.trap_groups(data.refused),
        form_pages=rd.form_pages(data.pages),
        form_stats=rd.stats_with_prefix(stats, "forms/"),
        login_stats=[
            (key, value)
            for key, value in rd.stats_with_prefix(stats, "login/", "logout/")
            if key != rd.LOGIN_ERROR_STAT
        ],
        login_error=stats.get(rd.LOGIN_ERROR_STAT),
        base=base,
        diff=diff,
        comparison=comparison,
        examples=rd.EXAMPLES,
        generated=_when(datetime.now(UTC)),
    )
