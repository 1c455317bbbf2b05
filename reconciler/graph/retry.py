"""When to try a Graph call again, and how long to wait first.

Three kinds of failure (their codes and sources: reconciler/emulator/ASSUMPTIONS.md):

- *rejected*: Graph refused the request and did nothing — 429, AADB2C95043
  (throttled), AADB2C95053 (another write to the key set in progress). Any
  request may be sent again after the wait.
- *ambiguous*: no answer, or one that does not say whether a write happened —
  a timeout, a reset connection, 5xx, AADB2C90063 ("There is a problem with the
  service"), a 2xx answer that cannot be read (`GraphAnswerUnreadable`: empty, not
  JSON, a key without kty). Reads are simply sent again (but for an unreadable
  answer, which is reported); a write must first find out whether it
  took effect (`reconciler.graph.ensure`), since uploadSecret and generateKey add a
  new key on every call.
- *final*: anything else (bad request, not found, forbidden): not retried.

Waits: Retry-After when Graph gives one (seconds or an HTTP date), else
exponential backoff with full jitter. Every call has a total budget of tries
and seconds; past it the error says what was tried, for how long, and the last
answer with its request-id.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import Callable

from ..core.errors import GraphAnswerUnreadable, GraphError, GraphServerError, GraphThrottled, GraphUnreachable

BUSY_CODES = {"AADB2C95053"}
SERVICE_PROBLEM_CODES = {"AADB2C90063"}


def is_rejected(error: GraphError) -> bool:
    return isinstance(error, GraphThrottled) or error.code in BUSY_CODES


def is_ambiguous(error: GraphError) -> bool:
    return (
        isinstance(error, (GraphUnreachable, GraphServerError, GraphAnswerUnreadable))
        or error.code in SERVICE_PROBLEM_CODES
    )


def is_transient(error: GraphError) -> bool:
    return is_rejected(error) or is_ambiguous(error)


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one logical call.

    `scale` divides every wait and the time budget: 60 makes a minute last a
    second, to match an emulator run with `--time-scale 60`.
    """

    max_tries: int = 8
    budget_seconds: float = 300.0
    base_delay: float = 2.0
    max_delay: float = 60.0
    throttle_delay: float = 5.0  # first wait after a 429 without Retry-After
    scale: float = 1.0

    def delay(self, attempt: int, error: GraphError, rng: random.Random = random) -> float:
        """Seconds to wait before try number `attempt + 1` (attempt counts from 1)."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return retry_after  # Graph's own word, already in real seconds
        base = self.throttle_delay if is_rejected(error) else self.base_delay
        ceiling = min(self.max_delay, base * 2 ** (attempt - 1))
        return rng.uniform(base / 2, ceiling) / self.scale

    @property
    def budget(self) -> float:
        return self.budget_seconds / self.scale

