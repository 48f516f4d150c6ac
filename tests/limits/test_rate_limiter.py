"""core.ratelimit.RateLimiter with a clock of the test's own: no server, no sleeping."""

from __future__ import annotations

import pytest

from flask_notebook.core.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_the_rate_passes_then_one_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)
    assert [limiter.hit("alice") for _ in range(3)] == [0, 0, 0]
    assert limiter.hit("alice") == pytest.approx(20)  # one more every 60/3 s
    clock.now += 19.5
    assert limiter.hit("alice") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.hit("alice") == 0
    assert limiter.hit("alice") == pytest.approx(20)


def test_a_refused_request_is_not_counted() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 10, clock=clock)
    assert limiter.hit("alice") == 0
    for _ in range(50):
        assert limiter.hit("alice") == pytest.approx(10)
    clock.now += 10
    assert limiter.hit("alice") == 0


def test_users_are_counted_apart() -> None:
    limiter = RateLimiter(1, 10, clock=Clock())
    assert limiter.hit("alice") == 0
    assert limiter.hit("alice") > 0
    assert limiter.hit("bob") == 0


def test_idle_users_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 1, clock=clock)
    for n in range(5000):
        limiter.hit(f"user{n}")
        clock.now += 0.01  # each user's bucket is full again 0.5 s after their one request
    assert len(limiter) <= 1024  # the users of the last 0.5 s, and those since the last sweep
    clock.now += 1
    assert limiter.hit("late") == 0
    assert len(limiter) <= 1024


def test_a_rate_needs_a_request_and_a_period() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 60)
    with pytest.raises(ValueError):
        RateLimiter(1, 0)
