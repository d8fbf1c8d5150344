"""The report's charts, as Plotly figures (``plotly.graph_objects``).

Each function takes what :mod:`crawler.report.data` computed and returns a
figure, or ``None`` when there is nothing to draw (the page then says so).
Text that came from a crawled site and that Plotly draws (URL patterns on an
axis, in hover labels) is passed through :func:`html.escape`: Plotly renders
a subset of HTML tags in its text.  Quotes are left as they are
(``quote=False``): with ``<`` escaped no tag can start, and Plotly draws
``&lt;``, ``&gt;`` and ``&amp;`` as the characters but ``&quot;`` literally.

Importing this module imports Plotly: only :mod:`crawler.report.html` does,
when a report is rendered.
"""

from __future__ import annotations

from datetime import timedelta
from html import escape as html_escape
from typing import TYPE_CHECKING

import plotly.graph_objects as go

from crawler.report import data as rd

if TYPE_CHECKING:
    from crawler.report.data import RunData
    from crawler.report.diff import RunDiff


def escape(text: str) -> str:
    """``text`` as Plotly text that shows it literally (see the module docstring)."""
    return html_escape(text, quote=False)


STATUS_COLORS = {
    "2xx": "#2ca02c",
    "3xx": "#1f77b4",
    "4xx": "#ff7f0e",
    "5xx": "#d62728",
    rd.NO_RESPONSE: "#7f7f7f",
}
HEIGHT = 320  # px, every chart
TIME_BINS = 40  # bars over the run's time
LATENCY_BINS = 30  # bars from 0 to the longest response time
SMALL_COUNT = 10  # pages: a count axis up to this many has a tick at each whole number


def _layout(fig: go.Figure, **axes: str) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=HEIGHT,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "traceorder": "normal"},
        font={"family": "system-ui, sans-serif", "size": 12},
        **{f"{axis}axis_title_text": title for axis, title in axes.items()},
    )
    return fig


def _whole_counts(fig: go.Figure, axis: str, most: int) -> go.Figure:
    """Ticks at whole numbers on a count axis whose values stay small (Plotly
    would mark 0.5, 1.5...); larger ones keep Plotly's ticks."""
    if most <= SMALL_COUNT:
        fig.update_layout({f"{axis}axis": {"dtick": 1, "rangemode": "tozero"}})
    return fig


def status_over_time(data: RunData) -> go.Figure | None:
    """Pages recorded over the run's time, in :data:`TIME_BINS` bins stacked by
    status class."""
    series = rd.times_by_status_class(data.pages)
    if not series:
        return None
    every = [when for times in series.values() for when in times]
    first = min(every)
    span_ms = (max(every) - first).total_seconds() * 1000
    size = max(span_ms / TIME_BINS, 1.0)  # ms
    count = min(int(span_ms // size) + 1, TIME_BINS)
    middles = [(first + timedelta(milliseconds=(i + 0.5) * size)).isoformat() for i in range(count)]
    fig = go.Figure()
    for name, times in series.items():
        offsets = ((when - first).total_seconds() * 1000 for when in times)
        fig.add_trace(
            go.Bar(
                x=middles,
                y=rd.histogram(offsets, size, count),
                width=size,
                name=name,
                marker_color=STATUS_COLORS[name],
                hovertemplate=f"{name}: %{{y}}<extra>%{{x}}</extra>",
            )
        )
    fig.update_layout(barmode="stack", bargap=0, showlegend=True)  # even for one class
    _whole_counts(fig, "y", len(every))
    return _layout(fig, x="time (UTC)", y="pages")


def response_times(data: RunData) -> go.Figure | None:
    """Response times (ms) in :data:`LATENCY_BINS` bins from 0 to the longest,
    plain and rendered pages stacked."""
    series = {name: ms for name, ms in rd.latencies(data.pages).items() if ms}
    if not series:
        return None
    longest = max(max(ms) for ms in series.values())
    size = max(longest / LATENCY_BINS, 1.0)
    count = min(int(longest // size) + 1, LATENCY_BINS)
    ranges = [f"{i * size:.0f}-{(i + 1) * size:.0f} ms" for i in range(count)]
    colors = {"plain": "#1f77b4", "rendered": "#9467bd"}
    fig = go.Figure(
        [
            go.Bar(
                x=[(i + 0.5) * size for i in range(count)],
                y=rd.histogram(ms, size, count),
                width=size,
                name=name,
                marker_color=colors[name],
                customdata=ranges,
                hovertemplate=f"{name}: %{{y}}<extra>%{{customdata}}</extra>",
            )
            for name, ms in series.items()
        ]
    )
    fig.update_layout(barmode="stack", bargap=0)
    _whole_counts(fig, "y", sum(len(ms) for ms in series.values()))
    fig.update_xaxes(rangemode="tozero")
    return _layout(fig, x="response time (ms)", y="pages")


def _hbar(counts: list[tuple[str, int]], color: str, y_title: str) -> go.Figure:
    """A horizontal bar chart, the largest on top; labels escaped."""
    labels = [escape(label) for label, _ in reversed(counts)]
    values = [n for _, n in reversed(counts)]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=color,
            hovertemplate="%{y}: %{x}<extra></extra>",
        )
    )
    fig.update_yaxes(type="category", automargin=True)
    _whole_counts(fig, "x", max(values))
    return _layout(fig, x="pages", y=y_title)


def found_via(data: RunData) -> go.Figure | None:
    """Pages by how the crawl reached them (``pages.found_via``)."""
    counts = [(str(value), n) for value, n in rd.counts_by(data.pages, "found_via")]
    return _hbar(counts, "#17becf", "found via") if counts else None


def rendered_vs_plain(data: RunData) -> go.Figure | None:
    """Pages rendered in the browser and pages fetched over plain HTTP."""
    rendered = sum(1 for page in data.pages if page["rendered"])
    plain = len(data.pages) - rendered
    if not data.pages:
        return None
    fig = go.Figure(
        go.Pie(
            labels=["plain HTTP", "rendered"],
            values=[plain, rendered],
            marker_colors=["#1f77b4", "#9467bd"],
            hole=0.45,
            sort=False,
        )
    )
    return _layout(fig)


def depth(data: RunData) -> go.Figure | None:
    """Pages by depth (links from the start URL)."""
    counts = rd.depth_counts(data.pages)
    if not counts:
        return None
    fig = go.Figure(
        go.Bar(x=[d for d, _ in counts], y=[n for _, n in counts], marker_color="#8c564b")
    )
    fig.update_xaxes(dtick=1)
    _whole_counts(fig, "y", max(n for _, n in counts))
    return _layout(fig, x="depth", y="pages")


def url_patterns(data: RunData) -> go.Figure | None:
    """The most common URL patterns (:func:`crawler.report.data.url_pattern`)."""
    counts = rd.top_patterns(data)
    return _hbar(counts, "#bcbd22", "URL pattern") if counts else None


def changes(diff: RunDiff) -> go.Figure:
    """Pages new, gone, changed and unchanged since the run compared with."""
    kinds = ["new", "gone", "changed", "unchanged"]
    values = [len(diff.new), len(diff.gone), len(diff.changed), diff.same]
    fig = go.Figure(
        go.Bar(x=kinds, y=values, marker_color=["#2ca02c", "#d62728", "#ff7f0e", "#7f7f7f"])
    )
    _whole_counts(fig, "y", max(values))
    return _layout(fig, y="pages")
