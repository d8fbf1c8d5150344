"""One line redrawn in place on a terminal, with log records printed above it.

:class:`LiveLine` draws a line of text (and a bar, when the total is known) on
standard error with rich's :class:`~rich.progress.Progress`.  While it is
shown, the log handlers that write to that terminal (Scrapy's root handler,
a :class:`logging.StreamHandler` on ``sys.stderr``) write through rich's
console instead (a :class:`~rich.file_proxy.FileProxy`): rich clears the
line, prints each whole record and draws the line again below it, so records
never tear it.  A record's text is printed as it is: no rich markup is read
in it (``[red]`` stays ``[red]``), and of its escape sequences only colours
and styles (SGR) are kept.  :meth:`LiveLine.stop` draws the last state,
leaves it on the screen and gives the handlers their stream back.

rich is imported here, and this module only by a crawl that draws the line
(:mod:`crawler.extensions.progress`), so ``crawler --help`` never loads it.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.file_proxy import FileProxy
from rich.progress import BarColumn, Progress, ProgressColumn, TaskID, TextColumn

if TYPE_CHECKING:
    from typing import TextIO

BAR_WIDTH = 30  # characters of the bar, when the total is known


class LiveLine:
    """A line on ``stream`` (default: ``sys.stderr``, which must be a terminal).

    ``total``: the number of things to do, when known (a bar and ``done/total``
    are drawn); None draws the text alone.  The text holds no markup.
    """

    def __init__(self, total: int | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.console = Console(file=self.stream)
        columns: list[ProgressColumn] = []
        if total is not None:
            columns.append(BarColumn(bar_width=BAR_WIDTH))
        columns.append(TextColumn("{task.description}", markup=False))
        # Redrawn by update(), from the reactor: no refresh thread reading half-set fields.
        self.progress = Progress(
            *columns,
            console=self.console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,  # stdout may be the data (crawler extract's JSON lines)
            redirect_stderr=True,  # print() and warnings to stderr go above the line too
        )
        self.task: TaskID = self.progress.add_task("", total=total, start=True)
        self._rerouted: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []
        self._started = False

    def start(self, text: str, completed: int = 0) -> None:
        """Show the line, and reroute the root logger's handlers that write to
        the line's stream (see the module's docstring)."""
        self.progress.update(self.task, description=text, completed=completed)
        self.progress.start()
        self._started = True
        proxy = FileProxy(self.console, self.stream)
        for handler in logging.root.handlers:
            if (
                isinstance(handler, logging.StreamHandler)
                and not isinstance(handler, logging.FileHandler)
                and handler.stream is self.stream
            ):
                self._rerouted.append((handler, self.stream))
                handler.setStream(proxy)
        self.progress.refresh()

    @property
    def reroutes_log(self) -> bool:
        """Whether the log is written to the line's terminal (through rich, above
        the line) rather than to a file or nowhere."""
        return bool(self._rerouted)

    def update(self, text: str, completed: int | None = None) -> None:
        """Draw ``text`` (and the bar at ``completed`` of the total) now."""
        if not self._started:
            return
        self.progress.update(self.task, description=text, completed=completed)
        self.progress.refresh()

    def stop(self, text: str | None = None, completed: int | None = None) -> None:
        """Draw the last state (``text``, if given), leave it on the screen and
        give the log handlers their stream back.  Idempotent."""
        if not self._started:
            return
        self._started = False
        try:
            if text is not None:
                self.progress.update(self.task, description=text, completed=completed)
            self.progress.stop()
        finally:
            for handler, stream in self._rerouted:
                handler.setStream(stream)
            self._rerouted.clear()
