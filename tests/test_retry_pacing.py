"""Pure parts of retrying and pacing: classification, waits, the sliding window."""

import random

import pytest

from reconciler.core import errors
from reconciler.graph.pacing import Pacer
from reconciler.graph.retry import RetryPolicy, is_ambiguous, is_rejected, parse_retry_after


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


def run_paced(pacer, workers, per_worker, latency=0.0):
    """Starts of requests made by `workers` threads through `pacer`, each taking `latency`."""
    import threading
    import time

    starts, lock = [], threading.Lock()

    def worker():
        for _ in range(per_worker):
            pacer.acquire()
            with lock:
                starts.append(time.monotonic())
            time.sleep(latency)
            pacer.release()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(starts)


def test_pacer_admits_the_limit_at_once_then_one_per_freed_slot():
    starts = run_paced(Pacer(5, window=0.3), workers=1, per_worker=10)
    assert starts[4] - starts[0] < 0.1  # the first five go at once
    assert starts[5] - starts[0] >= 0.3  # the sixth waits for the first to leave the window
    assert max_in_any_window(starts, 0.3) <= 5


def test_pacer_shared_by_threads_never_exceeds_the_limit_even_with_slow_answers():
    starts = run_paced(Pacer(20, window=0.5), workers=4, per_worker=15, latency=0.02)
    assert len(starts) == 60
    assert max_in_any_window(starts, 0.5) <= 20


def test_pacer_counts_a_request_until_a_window_after_its_answer():
    import time

    pacer = Pacer(1, window=0.2)
    pacer.acquire()
    time.sleep(0.1)  # the answer is slow
    pacer.release()
    begun = time.monotonic()
    pacer.acquire()
    assert time.monotonic() - begun >= 0.19  # a window after the answer, not after the start


def test_pacer_hold_pauses_everyone():
    import time

    pacer = Pacer(100, window=60)
    pacer.hold(0.2)
    begun = time.monotonic()
    pacer.acquire()
    assert time.monotonic() - begun >= 0.19
    assert pacer.waited >= 0.19


def max_in_any_window(starts, window):
    return max(sum(1 for s in starts if t - window < s <= t) for t in starts)
