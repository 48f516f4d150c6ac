"""The login form under attack: repeated wrong secrets are throttled per client address (429
with Retry-After), and its XSRF value must be one the server made, not one a page that can set
cookies for our host chose.

jupyter_server 2.21.1, compared live: eight wrong passwords in a row get eight 401s, and a
login whose ``_xsrf`` cookie and field are both ``attacker`` succeeds (302).
"""

from __future__ import annotations

import time
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from flask_notebook import create_app

from ..support.env import TOKEN
from ..support.waiting import wait_for


def _app(root: Path, **config: object) -> Flask:
    return create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN, **config})


def _xsrf(browser: FlaskClient) -> str:
    browser.get("/login")
    cookie = browser.get_cookie("_xsrf")
    assert cookie is not None
    return cookie.value


def _login(browser: FlaskClient, secret: str, **kwargs: object) -> tuple[int, dict[str, str]]:
    response = browser.post("/login", data={"password": secret, "_xsrf": _xsrf(browser)}, **kwargs)
    return response.status_code, dict(response.headers)


def test_wrong_secrets_are_throttled_with_429_and_the_right_one_works_after_the_wait(app: Flask) -> None:
    browser = app.test_client()
    assert [_login(browser, f"wrong-{i}")[0] for i in range(5)] == [401] * 5
    status, headers = _login(browser, TOKEN)
    assert status == 429 and headers["Retry-After"] == "1"
    refused = browser.post("/login", data={"password": TOKEN, "_xsrf": _xsrf(browser)})
    assert refused.mimetype == "text/html" and "Too many failed attempts" in refused.get_data(as_text=True)
    assert browser.get("/api/contents").status_code == 403  # refused unchecked: no login
    # Refused attempts do not lengthen the wait: retrying the right secret gets in once it is over.
    wait_for(lambda: _login(browser, TOKEN)[0] == 302, timeout=5, interval=0.1)
    assert browser.get("/api/contents").status_code == 200


def test_the_waits_double_and_a_success_starts_afresh(app: Flask) -> None:
    browser = app.test_client()
    for i in range(5):
        _login(browser, f"wrong-{i}")
    throttle = app.extensions["notebook"].login_throttle
    time.sleep(1.01)  # the 1 s wait the fifth failure opened (a wait we want, not one we hope for)
    assert _login(browser, "wrong-again")[0] == 401
    assert _login(browser, TOKEN)[1]["Retry-After"] == "2"
    assert throttle.failures("127.0.0.1") == 6
    wait_for(lambda: _login(browser, TOKEN)[0] == 302, timeout=5, interval=0.1)
    assert throttle.failures("127.0.0.1") == 0


def test_one_address_being_throttled_holds_up_no_other(app: Flask) -> None:
    attacker, visitor = app.test_client(), app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "192.0.2.66"
    for i in range(6):
        _login(attacker, f"wrong-{i}")
    assert _login(attacker, TOKEN)[0] == 429
    assert _login(visitor, TOKEN)[0] == 302


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_throttled(root: Path) -> None:
    app = _app(root, NOTEBOOK_TRUST_PROXY=1)
    first, second = app.test_client(), app.test_client()
    for i in range(6):
        _login(first, f"wrong-{i}", headers={"X-Forwarded-For": "198.51.100.1"})
    assert _login(first, TOKEN, headers={"X-Forwarded-For": "198.51.100.1"})[0] == 429
    assert _login(second, TOKEN, headers={"X-Forwarded-For": "198.51.100.2"})[0] == 302
    app.extensions["notebook"].shutdown_all()


def test_without_a_trusted_proxy_a_forwarded_address_changes_nothing(app: Flask) -> None:
    browser = app.test_client()
    for i in range(6):
        _login(browser, f"wrong-{i}", headers={"X-Forwarded-For": f"198.51.100.{i}"})
    assert _login(browser, TOKEN, headers={"X-Forwarded-For": "203.0.113.9"})[0] == 429


def test_login_refuses_an_xsrf_value_the_server_did_not_make(app: Flask) -> None:
    """Cookies ignore ports: a page on another port of this host can set `_xsrf` for us, and
    then post a login form with the same value, through a visitor's browser."""
    browser = app.test_client()
    browser.set_cookie("_xsrf", "attacker")
    refused = browser.post("/login", data={"password": TOKEN, "_xsrf": "attacker"})
    assert refused.status_code == 403
    assert browser.get("/api/contents").status_code == 403
    # The form that answered carries a value of ours, and sets it in place of the chosen one.
    fresh = browser.get_cookie("_xsrf")
    assert fresh is not None and fresh.value != "attacker" and fresh.value in refused.get_data(as_text=True)
    assert browser.post("/login", data={"password": TOKEN, "_xsrf": fresh.value}).status_code == 302


def test_an_xsrf_value_of_another_server_is_not_taken(root: Path, app: Flask) -> None:
    other = _app(root, NOTEBOOK_SECRET_KEY="another server's secret")
    theirs = _xsrf(other.test_client())
    browser = app.test_client()
    browser.set_cookie("_xsrf", theirs)
    assert browser.post("/login", data={"password": TOKEN, "_xsrf": theirs}).status_code == 403
    other.extensions["notebook"].shutdown_all()


def test_pages_keep_an_xsrf_cookie_of_ours_and_the_form_carries_it(app: Flask) -> None:
    browser = app.test_client()
    first = browser.get("/login")
    value = browser.get_cookie("_xsrf").value  # type: ignore[union-attr]
    assert f'value="{value}"' in first.get_data(as_text=True)
    again = browser.get("/login")
    assert "Set-Cookie" not in again.headers
    assert f'value="{value}"' in again.get_data(as_text=True)


def test_the_api_still_takes_any_matching_xsrf_pair(app: Flask) -> None:
    """As jupyter_server: scripts with a login cookie may choose their own `_xsrf` value (the
    API checks Origin too, which the login form cannot)."""
    browser = app.test_client()
    assert _login(browser, TOKEN)[0] == 302
    browser.set_cookie("_xsrf", "chosen-by-the-script")
    response = browser.post("/api/contents", json={"type": "file"}, headers={"X-XSRFToken": "chosen-by-the-script"})
    assert response.status_code == 201
