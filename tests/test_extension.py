"""The extension: a URL prefix, two apps in one process, double registration, host error handlers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask

from flask_notebook import Notebook, create_app
from flask_notebook.extension import DEFAULTS
from flask_notebook.factory import STANDALONE_DEFAULTS
from flask_notebook.settings import ALIASES

from .support.env import AUTH, TOKEN

README = Path(__file__).parent.parent / "README.md"


def test_mounted_under_prefix_with_prefixed_locations(host_app: Flask) -> None:
    client = host_app.test_client()
    response = client.post("/nb/api/contents", json={"type": "notebook"}, headers=AUTH)
    assert response.status_code == 201
    assert response.headers["Location"] == "/nb/api/contents/Untitled.ipynb"
    assert client.get("/api/contents", headers=AUTH).status_code == 404  # nothing outside the prefix


def test_our_api_errors_stay_json_despite_host_handlers(host_app: Flask) -> None:
    client = host_app.test_client()
    missing = client.get("/nb/api/contents/nope.txt", headers=AUTH)
    assert missing.status_code == 404 and missing.is_json
    assert missing.json["message"] == "file or directory '/nope.txt' does not exist"
    forbidden = host_app.test_client().get("/nb/api/contents")
    assert forbidden.status_code == 403 and forbidden.json["message"] == "Forbidden"
    # A method no route accepts fails in routing, before any blueprint is known: the host's
    # handling answers (a documented Flask limit), but the status is still right.
    assert client.open("/nb/api/status", method="DELETE", headers=AUTH).status_code == 405


def test_unexpected_error_is_json_500_without_traceback(host_app: Flask, jupyter_env: Path) -> None:
    broken = jupyter_env / "data" / "kernels" / "broken"
    broken.mkdir(parents=True)
    (broken / "kernel.json").write_text("{not json")
    response = host_app.test_client().get("/nb/api/kernelspecs/broken", headers=AUTH)
    assert response.status_code == 500
    assert response.json == {"message": "Unhandled error", "reason": None}


def test_host_routes_and_error_pages_are_untouched(host_app: Flask) -> None:
    client = host_app.test_client()
    assert client.get("/").data == b"host home"
    missing = client.get("/not-ours")
    assert missing.status_code == 404 and missing.data == b"<html>host 404</html>"


def test_two_apps_keep_separate_state(tmp_path: Path) -> None:
    roots = [tmp_path / "one", tmp_path / "two"]
    apps = []
    for index, root in enumerate(roots):
        root.mkdir()
        (root / f"only-in-{index}.txt").write_text(str(index))
        apps.append(create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root)}))
    try:
        tokens = [app.extensions["notebook"].token for app in apps]
        assert tokens[0] != tokens[1]
        for index, app in enumerate(apps):
            listing = app.test_client().get("/api/contents", headers={"Authorization": f"token {tokens[index]}"})
            assert [entry["name"] for entry in listing.json["content"]] == [f"only-in-{index}.txt"]
            other = tokens[1 - index]
            assert app.test_client().get("/api/contents", headers={"Authorization": f"token {other}"}).status_code == 403
    finally:
        for app in apps:
            app.extensions["notebook"].shutdown_all()


def test_one_extension_object_serves_two_apps(tmp_path: Path) -> None:
    notebook = Notebook(url_prefix="/x")
    apps = [Flask(f"a{i}") for i in range(2)]
    for app in apps:
        app.config.update(NOTEBOOK_ROOT_DIR=str(tmp_path), NOTEBOOK_TOKEN=TOKEN)
        notebook.init_app(app)
    assert apps[0].extensions["notebook"] is not apps[1].extensions["notebook"]
    assert all(app.test_client().get("/x/api/contents", headers=AUTH).status_code == 200 for app in apps)
    assert not hasattr(notebook, "app")


def test_registering_twice_is_a_clear_error(host_app: Flask) -> None:
    with pytest.raises(RuntimeError, match="already registered"):
        Notebook(host_app)


def test_missing_root_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a directory"):
        create_app({"NOTEBOOK_ROOT_DIR": str(tmp_path / "nope")})


def test_config_defaults_are_visible_to_the_host(host_app: Flask) -> None:
    for key, default in DEFAULTS.items():
        assert key in host_app.config
        if key not in ("NOTEBOOK_ROOT_DIR", "NOTEBOOK_TOKEN"):
            assert host_app.config[key] == default


def test_every_config_key_is_documented() -> None:
    doc = Notebook.init_app.__doc__ or ""
    readme = README.read_text()
    for key in [*DEFAULTS, *STANDALONE_DEFAULTS]:
        assert key in readme, f"{key} missing from README"
    for key in DEFAULTS:
        assert key in doc, f"{key} missing from init_app docstring"


def test_every_config_key_the_code_reads_is_declared() -> None:
    package = Path(__file__).parent.parent / "flask_notebook"
    read = set()
    for path in package.rglob("*.py"):
        read |= set(re.findall(r'["\'](NOTEBOOK_[A-Z_]+)["\']', path.read_text()))
    assert read - set(STANDALONE_DEFAULTS) - set(ALIASES) <= set(DEFAULTS)


def test_environment_configures_the_standalone_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTEBOOK_ROOT_DIR", str(tmp_path))
    monkeypatch.setenv("NOTEBOOK_TOKEN", "12345")
    monkeypatch.setenv("NOTEBOOK_ALLOW_HIDDEN", "true")
    monkeypatch.setenv("NOTEBOOK_MAX_BODY_SIZE", "2048")
    app = create_app({"TESTING": True})
    state = app.extensions["notebook"]
    assert state.token == "12345"  # digits stay a string
    assert state.settings.allow_hidden is True
    assert state.settings.max_body_size == 2048
    response = app.test_client().put("/api/contents/a.txt", headers={"Authorization": "token 12345"},
                                     data=json.dumps({"type": "file", "format": "text", "content": "x" * 4096}))
    assert response.status_code == 413
    state.shutdown_all()


def test_pages_carry_prefixed_urls_in_config_block(host_app: Flask) -> None:
    client = host_app.test_client()
    page = client.get(f"/nb/tree?token={TOKEN}")
    assert page.status_code == 200
    match = re.search(rb'<script type="application/json" id="nb-config">(.*?)</script>', page.data)
    assert match is not None
    config = json.loads(match.group(1))
    assert config["contentsUrl"] == "/nb/api/contents/"
    assert b"/nb/static/flask_notebook/base.css" in page.data
    with client.get("/nb/static/flask_notebook/base.css") as css:
        assert css.status_code == 200
