"""The built scripts and styles go out gzipped to browsers that accept it (blueprints/static.py)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from .support.env import PROJECT

BUILD = PROJECT / "flask_notebook" / "static" / "flask_notebook" / "build"


@pytest.mark.parametrize("name", ["notebook.js", "notebook-style.css"])
def test_a_built_file_is_sent_precompressed_to_a_browser_that_accepts_gzip(client: FlaskClient, name: str) -> None:
    with client.get(f"/static/flask_notebook/build/{name}", headers={"Accept-Encoding": "gzip, deflate, br"}) as response:
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["Vary"]
        expected_type = "text/javascript" if name.endswith(".js") else "text/css"
        assert response.content_type == f"{expected_type}; charset=utf-8"
        assert gzip.decompress(response.get_data()) == (BUILD / name).read_bytes()
        assert int(response.headers["Content-Length"]) < (BUILD / name).stat().st_size / 2


def test_a_client_that_does_not_accept_gzip_gets_the_plain_file(client: FlaskClient) -> None:
    with client.get("/static/flask_notebook/build/notebook.js", headers={"Accept-Encoding": "identity"}) as response:
        assert response.status_code == 200
        assert "Content-Encoding" not in response.headers
        assert "Accept-Encoding" in response.headers["Vary"]
        assert response.get_data() == (BUILD / "notebook.js").read_bytes()


def test_every_lazily_loaded_chunk_has_its_gzipped_copy() -> None:
    chunks = list((BUILD / "chunks").glob("*.js"))
    assert chunks, "the build splits lazily loaded code into build/chunks/"
    for chunk in chunks:
        assert gzip.decompress((chunk.parent / f"{chunk.name}.gz").read_bytes()) == chunk.read_bytes()


def test_files_outside_the_build_are_sent_as_they_are(client: FlaskClient) -> None:
    with client.get("/static/flask_notebook/js/api.js", headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 200
        assert "Content-Encoding" not in response.headers


def test_a_path_out_of_the_static_folder_is_not_found(client: FlaskClient) -> None:
    with client.get("/static/flask_notebook/build/../../../../settings.py.js", headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 404
