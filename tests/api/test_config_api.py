"""`GET/PUT/PATCH /api/config/<section>` (contract section 8).

Compared side by side with a live jupyter_server 2.21.1:

- GET of a section nobody wrote -> 200 ``{}``.
- PUT ``{"a": 1, "b": {"c": 2, "d": 3}}`` -> 204, no body, no Content-Type.
- PATCH ``{"b": {"c": null}, "e": [1]}`` -> 200 ``{"a": 1, "b": {"d": 3}, "e": [1]}``;
  PATCH ``{"b": {"d": null}}`` -> ``{"a": 1, "e": [1]}`` (an object left empty goes too).
- PATCH or PUT of ``[1, 2]``, ``"x"``, ``null`` or an empty body -> 500 ``Unhandled error``
  (we answer 400: the body must be an object); unparsable -> 400 ``Invalid JSON in body of
  request``.
- ``/api/config/foo-bar`` (not ``\\w+``) -> 404 (an HTML page there; JSON here); POST and
  DELETE -> 405.
- It reads ``serverconfig/<section>.d/*.json`` then ``serverconfig/<section>.json`` of every
  Jupyter config directory and writes ``<jupyter_config_dir>/serverconfig/<section>.json``;
  PATCH answers what the written file holds, without the other layers. We write one store
  per contents root in the data directory instead (``core.config``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_notebook import Notebook, create_app

from ..support.env import AUTH, TOKEN
from ..support.responses import assert_error


def _app(root: Path, **config: object) -> Flask:
    return create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN, **config})


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    made: list[Flask] = []
    yield made
    for app in made:
        app.extensions["notebook"].shutdown_all()


def _store(app: Flask) -> Path:
    return Path(app.extensions["notebook"].config_sections.write_dir)


def test_a_section_nobody_wrote_is_empty(client: FlaskClient) -> None:
    response = client.get("/api/config/notebook")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == {}


def test_put_replaces_the_section_and_answers_204(client: FlaskClient) -> None:
    client.put("/api/config/notebook", json={"old": True})
    response = client.put("/api/config/notebook", data='{"a": 1, "b": {"c": 2, "d": 3}}')
    assert response.status_code == 204
    assert response.data == b"" and "Content-Type" not in response.headers
    assert client.get("/api/config/notebook").get_json() == {"a": 1, "b": {"c": 2, "d": 3}}
    stored = _store(client.application) / "notebook.json"
    assert json.loads(stored.read_text()) == {"a": 1, "b": {"c": 2, "d": 3}}
    assert not [name for name in os.listdir(stored.parent) if name != "notebook.json"]  # no temporary left


def test_patch_deep_merges_and_null_removes_keys(client: FlaskClient) -> None:
    client.put("/api/config/notebook", json={"a": 1, "b": {"c": 2, "d": 3}})
    response = client.patch("/api/config/notebook", json={"b": {"c": None}, "e": [1]})
    assert response.status_code == 200
    assert response.get_json() == {"a": 1, "b": {"d": 3}, "e": [1]}
    assert client.patch("/api/config/notebook", json={"b": {"d": None}}).get_json() == {"a": 1, "e": [1]}
    assert client.get("/api/config/notebook").get_json() == {"a": 1, "e": [1]}


def test_patch_of_an_unwritten_section_creates_it(client: FlaskClient) -> None:
    assert client.patch("/api/config/tree", json={"x": {"y": 1}, "gone": None}).get_json() == {"x": {"y": 1}}
    assert client.patch("/api/config/tree", json={"x": 5}).get_json() == {"x": 5}
    assert client.patch("/api/config/tree", json={"x": {"z": 2}}).get_json() == {"x": {"z": 2}}


def test_sections_merge_every_jupyter_config_directory_under_our_store(
        root: Path, jupyter_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, apps: list[Flask]) -> None:
    """Layers as jupyter_server reads them: `<section>.d/*.json` (sorted) then `<section>.json`,
    lower-priority directories first; our store last, where a null removes a layered key."""
    user = jupyter_env / "config" / "serverconfig"
    (user / "notebook.d").mkdir(parents=True)
    (user / "notebook.d" / "10-ext.json").write_text('{"ext": {"on": true, "level": 1}, "who": "d"}')
    (user / "notebook.d" / "20-ext.json").write_text('{"ext": {"level": 2}}')
    (user / "notebook.json").write_text('{"who": "user", "theme": "light"}')
    (user / "broken.json").write_text("{not json")
    (user / "listed.json").write_text("[1, 2]")
    extra = tmp_path / "extra" / "serverconfig"
    extra.mkdir(parents=True)
    (extra / "notebook.json").write_text('{"who": "extra", "from_extra": 1}')  # first in the path: wins
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(extra.parent))
    app = _app(root)
    apps.append(app)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = AUTH["Authorization"]
    assert client.get("/api/config/notebook").get_json() == {
        "ext": {"on": True, "level": 2}, "who": "extra", "theme": "light", "from_extra": 1}
    assert client.get("/api/config/broken").get_json() == {}
    assert client.get("/api/config/listed").get_json() == {}
    assert client.patch("/api/config/notebook", json={"theme": "dark"}).get_json() == {"theme": "dark"}
    client.put("/api/config/notebook", json={"ext": {"on": None}, "who": "ours"})
    assert client.get("/api/config/notebook").get_json() == {
        "ext": {"level": 2}, "who": "ours", "theme": "light", "from_extra": 1}
    # The user's Jupyter config directory, shared with every other server, is never written.
    assert json.loads((user / "notebook.json").read_text()) == {"who": "user", "theme": "light"}


def test_each_root_has_its_own_store_that_outlives_the_server(tmp_path: Path, apps: list[Flask]) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = _app(tmp_path / "one")
    other = _app(tmp_path / "two")
    apps += [first, other]
    first.test_client().put("/api/config/notebook", json={"mine": 1}, headers=AUTH)
    assert other.test_client().get("/api/config/notebook", headers=AUTH).get_json() == {}
    again = _app(tmp_path / "one")  # a server started again on the same root
    apps.append(again)
    assert again.test_client().get("/api/config/notebook", headers=AUTH).get_json() == {"mine": 1}
    assert _store(first) == _store(again) != _store(other)


def test_the_store_lives_in_the_data_dir(tmp_path: Path, root: Path, apps: list[Flask]) -> None:
    app = _app(root, NOTEBOOK_DATA_DIR=str(tmp_path / "data"))
    apps.append(app)
    app.test_client().put("/api/config/common", json={"k": "v"}, headers=AUTH)
    [stored] = (tmp_path / "data" / "flask_notebook" / "serverconfig").glob("*/common.json")
    assert json.loads(stored.read_text()) == {"k": "v"}


@pytest.mark.parametrize("name", ["foo-bar", "a.b", "%C3%A9", ".."])
def test_a_section_name_other_than_word_characters_is_404_json(client: FlaskClient, name: str) -> None:
    for method in ("GET", "PUT", "PATCH"):
        assert_error(client.open(f"/api/config/{name}", method=method, json={}), 404)


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_other_methods_are_405_json(client: FlaskClient, method: str) -> None:
    response = client.open("/api/config/notebook", method=method, json={})
    assert_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "PUT", "PATCH"}


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("body", ["[1, 2]", '"x"', "null", "5", ""])
def test_a_body_that_is_not_an_object_is_400(client: FlaskClient, method: str, body: str) -> None:
    client.put("/api/config/notebook", json={"kept": True})
    assert_error(client.open("/api/config/notebook", method=method, data=body), 400,
                 "The body must be a JSON object (the config section)")
    assert client.get("/api/config/notebook").get_json() == {"kept": True}


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_unparsable_json_is_400(client: FlaskClient, method: str) -> None:
    assert_error(client.open("/api/config/notebook", method=method, data="nope"), 400,
                 "Invalid JSON in body of request")


def test_config_needs_authentication_and_xsrf(anon: FlaskClient, app: Flask) -> None:
    assert_error(anon.get("/api/config/notebook"), 403)
    browser = app.test_client()
    browser.get("/login")
    xsrf = browser.get_cookie("_xsrf")
    assert xsrf is not None
    browser.post("/login", data={"password": TOKEN, "_xsrf": xsrf.value})
    assert browser.get("/api/config/notebook").status_code == 200
    assert_error(browser.put("/api/config/notebook", json={}), 403)
    assert browser.put("/api/config/notebook", json={}, headers={"X-XSRFToken": xsrf.value}).status_code == 204


def test_a_site_with_its_own_logins_keeps_each_users_settings(root: Path) -> None:
    host = Flask("host")
    host.config.update(TESTING=True, NOTEBOOK_ROOT_DIR=str(root))
    Notebook(host, url_prefix="/nb",
             authorize=lambda request: request.headers.get("X-User") and {"username": request.headers["X-User"]})
    try:
        alice, bob = ({"X-User": name, "Authorization": "Bearer x"} for name in ("alice", "bob"))
        client = host.test_client()
        assert client.put("/nb/api/config/notebook", json={"theme": "dark"}, headers=alice).status_code == 204
        assert client.put("/nb/api/config/notebook", json={"theme": "light"}, headers=bob).status_code == 204
        assert client.patch("/nb/api/config/notebook", json={"font": 12}, headers=bob).json == {
            "theme": "light", "font": 12}
        assert client.get("/nb/api/config/notebook", headers=alice).json == {"theme": "dark"}
    finally:
        host.extensions["notebook"].shutdown_all()


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_section_nested_too_deeply_is_400_and_nothing_is_stored(client: FlaskClient, method: str) -> None:
    deep: dict[str, object] = {}
    for _ in range(300):  # a merge of this recursed past Python's limit: 500 (past 400, the body is refused)
        deep = {"a": deep}
    assert_error(client.open("/api/config/deep", method=method, json=deep), 400,
                 "Config section 'deep' nests deeper than 64 levels")
    assert client.get("/api/config/deep").json == {}
