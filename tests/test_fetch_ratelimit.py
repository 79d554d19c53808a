"""The shared E-utilities rate limiter."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from pkharvest.fetch import EutilsClient, RateLimiter, shared_rate_limiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_spacing_with_injected_clock() -> None:
    clock = FakeClock()
    lim = RateLimiter(3, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(10):
        lim.acquire()
        starts.append(clock())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(g == pytest.approx(1 / 3) for g in gaps)
    assert starts[-1] - starts[0] == pytest.approx(3.0)


def test_idle_time_is_not_banked() -> None:
    clock = FakeClock()
    lim = RateLimiter(10, clock=clock, sleep=clock.sleep)
    lim.acquire()
    clock.now += 5.0  # a long pause does not allow a burst afterwards
    assert lim.acquire() == 0.0
    assert lim.acquire() == pytest.approx(0.1)


def test_real_time_three_per_second() -> None:
    lim = RateLimiter(3)
    t0 = time.monotonic()
    for _ in range(10):
        lim.acquire()
    elapsed = time.monotonic() - t0
    assert elapsed >= 2.95  # 9 gaps of 1/3 s
    assert elapsed < 4.5


def test_thread_safe_no_burst_across_threads() -> None:
    lim = RateLimiter(20)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            lim.acquire()
            with lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    assert len(starts) == 20
    assert starts[-1] - starts[0] >= 19 / 20 - 0.02
    # 20 requests from 4 threads at 20/s cannot start within less than 19 intervals


def test_shared_limiter_is_process_wide() -> None:
    assert shared_rate_limiter() is shared_rate_limiter(None)
    assert shared_rate_limiter().rate == 3
    assert shared_rate_limiter("KEY").rate == 10
    a = EutilsClient(base_url="http://127.0.0.1:9/", api_key="")
    b = EutilsClient(base_url="http://127.0.0.1:9/", api_key="")
    assert a.rate_limiter is b.rate_limiter is shared_rate_limiter()
    assert EutilsClient(base_url="http://127.0.0.1:9/", api_key="k").rate_limiter.rate == 10


def test_rejects_bad_rate() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)
