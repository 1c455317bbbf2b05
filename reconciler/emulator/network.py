"""What stands between a client and the service: latency, injected faults, throttling.

``Network`` supplies the emulator's built-in pipeline stages (see ``pipeline.py``):

* ``before``: every Graph and token request sleeps ``latency.fixed_ms`` plus a uniform
  0..``jitter_ms`` (from a ``Random(seed)``, re-seeded on reset and on a latency
  change), then meets the status/delay/reset fault rules.
* ``after_auth`` (Graph, valid token): the throttle; over the limit the answer is 429
  ``AADB2C95043`` with ``Retry-After`` (see ``throttle.retry_after_value``).
* ``after_commit``: commit_then_drop rules.

Whatever it does to a request is noted on the Context (``fault``, ``throttled``) for
the request log. ``render(ctx, status, code, message, headers)`` builds error answers
in the shape of the area (OData for Graph, AAD for the token service).
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Callable, Optional

from .config import Config, LatencySettings
from .faults import FaultSet
from .pipeline import Context, Response
from .throttle import Throttle, retry_after_value

THROTTLE_CODE = "AADB2C95043"
THROTTLE_MESSAGE = ("There are too many requests at this moment. "
                    "Please wait for some time and try again.")
Render = Callable[[Context, int, str, str, dict[str, str]], Response]


class Network:
    def __init__(self, config: Config, faults: FaultSet, render: Render):
        self.config, self.faults, self._render = config, faults, render
        self.throttle = Throttle(lambda: self.config.current.throttle)
        self._lock = threading.Lock()
        self._seeded_for: Optional[LatencySettings] = None
        self._random = random.Random()

    def reset(self) -> None:
        """Start rules back, counters and windows emptied, latency re-seeded."""
        self.faults.reset()
        self.throttle.reset()
        with self._lock:
            self._seeded_for = None

    def stats(self) -> dict[str, Any]:
        return {**self.throttle.stats(), "faults": self.faults.counts()}

    # -- stages ------------------------------------------------------------------------
    def _latency(self) -> float:
        settings = self.config.current.latency
        with self._lock:
            if settings is not self._seeded_for:
                self._random, self._seeded_for = random.Random(settings.seed), settings
            jitter = self._random.uniform(0, settings.jitter_ms) if settings.jitter_ms else 0.0
        return (settings.fixed_ms + jitter) / 1000

    def before(self, ctx: Context) -> Optional[Response]:
        if ctx.area == "graph":
            self.throttle.count_request()
        pause = self._latency()
        if pause > 0:
            time.sleep(pause)
        req = ctx.request
        rule = self.faults.take(req.method, req.path, committed=False)
        if rule is None:
            return None
        ctx.fault = rule.effect
        if rule.delay:
            time.sleep(rule.delay)
        if rule.effect == "reset":
            return Response.dropped()
        if rule.effect == "status":
            headers = {"Retry-After": rule.retry_after} if rule.retry_after else {}
            return self._render(ctx, rule.status or 500, rule.code or "", rule.message or "",
                                headers)
        return None                                        # "delay": handle as usual

    def after_auth(self, ctx: Context) -> Optional[Response]:
        claims = ctx.claims or {}
        app = str(claims.get("appid") or claims.get("azp") or "")
        wait = self.throttle.admit(app, str(claims.get("tid") or ""))
        if wait is None:
            return None
        ctx.throttled = True
        settings = self.config.current.throttle
        headers = {"Retry-After": retry_after_value(wait, settings.time_scale)} \
            if settings.retry_after else {}
        return self._render(ctx, 429, THROTTLE_CODE, THROTTLE_MESSAGE, headers)

    def after_commit(self, ctx: Context, response: Response) -> Optional[Response]:
        rule = self.faults.take(ctx.request.method, ctx.request.path, committed=True)
        if rule is None:
            return None
        ctx.fault = rule.effect
        if rule.delay:
            time.sleep(rule.delay)
        return Response.dropped()
