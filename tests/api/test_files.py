"""`/files/<path>` downloads (contract section 3.11)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from flask import Flask
from flask.testing import FlaskClient

from ..support.env import TOKEN


def test_text_file_is_served_inline_with_charset(client: FlaskClient, root: Path) -> None:
    (root / "notes.txt").write_text("hello")
    with client.get("/files/notes.txt") as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
        assert response.data == b"hello"
        assert "attachment" not in response.headers.get("Content-Disposition", "")
        assert response.headers["Cache-Control"] == "no-cache"
        assert "sandbox" in response.headers["Content-Security-Policy"]


def test_notebook_downloads_as_attachment(client: FlaskClient, root: Path) -> None:
    (root / "a b.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    with client.get("/files/a%20b.ipynb") as response:
        assert response.status_code == 200
        assert response.mimetype == "application/x-ipynb+json"
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert json.loads(response.data)["nbformat"] == 4


def test_download_flag_forces_attachment(client: FlaskClient, root: Path) -> None:
    (root / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\nxyz")
    with client.get("/files/pic.png?download=1") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/png"
        assert response.headers["Content-Disposition"].startswith("attachment")


def test_missing_hidden_and_directory_paths_are_404(client: FlaskClient, root: Path) -> None:
    (root / ".secret").write_text("x")
    (root / "sub").mkdir()
    for path in ("nope.txt", ".secret", "sub"):
        assert client.get(f"/files/{path}").status_code == 404


def test_unauthenticated_download_redirects_to_login(anon: FlaskClient, root: Path) -> None:
    (root / "notes.txt").write_text("hello")
    response = anon.get("/files/notes.txt")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_cookie_download_needs_same_origin_referer(app: Flask, root: Path) -> None:
    (root / "notes.txt").write_text("hello")
    browser = app.test_client()
    assert browser.get(f"/?token={TOKEN}", follow_redirects=True).status_code == 200  # now logged in by cookie
    assert browser.get("/files/notes.txt").status_code == 403
    assert browser.get("/files/notes.txt", headers={"Referer": "http://evil.example/"}).status_code == 403
    with browser.get("/files/notes.txt", headers={"Referer": "http://localhost/"}) as ok:
        assert ok.status_code == 200 and ok.data == b"hello"
    xsrf = browser.get_cookie("_xsrf")
    assert xsrf is not None
    with browser.get(f"/files/notes.txt?_xsrf={xsrf.value}") as ok:
        assert ok.status_code == 200
