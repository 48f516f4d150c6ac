"""Who the user is (issue 19): users-file logins, a host's `authorize` returning a name or a
dict with roles, the names that are refused, `/api/me`, logging out, and the page header."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, Request
from flask.testing import FlaskClient

from flask_notebook import Notebook, create_app
from flask_notebook.core.userdb import UserDB

from ..support.env import AUTH, TOKEN
from ..support.waiting import wait_for


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.json"
    db = UserDB(str(path))
    db.add("alice", "alice-pw", admin=True, display_name="Alice Liddell")
    db.add("bob", "bob-pw")
    return path


@pytest.fixture
def site(root: Path, users_file: Path) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN,
                      "NOTEBOOK_USERS_FILE": str(users_file)})
    yield app
    app.extensions["notebook"].shutdown_all()


def login(client: FlaskClient, username: str, password: str) -> int:
    client.get("/login")
    xsrf = client.get_cookie("_xsrf")
    assert xsrf is not None
    return client.post("/login", data={"username": username, "password": password, "_xsrf": xsrf.value}).status_code


def me(client: FlaskClient, query: str = "") -> dict[str, object]:
    response = client.get("/api/me" + query)
    assert response.status_code == 200, response.json
    return response.json  # type: ignore[return-value]


def test_the_login_form_asks_for_a_user_name_with_a_users_file(site: Flask) -> None:
    page = site.test_client().get("/login").get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page


def test_users_log_in_as_themselves(site: Flask) -> None:
    alice, bob = site.test_client(), site.test_client()
    assert login(alice, "alice", "alice-pw") == 302
    assert login(bob, "bob", "bob-pw") == 302
    alice_me, bob_me = me(alice), me(bob)
    assert alice_me["identity"]["username"] == "alice"  # type: ignore[index]
    assert alice_me["identity"]["display_name"] == "Alice Liddell"  # type: ignore[index]
    assert alice_me["flask_notebook"] == {"admin": True, "roles": ["admin"], "logout_url": "/logout"}
    assert bob_me["identity"]["username"] == "bob"  # type: ignore[index]
    assert bob_me["flask_notebook"] == {"admin": False, "roles": [], "logout_url": "/logout"}


@pytest.mark.parametrize(("username", "password"), [("bob", "alice-pw"), ("carol", "bob-pw"), ("bob", "")])
def test_a_wrong_password_or_unknown_user_is_refused(site: Flask, username: str, password: str) -> None:
    client = site.test_client()
    assert login(client, username, password) in (400, 401)
    assert client.get("/api/contents").status_code == 403


def test_the_token_still_logs_in_as_the_server_administrator(site: Flask) -> None:
    client = site.test_client()
    assert login(client, "", TOKEN) == 302
    body = me(client)
    assert body["flask_notebook"] == {"admin": True, "roles": [], "logout_url": "/logout"}
    assert login(site.test_client(), "alice", TOKEN) == 401  # a user's login takes their own password


def test_a_removed_user_is_logged_out_at_once(site: Flask, users_file: Path) -> None:
    bob = site.test_client()
    assert login(bob, "bob", "bob-pw") == 302
    assert bob.get("/api/contents").status_code == 200
    UserDB(str(users_file)).remove("bob")
    # Within the re-read interval (about a second): no restart, no new login needed.
    wait_for(lambda: bob.get("/api/contents").status_code == 403, timeout=5)
    assert bob.get("/tree/").status_code == 302  # pages send them to the login form


def test_a_new_password_ends_existing_logins(site: Flask, users_file: Path) -> None:
    bob = site.test_client()
    assert login(bob, "bob", "bob-pw") == 302
    UserDB(str(users_file)).passwd("bob", "new-pw")
    wait_for(lambda: bob.get("/api/contents").status_code == 403, timeout=5)
    assert login(bob, "bob", "bob-pw") == 401
    assert login(bob, "bob", "new-pw") == 302
    assert bob.get("/api/contents").status_code == 200


def test_roles_are_read_from_the_file_not_the_cookie(site: Flask, users_file: Path) -> None:
    bob = site.test_client()
    assert login(bob, "bob", "bob-pw") == 302
    assert me(bob)["flask_notebook"]["admin"] is False  # type: ignore[index]
    data = json.loads(users_file.read_text())
    data["users"]["bob"]["roles"] = ["admin"]
    users_file.write_text(json.dumps(data))
    wait_for(lambda: me(bob)["flask_notebook"]["admin"] is True, timeout=5)  # type: ignore[index]


def test_a_users_cookie_for_another_name_is_worthless(site: Flask, users_file: Path) -> None:
    """The stamp is bob's password's: it does not make anyone else's cookie."""
    bob = site.test_client()
    assert login(bob, "bob", "bob-pw") == 302
    UserDB(str(users_file)).remove("bob")
    UserDB(str(users_file)).add("bob", "bob-pw")  # the same name and password: a new salt, a new stamp
    wait_for(lambda: bob.get("/api/contents").status_code == 403, timeout=5)


