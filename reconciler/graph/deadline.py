"""The run's deadline (B2CKEYS_DEADLINE): once it passes, no request starts, and a request in
flight is cut, for Graph and for sign-in alike (`reconciler.graph.transport`).

It is counted from when the run reads its settings (`reconciler.graph.settings`), in real
seconds (B2CKEYS_TIME_SCALE does not shorten it). What a run does to finish cleanly (apply
reading back what it added, and giving the tenant lease back) runs `finishing()`: its
requests may go on for FINISHING_SECONDS past the deadline, so that a run stopped by it
does not leave the lease to expire.
"""

from __future__ import annotations

import math
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from ..core.errors import DeadlinePassed

FINISHING_SECONDS = 60.0
VARIABLE = "B2CKEYS_DEADLINE"


class Deadline:
    """`seconds` from now (None: none at all). Safe to share between threads."""

    def __init__(self, seconds: float | None = None, *, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self.ends = math.inf if seconds is None else clock() + seconds
        self._finishing = threading.local()

    def remaining(self) -> float:
        """Seconds left for this thread's requests (infinite when there is no deadline)."""
        grace = FINISHING_SECONDS if getattr(self._finishing, "depth", 0) else 0.0
        return self.ends + grace - self._clock()

    @contextmanager
    def finishing(self) -> Iterator[None]:
        """Within the block, this thread's requests may run FINISHING_SECONDS past the deadline."""
        self._finishing.depth = getattr(self._finishing, "depth", 0) + 1
        try:
            yield
        finally:
            self._finishing.depth -= 1

    def _named(self) -> str:
        return f"the run's deadline passed ({VARIABLE}={self.seconds:g} s)"

    def not_started(self, doing: str) -> DeadlinePassed:
        return DeadlinePassed(f"{self._named()} before {doing} could start; nothing more is sent. "
                              f"Raise {VARIABLE} if the run needs longer", doing=doing)

    def cut(self, doing: str, *, write: bool = False) -> DeadlinePassed:
        effect = " (a write may have taken effect: plan again to see)" if write else ""
        return DeadlinePassed(f"{self._named()} while waiting for the answer to {doing}{effect}; "
                              f"raise {VARIABLE} if the run needs longer", doing=doing, in_flight=True)

    def before_retry(self, doing: str, last: str) -> DeadlinePassed:
        return DeadlinePassed(f"the run's deadline ({VARIABLE}={self.seconds:g} s) comes before the next try of "
                              f"{doing} (last answer: {last}); raise {VARIABLE} if the run needs longer")
