"""A per-key rate limit (``NOTEBOOK_EXECUTE_RATE_LIMIT``): at most `requests` per `period`.

The generic cell rate algorithm (GCRA), a token bucket kept as one number per key: the
time at which the key's bucket is full again (its "theoretical arrival time"). A key may
spend `requests` at once, then one more every ``period / requests`` seconds; a key refused
is told exactly when the next request will pass. Chosen over a sliding window log, which
keeps up to `requests` timestamps per key (60/minute: 60 floats a user), and over a fixed
window, which lets twice the rate through across a window's edge.

Memory stays bounded by the keys active within the last `period`: a key whose bucket is
full again is the same as a key never seen, so it is forgotten (``_forget``), exactly. The
keys are user names the web layer authenticated, never anything a client makes up.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: Entries kept before the first sweep for full buckets; after a sweep, twice what is left.
_SWEEP_AT = 1024


class RateLimiter:
    """At most `requests` hits per `period` seconds for each key (a burst of `requests`).

    :param clock: seconds, monotonic (a test may pass its own).
    """

    def __init__(self, requests: int, period: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if requests < 1 or period <= 0:
            raise ValueError("a rate needs at least one request per period above 0 s")
        self.requests = requests
        self.period = period
        self._interval = period / requests
        self._clock = clock
        #: key -> when its bucket is full again (GCRA's theoretical arrival time).
        self._full_at: dict[str, float] = {}
        self._sweep_at = _SWEEP_AT

    def hit(self, key: str) -> float:
        """Count one request of `key`: 0 when it may go ahead, else the seconds until one
        would pass (above 0; the request is then not counted)."""
        now = self._clock()
        full_at = max(self._full_at.get(key, now), now)
        # A burst of `requests` fits: the bucket may be at most period - interval from full.
        wait = full_at + self._interval - now - self.period
        if wait > 1e-9:
            return wait
        self._full_at[key] = full_at + self._interval
        if len(self._full_at) >= self._sweep_at:
            self._forget(now)
        return 0.0

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._full_at)

    def _forget(self, now: float) -> None:
        """Drop the keys whose bucket is full again: they behave as if never seen."""
        self._full_at = {key: full_at for key, full_at in self._full_at.items() if full_at > now}
        self._sweep_at = max(_SWEEP_AT, 2 * len(self._full_at))
