"""A process-wide, thread-safe request rate limiter for NCBI E-utilities.

NCBI allows 3 requests/s without an API key and 10 with one, per *user* (not per client object),
so the default limiters are shared by every :class:`~pkharvest.fetch.client.EutilsClient` of the
process. Written by hand (a few lines) rather than with a rate-limit package: we need an injectable
clock for tests and strict spacing of request *starts*, which simple token buckets don't give.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

RATE_NO_KEY = 3.0
RATE_WITH_KEY = 10.0


class RateLimiter:
    """Spaces calls to :meth:`acquire` at least ``1 / rate`` seconds apart, across threads.

    Each caller reserves the next free slot under a lock and sleeps outside it, so concurrent
    threads queue up in order without holding the lock while they wait.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0 requests/s, got {rate}")
        self.rate = float(rate)
        self.interval = 1.0 / self.rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = float("-inf")

    def acquire(self) -> float:
        """Block until this caller may start a request; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return max(wait, 0.0)

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate:g}/s)"


_shared: dict[float, RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_rate_limiter(api_key: str | None = None) -> RateLimiter:
    """The process-wide limiter: 3 requests/s, or 10 with an NCBI API key."""
    rate = RATE_WITH_KEY if api_key else RATE_NO_KEY
    with _shared_lock:
        if rate not in _shared:
            _shared[rate] = RateLimiter(rate)
        return _shared[rate]
