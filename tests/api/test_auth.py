"""Auth matrix (contract section 10): token, login cookie, XSRF, Origin, Host, CORS, /api/me."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_notebook import Notebook, create_app, hash_password

from ..support.env import AUTH, TOKEN


def _login(client: FlaskClient, secret: str = TOKEN, next_url: str | None = None) -> tuple[int, str]:
    """Log in through the form as a browser does; return (status, Location)."""
    client.get("/login")
    xsrf = client.get_cookie("_xsrf")
    assert xsrf is not None
    data = {"password": secret, "_xsrf": xsrf.value}
    if next_url is not None:
        data["next"] = next_url
    response = client.post("/login", data=data)
    return response.status_code, response.headers.get("Location", "")


def test_api_version_is_open(anon: FlaskClient) -> None:
    response = anon.get("/api")
    assert response.status_code == 200
    assert response.json["version"].startswith("2.")


def test_unauthenticated_api_request_gets_403_json(anon: FlaskClient) -> None:
    response = anon.get("/api/contents")
    assert response.status_code == 403
    assert response.json == {"message": "Forbidden", "reason": None}


def test_unauthenticated_page_redirects_to_login(anon: FlaskClient) -> None:
    response = anon.get("/?x=1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert "x%3D1" in response.headers["Location"] or "x=1" in response.headers["Location"]


def test_a_failed_query_token_is_left_out_of_the_way_back(anon: FlaskClient) -> None:
    """A page asked with a wrong ?token= goes to the login form, which brings the browser back
    without it (it would fail again, and stay in the address bar); other parameters stay."""
    response = anon.get("/tree/a%20b?token=wrong-secret&x=1&x=2")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "wrong-secret" not in location and "token" not in location
    status, back = _login(anon, next_url=parse_qs(urlsplit(location).query)["next"][0])
    assert status == 302 and back == "/tree/a%20b?x=1&x=2"


@pytest.mark.parametrize(
    "headers, query",
    [
        ({"Authorization": f"token {TOKEN}"}, ""),
        ({"Authorization": f"Token {TOKEN}"}, ""),
        ({"Authorization": f"Bearer {TOKEN}"}, ""),
        ({"Authorization": f"bearer {TOKEN}"}, ""),
        ({}, f"?token={TOKEN}"),
    ],
)
def test_token_is_accepted_as_header_or_query(app: Flask, headers: dict[str, str], query: str) -> None:
    response = app.test_client().get("/api/contents" + query, headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize("headers", [{"Authorization": "token wrong"}, {"Authorization": f"Basic {TOKEN}"}])
def test_wrong_token_or_scheme_is_refused(app: Flask, headers: dict[str, str]) -> None:
    assert app.test_client().get("/api/contents", headers=headers).status_code == 403


def test_options_is_open_and_answers_preflight(anon: FlaskClient) -> None:
    response = anon.options("/api/contents", headers={"Origin": "http://elsewhere.example"})
    assert response.status_code == 200
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    assert "authorization" in response.headers["Access-Control-Allow-Headers"]


def test_login_with_token_sets_cookie_that_authenticates(anon: FlaskClient) -> None:
    status, location = _login(anon, next_url="/api/contents")
    assert status == 302
    assert location == "/api/contents"
    assert anon.get("/api/contents").status_code == 200
    assert anon.get("/tree").status_code == 200


def test_login_refuses_wrong_secret_with_401(anon: FlaskClient) -> None:
    status, _ = _login(anon, secret="nope")
    assert status == 401
    assert anon.get("/api/contents").status_code == 403


def test_login_without_xsrf_is_refused(anon: FlaskClient) -> None:
    response = anon.post("/login", data={"password": TOKEN})
    assert response.status_code == 403
    assert anon.get("/api/contents").status_code == 403


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "evil"])
def test_login_never_redirects_off_site(anon: FlaskClient, target: str) -> None:
    status, location = _login(anon, next_url=target)
    assert status == 302
    assert location == "/"


def test_logged_in_login_page_redirects_to_next(anon: FlaskClient) -> None:
    _login(anon)
    response = anon.get("/login?next=/api/me")
    assert response.status_code == 302 and response.headers["Location"] == "/api/me"


def test_logout_clears_the_login_cookie(anon: FlaskClient) -> None:
    _login(anon)
    assert anon.get("/logout").status_code == 200
    assert anon.get("/api/contents").status_code == 403


def test_tampered_cookie_is_not_a_login(app: Flask, anon: FlaskClient) -> None:
    _login(anon)
    cookie = next(c for c in anon._cookies.values() if c.key.startswith("nb-login-"))
    anon.set_cookie(cookie.key, cookie.value[:-4] + "AAAA")
    assert anon.get("/api/contents").status_code == 403


def test_cookie_session_needs_xsrf_for_unsafe_requests(anon: FlaskClient, root: Path) -> None:
    _login(anon)
    body = {"type": "file", "format": "text", "content": "x"}
    missing = anon.put("/api/contents/a.txt", json=body)
    assert missing.status_code == 403
    assert missing.json["message"] == "'_xsrf' argument missing from PUT"
    wrong = anon.put("/api/contents/a.txt", json=body, headers={"X-XSRFToken": "nope"})
    assert wrong.status_code == 403
    assert wrong.json["message"] == "XSRF cookie does not match PUT argument"
    assert not (root / "a.txt").exists()
    xsrf = anon.get_cookie("_xsrf").value  # type: ignore[union-attr]
    assert anon.put("/api/contents/a.txt", json=body, headers={"X-XSRFToken": xsrf}).status_code == 201
    assert anon.delete("/api/contents/a.txt", headers={"X-CSRFToken": xsrf}).status_code == 204


def test_token_requests_skip_xsrf(client: FlaskClient) -> None:
    body = {"type": "file", "format": "text", "content": "x"}
    assert client.put("/api/contents/a.txt", json=body).status_code == 201


def test_query_token_gives_browser_a_login_cookie(app: Flask) -> None:
    browser = app.test_client()
    assert browser.get(f"/?token={TOKEN}", follow_redirects=True).status_code == 200
    assert browser.get("/api/contents").status_code == 200


def test_cross_origin_cookie_request_is_refused(anon: FlaskClient) -> None:
    _login(anon)
    response = anon.get("/api/contents", headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert "cross-origin" in response.json["message"]
    same = anon.get("/api/contents", headers={"Origin": "http://localhost"})
    assert same.status_code == 200


def test_token_request_from_other_origin_gets_cors_echo(client: FlaskClient) -> None:
    response = client.get("/api/contents", headers={"Origin": "http://app.example"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://app.example"


def _app(root: Path, **config: object) -> Flask:
    return create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN, **config})


def test_allow_origin_setting_is_sent(root: Path) -> None:
    app = _app(root, NOTEBOOK_ALLOW_ORIGIN="*")
    response = app.test_client().get("/api/contents", headers=AUTH)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_allow_origin_pattern_admits_cookie_requests(root: Path) -> None:
    app = _app(root, NOTEBOOK_ALLOW_ORIGIN_PAT=r"https://.*\.trusted\.example", NOTEBOOK_ALLOW_CREDENTIALS=True)
    browser = app.test_client()
    _login(browser)
    ok = browser.get("/api/contents", headers={"Origin": "https://lab.trusted.example"})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "https://lab.trusted.example"
    assert ok.headers["Access-Control-Allow-Credentials"] == "true"
    assert browser.get("/api/contents", headers={"Origin": "https://evil.example"}).status_code == 403


@pytest.mark.parametrize("host, allowed", [
    ("127.0.0.1:8888", True), ("localhost:8888", True), ("[::1]:8888", True), ("127.1.2.3", True),
    ("evil.example", False), ("evil.example:8888", False), ("10.0.0.1:8888", False),
])
def test_host_check_when_remote_access_is_off(root: Path, host: str, allowed: bool) -> None:
    app = _app(root, NOTEBOOK_ALLOW_REMOTE_ACCESS=False)
    response = app.test_client().get("/api/contents", headers={**AUTH, "Host": host})
    assert (response.status_code == 200) is allowed
    if not allowed:
        assert response.status_code == 403


def test_password_login(root: Path) -> None:
    hashed = hash_password("s3cret pass")
    assert "s3cret" not in hashed and hashed.startswith("scrypt:")
    app = create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_PASSWORD": hashed})
    assert app.extensions["notebook"].token is None  # a password replaces the generated token
    browser = app.test_client()
    assert _login(browser, secret="wrong")[0] == 401
    assert _login(browser, secret="s3cret pass")[0] == 302
    assert browser.get("/api/contents").status_code == 200


def test_generated_token_is_48_hex_digits(root: Path) -> None:
    app = create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root)})
    assert re.fullmatch(r"[0-9a-f]{48}", app.extensions["notebook"].token)


def test_auth_disabled_still_enforces_xsrf(root: Path) -> None:
    app = _app(root, NOTEBOOK_TOKEN="")
    browser = app.test_client()
    assert browser.get("/api/contents").status_code == 200
    assert browser.post("/api/contents", json={}).status_code == 403
    no_xsrf = _app(root, NOTEBOOK_TOKEN="", NOTEBOOK_DISABLE_CHECK_XSRF=True).test_client()
    assert no_xsrf.post("/api/contents", json={}).status_code == 201


def test_me_reports_identity_and_requested_permissions(client: FlaskClient) -> None:
    response = client.get('/api/me?permissions={"contents":["read","write"]}')
    assert response.status_code == 200
    identity = response.json["identity"]
    assert set(identity) == {"username", "name", "display_name", "initials", "avatar_url", "color"}
    assert identity["name"].startswith("Anonymous ")
    assert response.json["permissions"] == {
        "contents": ["read", "write"],
        "updatable_fields": ["name", "display_name", "initials", "avatar_url", "color"],
    }


@pytest.mark.parametrize("raw", ["[1]", "nope", '{"contents": "read"}', '{"contents": [1]}'])
def test_me_rejects_malformed_permissions(client: FlaskClient, raw: str) -> None:
    response = client.get("/api/me", query_string={"permissions": raw})
    assert response.status_code == 400
    assert response.json["message"].startswith("permissions should be a JSON dict")


def test_status_has_sorted_keys_and_utc_timestamps(client: FlaskClient) -> None:
    response = client.get("/api/status")
    assert list(response.json) == ["connections", "kernels", "last_activity", "started"]
    for key in ("last_activity", "started"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", response.json[key])


def test_host_authorize_callable_replaces_token_auth(root: Path) -> None:
    host = Flask("host")
    host.config.update(TESTING=True, NOTEBOOK_ROOT_DIR=str(root))

    def authorize(request: object) -> dict[str, str] | None:
        user = request.headers.get("X-User")  # type: ignore[attr-defined]
        return {"username": user, "name": user.title()} if user else None

    Notebook(host, url_prefix="/nb", authorize=authorize)
    client = host.test_client()
    assert client.get("/nb/api/contents").status_code == 403
    assert host.extensions["notebook"].token is None
    me = client.get("/nb/api/me", headers={"X-User": "alice"})
    assert me.status_code == 200
    assert me.json["identity"]["username"] == "alice" and me.json["identity"]["name"] == "Alice"
    assert client.get("/nb/").status_code == 403  # no login_url: a plain refusal


def test_host_authorize_pages_redirect_to_host_login(root: Path) -> None:
    host = Flask("host")
    host.config.update(TESTING=True, NOTEBOOK_ROOT_DIR=str(root))
    Notebook(host, url_prefix="/nb", authorize=lambda request: None, login_url="/accounts/login")
    response = host.test_client().get("/nb/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login?next=/nb/")


def test_api_trailing_slash_redirects(anon: FlaskClient) -> None:
    response = anon.get("/api/")
    assert response.status_code == 302 and response.headers["Location"] == "/api"


def test_deprecated_notebooks_api_redirects_to_contents(anon: FlaskClient) -> None:
    response = anon.get("/api/notebooks/a%20b/c.ipynb")
    assert response.status_code == 302
    assert response.headers["Location"] == "/api/contents/a%20b/c.ipynb"
    assert anon.get("/api/notebooks").headers["Location"] == "/api/contents/"


def test_open_endpoints_need_no_xsrf_either(anon: FlaskClient) -> None:
    response = anon.post("/api/notebooks/x.ipynb")
    assert response.status_code == 302 and response.headers["Location"] == "/api/contents/x.ipynb"
