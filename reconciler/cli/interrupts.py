"""Ctrl-C and SIGTERM while applying: stop starting changes, let calls in flight finish;
before and after that, SIGTERM interrupts as Ctrl-C does, so the tenant lease is given back."""

from __future__ import annotations

import signal
import threading


class StopOnSignal:
    """While applying, the first SIGINT or SIGTERM asks the applier to stop starting
    changes (calls in flight finish); a second one stops at once. Exit code 128 +
    the signal's number (130, 143), as shells do."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.event = threading.Event()
        self.exit_code = 1  # no signal came: the report's own exit code is used
        self._previous: dict = {}

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.event.is_set():
            signal.default_int_handler(signum, frame)  # second signal: KeyboardInterrupt now
        self.event.set()
        self.exit_code = 128 + signum
        self.ctx.err(
            f"\n{signal.Signals(signum).name}: no new change starts; waiting for calls in flight "
            "(again to stop at once)"
        )

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


class TerminateAsInterrupt:
    """SIGTERM (a pipeline cancelled, `kill`) raises KeyboardInterrupt, as Ctrl-C does, so that
    `finally` blocks run: the tenant lease is given back instead of waiting to expire."""

    def __init__(self):
        self._previous = None

    def __enter__(self) -> "TerminateAsInterrupt":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
