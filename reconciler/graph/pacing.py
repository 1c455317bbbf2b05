"""Client-side pacing: keep Graph requests under the per-app limit.

Graph allows 200 requests per minute per app and tenant for key sets
(see reconciler/emulator/ASSUMPTIONS.md), counted over a sliding minute. A `Pacer` lets a
request start only while fewer than `limit` requests are *active*: in flight,
or answered less than a window ago. A request reaches Graph after it starts and
before its answer comes back, so however the network delays it, Graph never
counts more than `limit` of ours in any window; yet a large apply runs at the
ceiling instead of into 429s. One Pacer is shared by all workers. When Graph
answers 429 anyway, `hold(seconds)` pauses every worker.
"""

from __future__ import annotations

import heapq
import threading
import time
from typing import Callable

MARGIN = 0.01  # the window is taken 1% longer: Graph's clock need not run at ours


class Pacer:
    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        if limit <= 0:
            raise ValueError("limit must be positive")
        self.limit = limit
        self.window = window * (1 + MARGIN)
        self._clock = clock
        self._in_flight = 0
        self._expiries: list[float] = []  # heap: when each answered request leaves the window
        self._not_before = 0.0
        self._changed = threading.Condition()
        self.waited = 0.0  # total seconds callers spent waiting, for reports and benchmarks

    def acquire(self) -> None:
        """Blocks until a request may start, then counts it as in flight."""
        with self._changed:
            while True:
                now = self._clock()
                while self._expiries and self._expiries[0] <= now:
                    heapq.heappop(self._expiries)
                wait = self._not_before - now
                if wait <= 0 and self._in_flight + len(self._expiries) >= self.limit:
                    wait = self._expiries[0] - now if self._expiries else None  # None: until an answer
                if wait is not None and wait <= 0:
                    self._in_flight += 1
                    return
                started = self._clock()
                self._changed.wait(wait)
                self.waited += self._clock() - started

    def release(self) -> None:
        """The request's answer came (or it failed): it stays counted for one window."""
        with self._changed:
            self._in_flight -= 1
            heapq.heappush(self._expiries, self._clock() + self.window)
            self._changed.notify_all()

    def hold(self, seconds: float) -> None:
        """No request starts for `seconds` from now (Graph said Retry-After)."""
        with self._changed:
            self._not_before = max(self._not_before, self._clock() + seconds)


class Unpaced:
    """A pacer that never waits (pacing turned off)."""

    waited = 0.0

    def acquire(self) -> None:
        pass

    def release(self) -> None:
        pass

    def hold(self, seconds: float) -> None:
        pass
