"""`GET /api/nbconvert` (contract section 2).

jupyter_server 2.21.1 with nbconvert 7.17.2 (`.venv-bench`) answered 200 with exactly
``REFERENCE`` below: every exporter entry point, with its class's ``output_mimetype`` ("" where
it has none). ``POST`` is 405 JSON ``Method Not Allowed``; no credentials, 403.
"""

from __future__ import annotations

from flask.testing import FlaskClient

from flask_notebook.core.exporters import export_formats

from ..support.responses import assert_error

REFERENCE = {
    "asciidoc": {"output_mimetype": "text/asciidoc"}, "custom": {"output_mimetype": ""},
    "html": {"output_mimetype": "text/html"}, "latex": {"output_mimetype": "text/latex"},
    "markdown": {"output_mimetype": "text/markdown"}, "notebook": {"output_mimetype": "application/json"},
    "pdf": {"output_mimetype": "application/pdf"}, "python": {"output_mimetype": "text/x-python"},
    "qtpdf": {"output_mimetype": "text/html"}, "qtpng": {"output_mimetype": "text/html"},
    "rst": {"output_mimetype": "text/x-rst"}, "script": {"output_mimetype": ""},
    "slides": {"output_mimetype": "text/html"}, "webpdf": {"output_mimetype": "text/html"},
}


def test_nbconvert_lists_every_exporter_as_the_reference(client: FlaskClient) -> None:
    response = client.get("/api/nbconvert")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == REFERENCE


def test_the_exporters_are_listed_once_per_process() -> None:
    """Listing them imports all of nbconvert (in a child process): once."""
    first = export_formats()
    assert export_formats() is first


def test_nbconvert_needs_credentials_and_a_get(client: FlaskClient, anon: FlaskClient) -> None:
    assert_error(anon.get("/api/nbconvert"), 403, "Forbidden")
    response = client.post("/api/nbconvert")
    assert_error(response, 405)
    assert response.headers["Allow"] == "GET, HEAD"
