"""`POST /api/shutdown` in an app: who may, and what happens where nothing can stop the
service. The live stop itself (standalone and gunicorn) is in tests/deploy/test_shutdown.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_notebook import Notebook

from ..support.env import AUTH, TOKEN
from ..support.responses import assert_error


@pytest.fixture
def stops() -> list[str]:
    return []


@pytest.fixture
def host(root: Path, stops: list[str]) -> Iterator[Flask]:
    """A host site that says how to stop it."""
    site = Flask("host")
    site.config.update(TESTING=True, NOTEBOOK_ROOT_DIR=str(root), NOTEBOOK_TOKEN=TOKEN)
    Notebook(site, url_prefix="/nb", shutdown=lambda: stops.append("stopped"))
    yield site
    site.extensions["notebook"].shutdown_all()


def test_without_a_way_to_stop_the_service_shutdown_is_501(client: FlaskClient, app: Flask) -> None:
    """create_app alone (any WSGI server) and an embedding host that passes no `shutdown`."""
    assert app.extensions["notebook"].shutdown_server is None
    body = assert_error(client.post("/api/shutdown"), 501)
    assert "not stopped through its API" in body["message"]


def test_shutdown_stops_the_kernels_then_the_service(host: Flask, stops: list[str]) -> None:
    client = host.test_client()
    response = client.post("/nb/api/shutdown", headers=AUTH)
    assert response.status_code == 200
    assert response.data == b"" and response.mimetype == "application/json"
    assert stops == ["stopped"]
    # The kernels are shut down before the answer, and none starts after it.
    assert_error(client.post("/nb/api/kernels", headers=AUTH), 503, "The server is shutting down")


def test_shutdown_needs_authentication_and_xsrf(host: Flask, stops: list[str]) -> None:
    assert_error(host.test_client().post("/nb/api/shutdown"), 403)
    browser = host.test_client()
    assert browser.get("/nb/tree", headers=AUTH).status_code == 200  # the login cookie and _xsrf
    assert_error(browser.post("/nb/api/shutdown"), 403, "'_xsrf' argument missing from POST")
    assert stops == []
    xsrf = browser.get_cookie("_xsrf", path="/nb/")
    assert xsrf is not None
    assert browser.post("/nb/api/shutdown", headers={"X-XSRFToken": xsrf.value}).status_code == 200
    assert stops == ["stopped"]


def test_shutdown_is_post_only(host: Flask, stops: list[str]) -> None:
    response = host.test_client().get("/nb/api/shutdown", headers=AUTH)
    assert_error(response, 405)
    assert response.headers["Allow"] == "POST"
    assert stops == []
