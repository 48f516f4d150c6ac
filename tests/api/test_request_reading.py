"""How requests are read, as jupyter_server reads them: what the conformance runs against the
reference found (tests/conformance), each checked against a live jupyter_server 2.21.1.

- Query arguments go through tornado's ``get_argument``: control characters become spaces and
  the value is stripped (``/api/me?permissions=+`` -> 200, nothing asked).
- PUT with an empty or false body (``{}``, ``false``) makes an untitled file, as no body does
  (the reference: ``if model:``).
- PATCH of an unknown session is 404 whatever the body says.
- POST /api/kernels takes empty values (``"path": []``) as absent, and any other path as
  text (``"path": true``): 201.
- PUT of a model to a path where no file is (jupyter_server's ``ContentsManager.new``): the
  type defaults by extension, a missing content is an empty file or notebook, an unknown
  type is a file: 201. Where a file is, the model must be complete (400 otherwise).
- A newline in a path (``%0A``) reaches the API: JSON 404, where werkzeug's ``path`` converter
  stopped at it and the URL got an HTML page.
"""

from __future__ import annotations

import json

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ..support.env import AUTH
from ..support.responses import assert_error


@pytest.mark.parametrize("raw", ["+", "%20", "%01", ""])
def test_a_blank_permissions_argument_asks_for_nothing(client: FlaskClient, raw: str) -> None:
    response = client.get(f"/api/me?permissions={raw}")
    assert response.status_code == 200
    assert response.json["permissions"] == {"updatable_fields": ["name", "display_name", "initials", "avatar_url",
                                                                 "color"]}


def test_query_flags_are_stripped(client: FlaskClient, root: Path) -> None:
    (root / "a.txt").write_text("x")
    response = client.get("/api/contents/a.txt?content=%201&format=text%20")
    assert response.status_code == 200
    assert response.json["content"] == "x"


@pytest.mark.parametrize("body", [b"{}", b"false", b"[]", b"0", b'""'])
def test_put_with_an_empty_model_makes_an_untitled_file(client: FlaskClient, root: Path, body: bytes) -> None:
    response = client.put("/api/contents", data=body)
    assert response.status_code == 201
    assert response.json["name"] == "untitled" and (root / "untitled").is_file()
    assert_error(client.put("/api/contents/nowhere", data=body), 404, "No such directory: nowhere")


def test_patch_of_an_unknown_session_is_404_before_the_body_is_read(client: FlaskClient) -> None:
    response = client.patch("/api/sessions/e3e70682-c209-1cac-a29f-6fbed82c07cd", json={"kernel": False})
    assert_error(response, 404, "Session not found: session_id='e3e70682-c209-1cac-a29f-6fbed82c07cd'")
    assert_error(client.patch("/api/sessions/e3e70682-c209-1cac-a29f-6fbed82c07cd"), 400, "No JSON data provided")


def test_start_kernel_takes_empty_values_as_absent(client: FlaskClient) -> None:
    response = client.post("/api/kernels", json={"name": None, "path": [], "kernel_id": ""})
    assert response.status_code == 201
    assert response.json["name"] == "python3"
    # Any other path is taken as text (jupyter_server's to_os_path: str(path)): no such
    # folder, so the kernel runs in the nearest one up, the root.
    other = client.post("/api/kernels", json={"path": True})
    assert other.status_code == 201
    assert_error(client.post("/api/kernels", json={"name": 5}), 400, "'name' must be a string")


@pytest.mark.parametrize("method, url", [
    ("GET", "/api/contents/0%0A"),
    ("POST", "/api/contents/0%0A/checkpoints/x"),
    ("DELETE", "/api/contents/0%0A/checkpoints/0"),
    ("GET", "/api/no%0Asuch"),
    ("GET", "/api/notebooks/a%0Ab"),
])
def test_a_newline_in_a_path_gets_a_json_answer(host_app: Flask, method: str, url: str) -> None:
    # Mounted in a site with its own HTML 404: that page must never answer our API URLs.
    response = host_app.test_client().open("/nb" + url, method=method, headers=AUTH)
    assert response.status_code in (302, 404)
    if response.status_code == 404:
        assert response.mimetype == "application/json"


def test_a_file_whose_name_holds_a_newline_is_served(client: FlaskClient, root: Path) -> None:
    (root / "two\nlines.txt").write_text("x")
    response = client.get("/api/contents/two%0Alines.txt")
    assert response.status_code == 200
    assert response.json["name"] == "two\nlines.txt"


