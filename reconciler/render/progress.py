"""Progress of a long apply.

On a terminal, a status line at the bottom shows done/total, the elapsed time and
what is in flight, redrawn in place; finished changes scroll above it, one line
each. Anywhere else (CI logs, pipes) only the one-line-per-change output is
written, so logs stay plain. Thread-safe: apply's workers report into it. What is in
flight is shown `printable`; finished lines come rendered (`render.text.render_outcome`).
"""

from __future__ import annotations

import threading
import time
from typing import Callable, TextIO

from ..core.diagnostics import printable

REDRAW_SECONDS = 0.5
DEFAULT_WIDTH = 80  # when the terminal does not say


def fit(line: str, width: int) -> str:
    """`line` cut to `width - 1` columns: a line as wide as the terminal would wrap (or leave
    the cursor past the margin) on some terminals, and `\r` would then redraw the wrong row."""
    return line[: max(width - 1, 1)]


class Progress:
    def __init__(self, stream: TextIO, total: int, *, live: bool, width: Callable[[], int] = lambda: DEFAULT_WIDTH):
        """`width`: the terminal's width now (columns), asked at each redraw: it may be resized."""
        self.stream = stream
        self.total = total
        self.live = live
        self.width = width
        self.done = 0
        self._started = time.monotonic()
        self._in_flight: dict[int, str] = {}  # thread id -> what it is doing
        self._lock = threading.RLock()
        self._shown = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> "Progress":
        if self.live:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._ticker:
            self._ticker.join()
        with self._lock:
            self._clear()

    def started(self, what: str) -> None:
        with self._lock:
            self._in_flight[threading.get_ident()] = printable(what)  # it names key sets and kids
            self._redraw()

    def finished(self, line: str) -> None:
        """A change is over: print its line (above the status line)."""
        with self._lock:
            self._in_flight.pop(threading.get_ident(), None)
            self.done += 1
            self._clear()
            self.stream.write(line + "\n")
            self._redraw()
            self.stream.flush()

    def status_line(self, width: int | None = None) -> str:
        """What is in flight, cut to `width` (default: the terminal's, as `width()` says)."""
        elapsed = int(time.monotonic() - self._started)
        doing = next(iter(self._in_flight.values()), "")
        more = f" (+{len(self._in_flight) - 1} more)" if len(self._in_flight) > 1 else ""
        line = f"[{self.done}/{self.total}] {elapsed // 60:d}:{elapsed % 60:02d} {doing}{more}"
        return fit(line, self.width() if width is None else width)

    def _tick(self) -> None:
        while not self._stop.wait(REDRAW_SECONDS):
            with self._lock:
                self._redraw()

    def _redraw(self) -> None:
        if not self.live:
            return
        self.stream.write("\r\033[K" + self.status_line())
        self.stream.flush()
        self._shown = True

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\033[K")
            self._shown = False
