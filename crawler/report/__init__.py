"""Run reports: one self-contained HTML page of charts and tables about a run.

``render_report(store, run_id, *, compare_with=None, plotlyjs="inline") -> str``
and ``previous_run_for(store, run_id) -> int | None`` are the public API (the
``crawler report`` command and the dashboard use them).  Importing this
package imports neither Plotly nor Jinja2: rendering does.
"""

from crawler.report.data import previous_run_for
from crawler.report.html import render_report

__all__ = ["previous_run_for", "render_report"]