@pytest.mark.parametrize("model, kind, content", [
    ({"type": "file"}, "file", ""),
    ({"type": ""}, "file", ""),
    ({"type": None}, "file", ""),
    ({"format": "text"}, "file", ""),
    ({"type": "bogus", "content": "hi", "format": "text"}, "file", "hi"),
])
def test_put_of_a_model_where_no_file_is_makes_one(client: FlaskClient, root: Path, model: dict[str, object],
                                                   kind: str, content: str) -> None:
    response = client.put("/api/contents/new.txt", json=model)
    assert response.status_code == 201, response.json
    assert response.json["type"] == kind
    assert (root / "new.txt").read_text() == content


def test_put_of_a_model_without_content_makes_an_empty_notebook(client: FlaskClient, root: Path) -> None:
    response = client.put("/api/contents/new.ipynb", json={"format": "json"})
    assert response.status_code == 201 and response.json["type"] == "notebook"
    assert client.get("/api/contents/new.ipynb").json["content"]["cells"] == []


@pytest.mark.parametrize("model, message", [
    ({"type": "file"}, "No file content provided"),
    ({"format": "text"}, "No file type provided"),
    ({"content": "x"}, "No file type provided"),
])
def test_put_of_an_incomplete_model_over_a_file_is_400(client: FlaskClient, root: Path, model: dict[str, object],
                                                       message: str) -> None:
    (root / "a.txt").write_text("kept")
    assert_error(client.put("/api/contents/a.txt", json=model), 400, message)
    assert (root / "a.txt").read_text() == "kept"


def test_a_notebook_with_a_big_integer_is_read(client: FlaskClient, root: Path) -> None:
    # Valid JSON that nbformat and jupyter_server accept; orjson cannot write the integer,
    # and the GET answered 500 (found by running schemathesis against our own spec).
    (root / "big.ipynb").write_text('{"cells": [], "metadata": {"x": 1180591620717411303424}, '
                                    '"nbformat": 4, "nbformat_minor": 5}')
    response = client.get("/api/contents/big.ipynb")
    assert response.status_code == 200
    assert response.json["content"]["metadata"]["x"] == 2**70


@pytest.mark.parametrize("body", [b'{"a": 1180591620717411303424}', b'{"a": "\\ud800"}'])
def test_config_that_could_not_be_stored_is_400_and_nothing_is_stored(client: FlaskClient, body: bytes) -> None:
    assert client.put("/api/config/mine", data=b'{"kept": 1}').status_code == 204
    for method in ("PUT", "PATCH"):
        response = client.open("/api/config/mine", method=method, data=body)
        assert response.status_code == 400, response.json
    assert client.get("/api/config/mine").json == {"kept": 1}


def test_a_body_nested_past_the_parsers_depth_is_400(client: FlaskClient) -> None:
    body = b"[" * 5000 + b"]" * 5000  # orjson stops at 1024 levels; the json fallback recursed
    for url in ("/api/contents", "/api/sessions", "/api/kernels", "/api/config/x", "/api/events"):
        assert_error(client.post(url, data=body) if url != "/api/config/x" else client.put(url, data=body), 400,
                     "Invalid JSON in body of request: nested deeper than 400 levels")


@pytest.mark.parametrize("method, url, body", [
    ("PATCH", "/api/me", {"name": "\ud800"}),
    ("POST", "/api/terminals", {"cwd": "\ud800"}),
    ("POST", "/api/sessions", {"notebook": {"path": "\ud800"}}),
    ("POST", "/api/contents", {"copy_from": "\ud800"}),
    ("PATCH", "/api/contents/a.txt", {"path": "\ud800"}),
    ("GET", "/api/resolvePath?path=%ED%A0%80", None),
])
def test_a_lone_surrogate_in_a_body_is_a_client_error(client: FlaskClient, root: Path, method: str, url: str,
                                                      body: object) -> None:
    # orjson refuses it, the json module (the fallback) accepts it, and a path or a cookie
    # made of it failed deep down (500). Written as \\ud800 escapes, as a client sends it.
    (root / "a.txt").write_text("a")
    data = None if body is None else json.dumps(body).encode()
    response = client.open(url, method=method, data=data)
    assert 200 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    if method == "POST" and url == "/api/terminals" and response.status_code == 200:
        client.delete(f"/api/terminals/{response.json['name']}")
