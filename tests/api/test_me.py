"""`GET /api/me?permissions=` and `PATCH /api/me` (jupyter_server 2.17+, contract section 8).

Compared side by side with a live jupyter_server 2.21.1 (token auth):

- ``GET /api/me?permissions=`` (empty) -> 200, ``permissions`` = ``{"updatable_fields": [...]}``
  only; ``permissions={"contents": ["read"]}`` -> ``{"contents": ["read"], "updatable_fields":
  ["name", "display_name", "initials", "avatar_url", "color"]}``.
- ``PATCH {"display_name": "Zed", "color": "#f00"}`` -> 200 ``{"status": "success", "identity":
  {... "display_name": "Zed", "color": "#f00"}}`` with a new login cookie holding it.
- ``PATCH {"username": "x"}`` -> 400 ``Field username is not updatable``; ``{"color": "#0f0",
  "foo": 1}`` -> 400 ``Field foo is not updatable`` (nothing applied); ``{}`` or an empty body
  -> 400 ``Invalid or missing JSON body``.
- The reference also takes ``{"name": 5}`` and ``{"name": null}`` (and stores them), and answers
  ``[1]`` with ``Field 1 is not updatable``: we refuse values that are not strings (400) and
  answer a body that is not an object with ``Invalid or missing JSON body``.
- jupyter_server's base ``IdentityProvider`` (what a custom login usually builds on) says
  ``updatable_fields: ["color"]`` and answers a PATCH of it 501. With a host's ``authorize``
  callable the identity is the host's: we say ``updatable_fields: []`` and refuse every field
  (400), which is what the reference does with ``updatable_fields`` configured empty.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_notebook import Notebook, create_app

from ..support.env import AUTH, TOKEN
from ..support.responses import assert_error

ALL_FIELDS = ["name", "display_name", "initials", "avatar_url", "color"]


def test_empty_permissions_ask_for_nothing(client: FlaskClient) -> None:
    response = client.get("/api/me?permissions=")
    assert response.status_code == 200
    assert response.get_json()["permissions"] == {"updatable_fields": ALL_FIELDS}


def test_patch_changes_the_identity_and_keeps_it_in_the_login_cookie(app: Flask) -> None:
    browser = app.test_client()
    before = browser.get("/api/me", headers=AUTH).get_json()["identity"]  # the token login sets the cookie
    response = browser.patch("/api/me", json={"display_name": "Zed", "color": "#f00"}, headers=AUTH)
    assert response.status_code == 200
    body = response.get_json()
    assert body == {"status": "success", "identity": {**before, "display_name": "Zed", "color": "#f00"}}
    assert len(response.headers.getlist("Set-Cookie")) == 1
    # Later requests, by the cookie alone, see the change.
    me = browser.get("/api/me").get_json()["identity"]
    assert me == body["identity"]
    again = browser.patch("/api/me", json={"initials": "Z", "avatar_url": None, "name": "Zed Z"},
                          headers={"X-XSRFToken": _xsrf(browser)})
    assert again.status_code == 200
    assert browser.get("/api/me").get_json()["identity"] == {**body["identity"], "initials": "Z", "name": "Zed Z"}


def _xsrf(browser: FlaskClient) -> str:
    """The `_xsrf` cookie a page sets, as the browser's scripts read it."""
    browser.get("/tree")
    cookie = browser.get_cookie("_xsrf")
    assert cookie is not None
    return cookie.value


def test_patch_by_cookie_needs_xsrf(app: Flask) -> None:
    browser = app.test_client()
    browser.get("/api/me", headers=AUTH)
    assert_error(browser.patch("/api/me", json={"color": "#0f0"}), 403)
    assert browser.get("/api/me").get_json()["identity"]["color"] is None


@pytest.mark.parametrize("body, message", [
    ({"username": "x"}, "Field username is not updatable"),
    ({"color": "#0f0", "foo": 1}, "Field foo is not updatable"),
    ({}, "Invalid or missing JSON body"),
    (None, "Invalid or missing JSON body"),
    ([1], "Invalid or missing JSON body"),
    ({"name": 5}, "Field name must be a string"),
    ({"display_name": None}, "Field display_name must be a string"),
    ({"color": 3}, "Field color must be a string or null"),
    ({"avatar_url": "data:image/png;base64," + "A" * 4096}, "The identity is too large: at most 2048 bytes of JSON"),
])
def test_patch_refuses_what_cannot_be_updated(app: Flask, body: object, message: str) -> None:
    browser = app.test_client()
    before = browser.get("/api/me", headers=AUTH).get_json()["identity"]
    response = browser.patch("/api/me", json=body, headers=AUTH) if body is not None else browser.patch(
        "/api/me", headers=AUTH)
    assert_error(response, 400, message)
    assert browser.get("/api/me").get_json()["identity"] == before


def test_with_auth_off_the_change_is_kept_too(root: Path) -> None:
    app = create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": "",
                      "NOTEBOOK_DISABLE_CHECK_XSRF": True})
    try:
        browser = app.test_client()
        assert browser.patch("/api/me", json={"display_name": "Me"}).status_code == 200
        assert browser.get("/api/me").get_json()["identity"]["display_name"] == "Me"
    finally:
        app.extensions["notebook"].shutdown_all()


def test_a_hosts_identities_are_not_updatable(root: Path) -> None:
    host = Flask("host")
    host.config.update(TESTING=True, NOTEBOOK_ROOT_DIR=str(root))
    Notebook(host, url_prefix="/nb", authorize=lambda request: {"username": "alice"})
    try:
        client = host.test_client()
        me = client.get("/nb/api/me?permissions=%7B%22kernels%22%3A%5B%22execute%22%5D%7D").get_json()
        assert me["permissions"] == {"kernels": ["execute"], "updatable_fields": []}
        response = client.patch("/nb/api/me", json={"color": "#f00"}, headers={"Authorization": "Bearer x"})
        assert_error(response, 400, "Field color is not updatable")
        assert "Set-Cookie" not in response.headers
    finally:
        host.extensions["notebook"].shutdown_all()


def test_unauthenticated_patch_is_403(anon: FlaskClient) -> None:
    assert_error(anon.patch("/api/me", json={"color": "#f00"}), 403)
    assert TOKEN  # (the app fixture's token is what the other tests log in with)
