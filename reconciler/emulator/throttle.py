"""Throttling as Graph does it for key sets: a sliding window per app and per tenant.

A Graph request with a valid token is *admitted* when, over the last window
(60 s divided by ``time_scale``), fewer than ``app_per_minute`` requests of its app
(token ``appid``) and fewer than ``tenant_per_minute`` requests of its tenant (all
apps, token ``tid``) were admitted. Only admitted requests count: a 429 does not
lengthen the wait. Otherwise ``admit`` returns the seconds until the window lets a
request through again, and the caller answers 429.

Admitted timestamps are recorded even when throttling is off, so ``stats`` can tell a
test the most requests any app (or the tenant) had in one window: "did the client's
pacing stay under the limit?" is answerable with throttling on or off.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from typing import Any, Callable, Optional

from .config import ThrottleSettings

MAX_RECORDED = 100_000


def retry_after_value(wait: float, time_scale: float) -> str:
    """The Retry-After header for a real wait of ``wait`` seconds.

    Whole emulated seconds, rounded up, at least one, given in real seconds: with
    ``time_scale`` 1 that is an integer ("7"), as the real service sends; with another
    scale it is fractional, to the millisecond rounded up ("0.117" at scale 60).
    """
    emulated = max(1, math.ceil(round(wait * time_scale, 6)))
    real = emulated / time_scale
    if float(real).is_integer():
        return str(int(real))
    return f"{math.ceil(round(real * 1000, 6)) / 1000:.3f}".rstrip("0").rstrip(".")


def max_in_window(stamps: list[float], window: float) -> int:
    """Most timestamps in any half-open interval (t - window, t]."""
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamps[start] <= stamp - window:
            start += 1
        best = max(best, end - start + 1)
    return best


class Throttle:
    """Sliding-window admission and the counters behind ``/_emulator/stats``."""

    def __init__(self, settings: Callable[[], ThrottleSettings],
                 clock: Callable[[], float] = time.monotonic):
        self._settings, self._clock = settings, clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._apps: dict[str, collections.deque[float]] = {}
            self._tenants: dict[str, collections.deque[float]] = {}
            self._admitted: collections.deque[tuple[float, str]] = \
                collections.deque(maxlen=MAX_RECORDED)
            self._graph_requests = self._throttled = self._admitted_total = 0

    def count_request(self) -> None:
        """One more request to a Graph path, whatever becomes of it."""
        with self._lock:
            self._graph_requests += 1

    def admit(self, app: str, tenant: str) -> Optional[float]:
        """None if the request is admitted (and recorded); else the real seconds to wait."""
        settings = self._settings()
        window = settings.window_seconds
        with self._lock:
            now = self._clock()
            app_q = self._apps.setdefault(app, collections.deque())
            tenant_q = self._tenants.setdefault(tenant, collections.deque())
            for queue in (app_q, tenant_q):
                while queue and queue[0] <= now - window:
                    queue.popleft()
            if settings.enabled:
                waits = [queue[len(queue) - limit] + window - now
                         for queue, limit in ((app_q, settings.app_per_minute),
                                              (tenant_q, settings.tenant_per_minute))
                         if len(queue) >= limit]
                if waits:
                    self._throttled += 1
                    return max(max(waits), 0.0)
            app_q.append(now)
            tenant_q.append(now)
            self._admitted.append((now, app))
            self._admitted_total += 1
            return None

    def stats(self) -> dict[str, Any]:
        settings = self._settings()
        window = settings.window_seconds
        with self._lock:
            admitted = list(self._admitted)
            graph_requests, throttled = self._graph_requests, self._throttled
            admitted_total = self._admitted_total
        per_app: dict[str, list[float]] = {}
        for stamp, app in admitted:
            per_app.setdefault(app, []).append(stamp)
        return {
            "window_seconds": window,
            "throttle": {"enabled": settings.enabled, "app_per_minute": settings.app_per_minute,
                         "tenant_per_minute": settings.tenant_per_minute,
                         "time_scale": settings.time_scale, "retry_after": settings.retry_after},
            "graph_requests": graph_requests,
            "admitted": admitted_total,
            "throttled": throttled,
            "max_in_window": {
                "tenant": max_in_window([stamp for stamp, _ in admitted], window),
                "apps": {app: max_in_window(stamps, window) for app, stamps in per_app.items()},
            },
        }
