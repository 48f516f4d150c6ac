"""`GET /api/spec.yaml`: the OpenAPI document of every endpoint this server serves.

Compared with a live jupyter_server 2.21.1: with the token -> 200, ``Content-Type:
text/x-yaml``, its Swagger 2.0 ``api.yaml`` (file validators: ETag, Last-Modified); HEAD ->
500 (a bug there); without credentials -> 302 to ``/login?next=...``. Ours: 200 ``text/x-yaml``
(an OpenAPI 3.1 document written as JSON, which YAML parsers read), HEAD works, and
without credentials a JSON 403, as every API URL answers (no API URL answers HTML).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from flask_notebook import Notebook
from flask_notebook.blueprints import apispec

from ..support.conformance import REFERENCE_SPEC
from ..support.env import AUTH, TOKEN
from ..support.responses import assert_error

METHODS = {"get", "put", "post", "delete", "patch"}


def _operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item if method in METHODS}


def _spec(client: FlaskClient, url: str = "/api/spec.yaml") -> dict[str, Any]:
    response = client.get(url, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/x-yaml"
    assert response.data.isascii()
    document = yaml.safe_load(response.data)
    assert document == json.loads(response.data)  # plain JSON too
    return document  # type: ignore[no-any-return]


def test_the_document_is_valid_openapi_read_as_yaml(client: FlaskClient) -> None:
    document = _spec(client)
    validate(document)
    assert document["openapi"] == "3.1.0" and document["servers"] == [{"url": "/"}]


def test_every_route_is_described_and_nothing_else(client: FlaskClient, app: Flask) -> None:
    served = apispec.served_operations(app)
    assert ("/api/shutdown", "post") in served and ("/api/contents/{api_path}", "put") in served
    assert ("/api/contents", "get") in served and ("/api/kernels/{kernel_id}/execute", "post") in served
    assert served <= _operations(apispec.DOCUMENT), sorted(served - _operations(apispec.DOCUMENT))
    assert _operations(_spec(client)) == served


def test_a_route_without_a_description_is_found(root: Path) -> None:
    """What the test above relies on: a new route of ours shows up as undescribed."""
    host = Flask("host")
    host.config.update(TESTING=True, NOTEBOOK_ROOT_DIR=str(root), NOTEBOOK_TOKEN=TOKEN)
    Notebook(host, url_prefix="/nb")
    host.add_url_rule("/nb/api/kernels/<kernel_id>/new", "notebook.api.kernels.new", lambda kernel_id: "",
                      methods=["POST"])
    try:
        missing = apispec.served_operations(host) - _operations(apispec.DOCUMENT)
        assert missing == {("/api/kernels/{kernel_id}/new", "post")}
    finally:
        host.extensions["notebook"].shutdown_all()


def test_under_a_prefix_the_server_url_carries_it(host_app: Flask) -> None:
    document = _spec(host_app.test_client(), "/nb/api/spec.yaml")
    assert document["servers"] == [{"url": "/nb"}]
    assert _operations(document) == apispec.served_operations(host_app)


def test_head_answers_without_a_body(client: FlaskClient) -> None:
    response = client.head("/api/spec.yaml", headers=AUTH)
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Type"] == "text/x-yaml"


def test_without_credentials_it_is_a_json_403(anon: FlaskClient) -> None:
    assert_error(anon.get("/api/spec.yaml"), 403, "Forbidden")


#: jupyter_server's own api.yaml, in the project's shared reference material (beside the clone).
REFERENCE_YAML = REFERENCE_SPEC
RENAMED = {"/api/": "/api"}  # it documents /api/, which answers a redirect to /api


def test_every_operation_of_jupyter_servers_document_is_in_ours(client: FlaskClient) -> None:
    theirs = yaml.safe_load(REFERENCE_YAML.read_text())

    def shape(path: str) -> str:  # parameter names differ: {path} is our {api_path}
        return re.sub(r"\{[^}]+\}", "{}", RENAMED.get(path, path))

    ours = {(shape(path), method) for path, method in _operations(_spec(client))}
    expected = {(shape(path), method) for path, method in _operations(theirs)}
    assert expected <= ours, sorted(expected - ours)
