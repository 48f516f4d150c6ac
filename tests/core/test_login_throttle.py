"""The login backoff and the signed `_xsrf` values (``core.auth``), with the clock passed in."""

from __future__ import annotations

from flask_notebook.core.auth import LoginThrottle, client_key, new_xsrf_token, retry_after, xsrf_token_valid


def test_five_attempts_go_through_then_the_waits_double() -> None:
    throttle = LoginThrottle(free=5, base=1, longest=300)
    assert [throttle.attempt("10.0.0.1", 100.0) for _ in range(5)] == [0, 0, 0, 0, 0]
    assert throttle.attempt("10.0.0.1", 100.0) == 1  # the fifth failure opened a 1 s wait
    assert throttle.attempt("10.0.0.1", 101.0) == 0  # after it: one more try, which opens 2 s
    assert throttle.attempt("10.0.0.1", 102.5) == 0.5
    assert throttle.attempt("10.0.0.1", 103.0) == 0  # and then 4 s
    assert throttle.attempt("10.0.0.1", 106.0) == 1


def test_attempts_refused_during_a_wait_do_not_lengthen_it() -> None:
    throttle = LoginThrottle(free=1, base=10)
    assert throttle.attempt("a", 0.0) == 0
    for now in (1.0, 2.0, 9.0):
        assert throttle.attempt("a", now) == 10 - now
    assert throttle.failures("a") == 1


def test_the_wait_is_capped() -> None:
    throttle = LoginThrottle(free=1, base=1, longest=60)
    now = 0.0
    waits = []
    for _ in range(10):
        assert throttle.attempt("a", now) == 0  # the wait is over: one try, which opens the next
        waits.append(throttle.attempt("a", now))
        now += waits[-1]
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]


def test_success_forgets_the_address_and_other_addresses_are_not_held_up() -> None:
    throttle = LoginThrottle(free=2, base=5)
    throttle.attempt("a", 0.0)
    throttle.attempt("a", 0.0)
    assert throttle.attempt("a", 0.0) == 5
    assert throttle.attempt("b", 0.0) == 0
    throttle.succeeded("a")
    assert throttle.failures("a") == 0 and throttle.attempt("a", 0.0) == 0


def test_quiet_addresses_are_forgotten() -> None:
    throttle = LoginThrottle(free=1, base=1, longest=10, forget_after=100)
    throttle.attempt("a", 0.0)
    throttle.attempt("b", 50.0)
    throttle.attempt("c", 120.0)  # "a" has been quiet for 120 s
    assert len(throttle) == 2 and throttle.failures("a") == 0 and throttle.failures("b") == 1


def test_the_table_is_bounded_and_drops_the_least_recent_first() -> None:
    throttle = LoginThrottle(max_addresses=100)
    for i in range(1000):
        throttle.attempt(f"10.0.{i // 256}.{i % 256}", float(i))
    assert len(throttle) == 100
    assert throttle.failures("10.0.3.231") == 1  # the last one (999)
    assert throttle.failures("10.0.0.0") == 0


def test_ipv6_addresses_count_by_their_64_network() -> None:
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("not an address") == "not an address"


def test_retry_after_is_whole_seconds_never_zero() -> None:
    assert [retry_after(w) for w in (0.01, 1.0, 1.2, 299.5)] == [1, 1, 2, 300]


def test_xsrf_values_are_signed_by_the_secret() -> None:
    token = new_xsrf_token("secret-1")
    assert xsrf_token_valid("secret-1", token)
    assert not xsrf_token_valid("secret-2", token)
    nonce, _, mac = token.partition(".")
    assert not xsrf_token_valid("secret-1", nonce)
    assert not xsrf_token_valid("secret-1", f"{nonce}.{'0' * len(mac)}")
    assert not xsrf_token_valid("secret-1", "attacker")
    assert new_xsrf_token("secret-1") != token