def test_a_user_may_rename_themselves_and_stay_logged_in(site: Flask) -> None:
    bob = site.test_client()
    assert login(bob, "bob", "bob-pw") == 302
    xsrf = bob.get_cookie("_xsrf")
    assert xsrf is not None
    response = bob.patch("/api/me", json={"display_name": "Bob B."}, headers={"X-XSRFToken": xsrf.value})
    assert response.status_code == 200
    body = me(bob)
    assert body["identity"]["display_name"] == "Bob B." and body["flask_notebook"]["admin"] is False  # type: ignore[index]


def test_only_an_administrator_may_stop_the_server(site: Flask) -> None:
    bob, alice = site.test_client(), site.test_client()
    login(bob, "bob", "bob-pw")
    login(alice, "alice", "alice-pw")
    query = '?permissions={"server":["read","write"],"kernels":["execute"]}'
    assert me(bob, query)["permissions"] == {"server": ["read"], "kernels": ["execute"], "updatable_fields": [
        "name", "display_name", "initials", "avatar_url", "color"]}
    assert me(alice, query)["permissions"]["server"] == ["read", "write"]  # type: ignore[index]
    xsrf = bob.get_cookie("_xsrf")
    assert xsrf is not None
    response = bob.post("/api/shutdown", headers={"X-XSRFToken": xsrf.value})
    assert response.status_code == 403 and response.json["reason"] == "not an administrator"  # type: ignore[index]


def test_logout_ends_the_login_and_shows_the_login_form(site: Flask) -> None:
    bob = site.test_client()
    login(bob, "bob", "bob-pw")
    page = bob.get("/tree/").get_data(as_text=True)
    assert 'id="nb-user"' in page and ">bob<" in page and 'href="/logout"' in page
    response = bob.get("/logout")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "You are logged out." in text and 'name="password"' in text
    assert bob.get("/api/contents").status_code == 403


def test_the_server_user_is_what_it_was(app: Flask) -> None:
    client = app.test_client()
    body = me(client, f"?token={TOKEN}")
    assert set(body["identity"]) == {"username", "name", "display_name", "initials", "avatar_url", "color"}  # type: ignore[arg-type]
    assert body["flask_notebook"] == {"admin": True, "roles": [], "logout_url": "/logout"}
    page = client.get("/tree/").get_data(as_text=True)  # the login cookie the token gave
    assert 'id="nb-user"' in page and body["identity"]["display_name"] in page  # type: ignore[index]


# -- a host's authorize ------------------------------------------------------------------------


def host_site(root: Path, authorize: object) -> Flask:
    host = Flask("site")
    host.config.update(TESTING=True, SECRET_KEY="s", NOTEBOOK_ROOT_DIR=str(root))
    Notebook(host, url_prefix="/nb", authorize=authorize)
    return host


def test_authorize_may_return_a_plain_user_name(root: Path) -> None:
    host = host_site(root, lambda req: "ada")
    client = host.test_client()
    body = client.get("/nb/api/me").json
    assert body["identity"]["username"] == "ada"  # type: ignore[index]
    assert body["flask_notebook"] == {"admin": False, "roles": [], "logout_url": None}  # type: ignore[index]
    host.extensions["notebook"].shutdown_all()


def test_a_host_user_with_roles(root: Path) -> None:
    host = host_site(root, lambda req: {"username": "grace", "display_name": "Grace H.", "roles": ["admin", "staff"]})
    body = host.test_client().get("/nb/api/me").json
    assert body["identity"]["display_name"] == "Grace H."  # type: ignore[index]
    assert body["flask_notebook"] == {"admin": True, "roles": ["admin", "staff"], "logout_url": None}  # type: ignore[index]
    host.extensions["notebook"].shutdown_all()


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", "x" * 65, "a b"])
def test_a_user_name_that_could_reach_a_path_is_refused(root: Path, name: str) -> None:
    def authorize(req: Request) -> dict[str, str]:
        return {"username": name, "name": "someone"}

    host = host_site(root, authorize)
    client = host.test_client()
    response = client.get("/nb/api/contents")
    assert response.status_code == 403 and response.json["reason"] == "bad user name"  # type: ignore[index]
    page = client.get("/nb/tree/")
    assert page.status_code == 403 and "user name cannot be used here" in page.get_data(as_text=True)
    host.extensions["notebook"].shutdown_all()
