"""The host's own login in front of the notebook (``Notebook(app, authorize=..., login_url=...)``),
checked with the test client: what the live example site in this package relies on."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, Request, g, request, session
from flask.testing import FlaskClient

from flask_notebook import Notebook


@pytest.fixture
def host(root: Path) -> Iterator[Flask]:
    """A site whose users are in its session; `/accounts/login?as=NAME` logs one in."""
    host = Flask("site")
    host.config.update(TESTING=True, SECRET_KEY="site-secret", NOTEBOOK_ROOT_DIR=str(root))

    @host.get("/accounts/login")
    def login() -> str:
        if "as" in request.args:
            session["user"] = request.args["as"]
        return "the site's login page"

    def authorize(req: object) -> dict[str, str] | None:
        return {"username": session["user"]} if "user" in session else None

    Notebook(host, url_prefix="/nb", authorize=authorize, login_url="login")
    yield host
    host.extensions["notebook"].shutdown_all()


@pytest.fixture
def user(host: Flask) -> FlaskClient:
    client = host.test_client()
    client.get("/accounts/login?as=ada")
    client.get("/nb/tree/")  # a page sets the _xsrf cookie
    return client


def test_login_url_may_name_the_hosts_login_endpoint(host: Flask) -> None:
    response = host.test_client().get("/nb/tree/sub?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/login?next=/nb/tree/sub%3Fx%3D1"


def test_login_url_with_a_query_gets_next_appended(root: Path) -> None:
    site = Flask("site")
    site.config.update(TESTING=True, NOTEBOOK_ROOT_DIR=str(root))
    Notebook(site, url_prefix="/nb", authorize=lambda req: None, login_url="/sso?realm=lab")
    response = site.test_client().get("/nb/running")
    assert response.headers["Location"] == "/sso?realm=lab&next=/nb/running"
    site.extensions["notebook"].shutdown_all()


def test_login_page_on_another_host_gets_an_absolute_next(root: Path) -> None:
    site = Flask("site")
    site.config.update(TESTING=True, NOTEBOOK_ROOT_DIR=str(root))
    Notebook(site, url_prefix="/nb", authorize=lambda req: None, login_url="https://sso.example/login")
    response = site.test_client().get("/nb/tree/", base_url="https://lab.example")
    assert response.headers["Location"] == "https://sso.example/login?next=https://lab.example/nb/tree/"
    site.extensions["notebook"].shutdown_all()


def test_our_login_page_sends_people_to_the_hosts(host: Flask, user: FlaskClient) -> None:
    """With the host's login, the token form would accept nothing: /login is the host's."""
    response = host.test_client().get("/nb/login?next=/nb/running")
    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/login?next=/nb/running"
    response = user.get("/nb/login?next=/nb/running")
    assert response.status_code == 302 and response.headers["Location"] == "/nb/running"


def test_our_logout_is_not_served_when_the_host_logs_people_in(user: FlaskClient) -> None:
    """Logging out is the site's business; a page saying "you are logged out" would lie."""
    assert user.get("/nb/logout").status_code == 404
    assert user.get("/nb/api/me").status_code == 200


def test_cookie_user_needs_xsrf_for_unsafe_api_requests(user: FlaskClient) -> None:
    xsrf = user.get_cookie("_xsrf", path="/nb/")
    assert xsrf is not None
    refused = user.post("/nb/api/contents", json={"type": "notebook"})
    assert refused.status_code == 403 and refused.json["message"] == "'_xsrf' argument missing from POST"
    created = user.post("/nb/api/contents", json={"type": "notebook"}, headers={"X-XSRFToken": xsrf.value})
    assert created.status_code == 201


def test_basic_auth_header_does_not_exempt_from_xsrf(user: FlaskClient) -> None:
    """Browsers attach Basic credentials (a site behind a proxy's password) to cross-site
    requests by themselves, so such a header proves nothing about who sent the request."""
    basic = "Basic " + base64.b64encode(b"staff:secret").decode()
    response = user.post("/nb/api/contents", json={"type": "notebook"}, headers={"Authorization": basic})
    assert response.status_code == 403
    cross = user.post("/nb/api/contents", json={"type": "notebook"},
                      headers={"Authorization": basic, "Origin": "http://evil.example"})
    assert cross.status_code == 403


def test_query_token_does_not_exempt_host_users_from_xsrf(user: FlaskClient) -> None:
    """A `?token=` can be put in a cross-site form's action; only our own token may skip XSRF."""
    assert user.post("/nb/api/contents?token=anything", json={"type": "notebook"}).status_code == 403


