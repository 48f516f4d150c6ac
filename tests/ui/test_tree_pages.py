"""The page routes with Flask's test client: status codes, redirects, the config block, auth."""

from __future__ import annotations

import json
import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from ..support.env import TOKEN


def config_block(html: bytes) -> dict[str, object]:
    match = re.search(rb'<script type="application/json" id="nb-config">(.*?)</script>', html)
    assert match is not None
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def test_root_redirects_to_the_file_browser(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/tree/"


def test_tree_pages_of_the_root_and_a_folder(client: FlaskClient, root: Path) -> None:
    (root / "sub dir").mkdir()
    for url in ("/tree", "/tree/", "/tree/sub%20dir", "/tree/sub%20dir/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == "text/html"
    page = client.get("/tree/sub%20dir")
    config = config_block(page.data)
    assert config["path"] == "sub dir"
    assert config["treeUrl"] == "/tree/" and config["notebooksUrl"] == "/notebooks/"
    assert config["filesUrl"] == "/files/" and config["contentsUrl"] == "/api/contents/"
    assert b'aria-current="page">sub dir</a>' in page.data  # the breadcrumb, before any script runs
    assert b"<title>sub dir \xc2\xb7 flask-notebook</title>" in page.data
    assert b">New Notebook</button>" in page.data


def test_tree_of_a_file_goes_to_its_editor_or_download(client: FlaskClient, root: Path) -> None:
    (root / "a b.ipynb").write_text("{}")
    (root / "notes.txt").write_text("x")
    assert client.get("/tree/a%20b.ipynb").headers["Location"] == "/notebooks/a%20b.ipynb"
    assert client.get("/tree/notes.txt").headers["Location"] == "/files/notes.txt"


def test_missing_hidden_or_escaping_folder_is_an_html_404(client: FlaskClient, root: Path) -> None:
    (root / ".secret").mkdir()
    for url in ("/tree/nope", "/tree/.secret", "/tree/..%2F..%2Fetc", "/tree/a/../../etc"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.mimetype == "text/html", url
        assert b"No such directory" in response.data
        assert b'<script type="module"' not in response.data


def test_pages_redirect_to_login_without_credentials(anon: FlaskClient) -> None:
    for url in ("/", "/tree/", "/tree/sub", "/running", "/runs"):
        response = anon.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url


def test_pages_set_the_xsrf_cookie_and_never_carry_the_token(app: Flask) -> None:
    browser = app.test_client()
    response = browser.get(f"/tree/?token={TOKEN}")
    assert response.status_code == 200
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("_xsrf=") for c in cookies)
    assert TOKEN.encode() not in response.data
    running = browser.get("/running")  # now by the login cookie
    assert running.status_code == 200
    assert TOKEN.encode() not in running.data
    assert config_block(running.data)["runningUrl"] == "/running"
    assert b'aria-current="page">Running</a>' in running.data


def test_pages_under_a_host_prefix(host_app: Flask, root: Path) -> None:
    (root / "sub").mkdir()
    client = host_app.test_client()
    assert client.get(f"/nb/?token={TOKEN}").headers["Location"] == "/nb/tree/"
    page = client.get("/nb/tree/sub")
    assert page.status_code == 200
    config = config_block(page.data)
    assert config["treeUrl"] == "/nb/tree/" and config["apiUrl"] == "/nb/api"
    assert config["notebooksUrl"] == "/nb/notebooks/" and config["filesUrl"] == "/nb/files/"
    assert config["runsUrl"] == "/nb/runs"
    runs = client.get("/nb/runs")
    assert runs.status_code == 200 and b'aria-current="page">Runs</a>' in runs.data
    assert b'src="/nb/static/flask_notebook/js/tree.js"' in page.data
    for asset in ("js/tree.js", "js/api.js", "js/grid.js", "js/upload.js", "js/dialogs.js", "js/format.js",
                  "js/running.js", "js/runs.js", "js/runlist.js", "js/actions.js", "browser.css", "base.css"):
        with client.get(f"/nb/static/flask_notebook/{asset}") as response:
            assert response.status_code == 200, asset
            if asset.endswith(".js"):
                assert response.mimetype == "text/javascript", asset  # served as ES modules
    missing = client.get("/nb/tree/nope")
    assert missing.status_code == 404 and b"host 404" not in missing.data


def test_edit_page_of_a_file_and_404_for_anything_else(client: FlaskClient, anon: FlaskClient, root: Path) -> None:
    (root / "sub").mkdir()
    (root / "sub" / "a.py").write_text("print(1)")
    (root / ".hidden.txt").write_text("x")
    page = client.get("/edit/sub/a.py")
    assert page.status_code == 200
    config = config_block(page.data)
    assert config["path"] == "sub/a.py" and config["autosaveInterval"] == 120
    assert b'src="/static/flask_notebook/build/edit.js"' in page.data  # the CodeMirror editor (src/edit/)
    assert b"print(1)" not in page.data  # the text comes from the contents API, not the page
    for url in ("/edit/sub", "/edit/nope.txt", "/edit/.hidden.txt", "/edit/..%2Fsecret"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"No such file" in response.data
    assert anon.get("/edit/sub/a.py").headers["Location"].startswith("/login?next=")
