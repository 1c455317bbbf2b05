"""Pure parts of retrying and pacing: classification, waits, the sliding window."""

import random

import pytest

from reconciler import errors
from reconciler.pacing import Pacer
from reconciler.retry import RetryPolicy, is_ambiguous, is_rejected, parse_retry_after


def err(kind=errors.GraphError, status=400, code=None, retry_after=None):
    return kind("m", status=status, code=code, request_id="r", method="POST", path="/p", retry_after=retry_after)


@pytest.mark.parametrize(
    "error, rejected, ambiguous",
    [
        (err(errors.GraphThrottled, 429), True, False),
        (err(errors.GraphThrottled, 400, "AADB2C95043"), True, False),
        (err(errors.GraphError, 409, "AADB2C95053"), True, False),
        (err(errors.GraphServerError, 503), False, True),
        (err(errors.GraphError, 400, "AADB2C90063"), False, True),
        (err(errors.GraphUnreachable, None), False, True),
        (err(errors.GraphError, 400, "AADB2C95032"), False, False),
        (err(errors.GraphNotFound, 404, "AADB2C90073"), False, False),
        (err(errors.GraphAuthError, 403), False, False),
        (err(errors.GraphConflict, 400, "AADB2C95028"), False, False),
    ],
)
def test_failure_classes(error, rejected, ambiguous):
    assert (is_rejected(error), is_ambiguous(error)) == (rejected, ambiguous)


@pytest.mark.parametrize(
    "header, expected",
    [
        ("7", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 2026 00:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 00:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_in_seconds_or_http_date(header, expected):
    now = 1767225600.0  # 2026-01-01T00:00:00Z
    assert parse_retry_after(header, now=lambda: now) == expected


def test_retry_after_wins_over_backoff():
    assert RetryPolicy().delay(5, err(errors.GraphThrottled, 429, retry_after=3.0)) == 3.0


def test_backoff_grows_exponentially_within_jitter_and_caps():
    policy = RetryPolicy(base_delay=2, max_delay=60)
    rng = random.Random(7)
    for attempt in range(1, 10):
        ceiling = min(60, 2 * 2 ** (attempt - 1))
        for _ in range(50):
            assert 1.0 <= policy.delay(attempt, err(errors.GraphServerError, 503), rng) <= ceiling


def test_throttled_without_retry_after_starts_at_five_seconds_and_scale_shortens():
    rng = random.Random(1)
    delays = [RetryPolicy().delay(1, err(errors.GraphThrottled, 429), rng) for _ in range(100)]
    assert min(delays) >= 2.5 and max(delays) <= 5
    scaled = [RetryPolicy(scale=60).delay(1, err(errors.GraphThrottled, 429), rng) for _ in range(100)]
    assert max(scaled) <= 5 / 60
    assert RetryPolicy(budget_seconds=300, scale=60).budget == 5


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_admits_the_limit_then_waits_for_the_window():
    clock = FakeClock()
    pacer = Pacer(3, window=60, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(7):
        pacer.acquire()
        starts.append(clock.now)
    assert starts[:3] == [1000.0] * 3
    # a request starts only when fewer than 3 started in the (60 s + margin) window before it
    for i in range(3, 7):
        assert starts[i] - starts[i - 3] >= 60
    assert max_in_any_window(starts, 60) <= 3


def test_pacer_hold_pauses_everyone():
    clock = FakeClock()
    pacer = Pacer(100, window=60, clock=clock, sleep=clock.sleep)
    pacer.acquire()
    pacer.hold(10)
    pacer.acquire()
    assert clock.now >= 1010.0


def test_pacer_shared_by_threads_never_exceeds_the_limit():
    import threading
    import time

    pacer = Pacer(20, window=0.5)
    starts, lock = [], threading.Lock()

    def worker():
        for _ in range(15):
            pacer.acquire()
            with lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(starts) == 60
    assert max_in_any_window(sorted(starts), 0.5) <= 20


def max_in_any_window(starts, window):
    return max(sum(1 for s in starts if t - window < s <= t) for t in starts)
