"""One line redrawn in place on a terminal, with log records printed above it.

:class:`LiveLine` draws a line of text (and a bar, when the total is known) on
standard error with rich's :class:`~rich.progress.Progress`.  While it is
shown, the log handlers that write to that terminal (Scrapy's root handler,
a :class:`logging.StreamHandler` on ``sys.stderr``) write through rich's
console instead (:class:`RecordProxy`, as rich's
:class:`~rich.file_proxy.FileProxy`): rich clears the line, prints each whole
record and draws the line again below it, so records never tear it.  A
record's text is printed as it is: no rich markup is read in it (``[red]``
stays ``[red]``), of its escape sequences only colours and styles (SGR) are
kept, and it is not wrapped (rich's ``soft_wrap``): the terminal wraps a long
line itself, as it does without the line, so a long URL stays one string to
copy.  ``print()`` to ``sys.stderr`` goes the same way.  :meth:`LiveLine.stop`
draws the last state, leaves it on the screen and gives the handlers their
stream back.

A terminal that cannot redraw a line (``TERM=dumb``, or one rich finds not
interactive, e.g. ``TTY_INTERACTIVE=0``) gets nothing until the end from
rich: :attr:`LiveLine.interactive` says so, and the caller logs instead.

rich is imported here, and this module only by a crawl that draws the line
(:mod:`crawler.extensions.progress`), so ``crawler --help`` never loads it.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import TYPE_CHECKING

from rich.ansi import AnsiDecoder
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TaskID, TextColumn

if TYPE_CHECKING:
    from typing import TextIO

BAR_WIDTH = 30  # characters of the bar, when the total is known
# The bar's colours: standard ANSI ones, kept as they are on a 16-colour terminal
# (rich's default finished colour, rgb(114,156,31), becomes grey 90 there: a full
# bar then looks like an empty one).
BAR_COMPLETE_STYLE = "magenta"
BAR_FINISHED_STYLE = "green"


class RecordProxy(io.TextIOBase):
    """A text stream that prints whole lines on ``console`` (above its live
    display), unwrapped: rich's :class:`~rich.file_proxy.FileProxy` with
    ``soft_wrap``.  A line is printed once its ``\\n`` is written (or at
    :meth:`flush`); rich markup in it is not read, of its escape sequences only
    SGR (colours, styles) are kept."""

    def __init__(self, console: Console, stream: TextIO) -> None:
        self.console = console
        self.stream = stream
        self.pending: list[str] = []
        self.decoder = AnsiDecoder()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        *lines, rest = text.split("\n")
        if lines:
            lines[0] = "".join(self.pending) + lines[0]
            self.pending.clear()
            self._print(lines)
        if rest:
            self.pending.append(rest)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            line = "".join(self.pending)
            self.pending.clear()
            self._print([line])

    def _print(self, lines: list[str]) -> None:
        with self.console:
            for line in lines:
                self.console.print(self.decoder.decode_line(line), soft_wrap=True)

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return self.stream.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8")


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
            columns.append(
                BarColumn(
                    bar_width=BAR_WIDTH,
                    complete_style=BAR_COMPLETE_STYLE,
                    finished_style=BAR_FINISHED_STYLE,
                )
            )
        columns.append(TextColumn("{task.description}", markup=False))
        # Redrawn by update(), from the reactor: no refresh thread reading half-set fields.
        self.progress = Progress(
            *columns,
            console=self.console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,  # stdout may be the data (crawler extract's JSON lines)
            redirect_stderr=False,  # done by start(): unwrapped (RecordProxy)
        )
        self.task: TaskID = self.progress.add_task("", total=total, start=True)
        self._rerouted: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []
        self._stderr: TextIO | None = None  # sys.stderr while it is rerouted
        self._started = False

    @property
    def interactive(self) -> bool:
        """Whether the line can be redrawn in place: rich's
        :attr:`~rich.console.Console.is_interactive` (a terminal, not ``TERM=dumb``
        nor ``TTY_INTERACTIVE=0``).  When false rich draws nothing until
        :meth:`stop`: show progress some other way."""
        return self.console.is_interactive

    def start(self, text: str, completed: int = 0) -> None:
        """Show the line, and reroute the root logger's handlers that write to
        the line's stream (see the module's docstring)."""
        self.progress.update(self.task, description=text, completed=completed)
        self.progress.start()
        self._started = True
        proxy = RecordProxy(self.console, self.stream)
        if sys.stderr is self.stream:  # print() and warnings go above the line too
            self._stderr, sys.stderr = sys.stderr, proxy
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
            if self._stderr is not None:
                sys.stderr, self._stderr = self._stderr, None
            for handler, stream in self._rerouted:
                handler.setStream(stream)
            self._rerouted.clear()