def test_bearer_header_the_host_accepted_needs_no_xsrf(root: Path) -> None:
    site = Flask("site")
    site.config.update(TESTING=True, NOTEBOOK_ROOT_DIR=str(root))

    def authorize(req: object) -> dict[str, str] | None:
        ok = request.headers.get("Authorization") == "Bearer api-key-1"
        return {"username": "robot"} if ok else None

    Notebook(site, url_prefix="/nb", authorize=authorize)
    client = site.test_client()
    response = client.post("/nb/api/contents", json={"type": "notebook"},
                           headers={"Authorization": "Bearer api-key-1"})
    assert response.status_code == 201
    site.extensions["notebook"].shutdown_all()


@pytest.mark.parametrize("header", ["token guessed", "Bearer guessed", "bearer api-key-1x"])
def test_an_authorization_header_the_host_did_not_accept_leaves_a_cookie_user_to_xsrf_and_origin_checks(
        user: FlaskClient, header: str) -> None:
    """The host's check looks at its session only, so it accepts the logged-in browser whatever
    the header says; the header proves nothing, and the request is a cookie request."""
    missing = user.post("/nb/api/contents", json={"type": "notebook"}, headers={"Authorization": header})
    assert missing.status_code == 403 and missing.json["message"] == "'_xsrf' argument missing from POST"
    xsrf = user.get_cookie("_xsrf", path="/nb/")
    assert xsrf is not None
    cross = user.post("/nb/api/contents", json={"type": "notebook"},
                      headers={"Authorization": header, "X-XSRFToken": xsrf.value, "Origin": "http://evil.example"})
    assert cross.status_code == 403 and cross.json["message"].startswith("Blocked cross-origin API request")
    assert "Access-Control-Allow-Origin" not in cross.headers
    ok = user.post("/nb/api/contents", json={"type": "notebook"},
                   headers={"Authorization": header, "X-XSRFToken": xsrf.value})
    assert ok.status_code == 201


def test_a_header_the_host_accepts_needs_no_xsrf_even_beside_its_session_cookie(root: Path) -> None:
    """A site taking API keys as well as its session: a script with both is proven by its key."""
    site = Flask("site")
    site.config.update(TESTING=True, SECRET_KEY="site-secret", NOTEBOOK_ROOT_DIR=str(root))

    @site.get("/accounts/login")
    def login() -> str:
        session["user"] = "ada"
        return "logged in"

    def authorize(req: Request) -> dict[str, str] | None:
        if req.headers.get("Authorization") == "Bearer api-key-1":
            return {"username": "robot"}
        return {"username": session["user"]} if "user" in session else None

    Notebook(site, url_prefix="/nb", authorize=authorize)
    client = site.test_client()
    client.get("/accounts/login")
    assert client.get_cookie("session") is not None
    response = client.post("/nb/api/contents", json={"type": "notebook"},
                           headers={"Authorization": "Bearer api-key-1", "Origin": "http://tool.example"})
    assert response.status_code == 201
    assert response.headers["Access-Control-Allow-Origin"] == "http://tool.example"  # as for our token
    refused = client.post("/nb/api/contents", json={"type": "notebook"}, headers={"Authorization": "Bearer api-key-2"})
    assert refused.status_code == 403
    site.extensions["notebook"].shutdown_all()


def test_a_host_check_that_needs_its_before_request_hooks_leaves_the_request_to_xsrf(root: Path) -> None:
    """flaskr's pattern: the user is put in ``g`` by an app-wide before_request hook, which the
    second, cookie-less asking does not run; its failure there means "not for the header"."""
    site = Flask("site")
    site.config.update(TESTING=True, SECRET_KEY="site-secret", NOTEBOOK_ROOT_DIR=str(root))

    @site.before_request
    def load_logged_in_user() -> None:
        g.user = session.get("user")

    @site.get("/accounts/login")
    def login() -> str:
        session["user"] = "ada"
        return "logged in"

    Notebook(site, url_prefix="/nb", authorize=lambda req: {"username": g.user} if g.user else None)
    client = site.test_client()
    client.get("/accounts/login")
    client.get("/nb/tree/")
    response = client.post("/nb/api/contents", json={"type": "notebook"}, headers={"Authorization": "Bearer x"})
    assert response.status_code == 403 and response.json["message"] == "'_xsrf' argument missing from POST"
    xsrf = client.get_cookie("_xsrf", path="/nb/")
    assert xsrf is not None
    ok = client.post("/nb/api/contents", json={"type": "notebook"},
                     headers={"Authorization": "Bearer x", "X-XSRFToken": xsrf.value})
    assert ok.status_code == 201
    site.extensions["notebook"].shutdown_all()
