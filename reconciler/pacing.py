"""Client-side pacing: keep Graph requests under the per-app limit.

Graph allows 200 requests per minute per app and tenant for key sets
(reference/graph-api.md §7), counted over a sliding minute. `Pacer` keeps the
start times of recent requests and lets a request start only while fewer than
`limit` started within the window (plus a small margin for network jitter), so
a large apply runs at the ceiling instead of into 429s. One Pacer is shared by
all workers. When Graph answers 429 anyway, `hold(seconds)` pauses every worker.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable

MARGIN = 0.02  # the window is taken 2% longer than a minute: jitter between us and Graph


class Pacer:
    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if limit <= 0:
            raise ValueError("limit must be positive")
        self.limit = limit
        self.window = window * (1 + MARGIN)
        self._clock = clock
        self._sleep = sleep
        self._starts: collections.deque[float] = collections.deque()
        self._not_before = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0  # total seconds callers spent waiting, for reports and benchmarks

    def acquire(self) -> None:
        """Blocks until a request may start, then counts it as started."""
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and self._starts[0] <= now - self.window:
                    self._starts.popleft()
                wait = self._not_before - now
                if wait <= 0 and len(self._starts) >= self.limit:
                    wait = self._starts[0] + self.window - now
                if wait <= 0:
                    self._starts.append(now)
                    return
            self.waited += wait
            self._sleep(wait)

    def hold(self, seconds: float) -> None:
        """No request starts for `seconds` from now (Graph said Retry-After)."""
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + seconds)


class Unpaced:
    """A pacer that never waits (pacing turned off)."""

    waited = 0.0

    def acquire(self) -> None:
        pass

    def hold(self, seconds: float) -> None:
        pass
