"""NOTEBOOK_TRUST_PROXY: the standalone app believes X-Forwarded-For/Proto/Host/Prefix from
that many proxies, and only then: with the default, anyone could send them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from werkzeug.test import TestResponse

from flask_notebook import create_app
from flask_notebook.cli import parse_args

from ..support.env import AUTH, TOKEN

#: What deploy/nginx.conf sends for https://notebooks.example.com:8443/jupyter/.
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "notebooks.example.com:8443",
             "X-Forwarded-Prefix": "/jupyter", "X-Forwarded-For": "203.0.113.7"}


@pytest.fixture
def make_app(root: Path) -> Any:
    apps: list[Flask] = []

    def make(**config: Any) -> Flask:
        app = create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN, **config})
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["notebook"].shutdown_all()


def nb_config(response: TestResponse) -> dict[str, Any]:
    match = re.search(r'id="nb-config">(.*?)</script>', response.get_data(as_text=True), re.S)
    assert match
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def cookies_of(response: TestResponse) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_forwarded_headers_are_ignored_by_default(make_app: Any) -> None:
    app = make_app()
    client = app.test_client()
    assert client.get("/", headers=FORWARDED).headers["Location"] == "/login?next=/"
    page = client.get(f"/tree?token={TOKEN}", headers=FORWARDED)
    assert nb_config(page)["apiUrl"] == "/api"
    cookies = cookies_of(page)
    assert "nb-login-localhost" in cookies  # the Host header, not X-Forwarded-Host
    assert all("Path=/;" in c and "Secure" not in c for c in cookies.values())
    created = client.post("/api/contents", json={"type": "notebook"}, headers={**AUTH, **FORWARDED})
    assert created.headers["Location"] == "/api/contents/Untitled.ipynb"


def test_trusted_proxy_headers_shape_every_url(make_app: Any) -> None:
    app = make_app(NOTEBOOK_TRUST_PROXY=1)
    client = app.test_client()
    assert client.get("/", headers=FORWARDED).headers["Location"] == "/jupyter/login?next=/jupyter/"
    login = client.get("/login", headers=FORWARDED).get_data(as_text=True)
    assert 'action="/jupyter/login"' in login and 'href="/jupyter/static/flask_notebook/base.css"' in login

    page = client.get(f"/tree?token={TOKEN}", headers=FORWARDED)
    config = nb_config(page)
    assert config["baseUrl"] == "/jupyter/" and config["apiUrl"] == "/jupyter/api"
    assert config["contentsUrl"] == "/jupyter/api/contents/"
    cookies = cookies_of(page)
    assert "nb-login-notebooks-example-com-8443" in cookies
    assert all("Path=/jupyter/;" in c and "Secure" in c for c in cookies.values())

    created = client.post("/api/contents", json={"type": "notebook"}, headers={**AUTH, **FORWARDED})
    assert created.headers["Location"] == "/jupyter/api/contents/Untitled.ipynb"
    # (The test client's cookie jar goes by the path it requests, without the prefix.)
    opened = client.get(f"/tree/Untitled.ipynb?token={TOKEN}", headers=FORWARDED)
    assert opened.headers["Location"] == "/jupyter/notebooks/Untitled.ipynb"
    assert client.get("/api/", headers=FORWARDED).headers["Location"] == "/jupyter/api"
    logout = client.get("/logout", headers=FORWARDED)
    assert "Path=/jupyter/" in logout.headers["Set-Cookie"]


def test_trusted_proxy_sets_the_client_address_and_scheme(make_app: Any) -> None:
    app = make_app(NOTEBOOK_TRUST_PROXY=1)
    seen: dict[str, Any] = {}

    @app.get("/whoami")
    def whoami() -> str:
        seen.update(addr=request.remote_addr, secure=request.is_secure, host=request.host,
                    root=request.script_root, url=request.url)
        return ""

    app.test_client().get("/whoami", headers=FORWARDED)
    assert seen == {"addr": "203.0.113.7", "secure": True, "host": "notebooks.example.com:8443",
                    "root": "/jupyter", "url": "https://notebooks.example.com:8443/jupyter/whoami"}


def test_with_two_proxies_the_client_cannot_choose_the_values(make_app: Any) -> None:
    """Each proxy appends; with two trusted, the value the outer one added counts, and a
    value the client sent ahead of it does not."""
    app = make_app(NOTEBOOK_TRUST_PROXY=2)
    headers = {"X-Forwarded-Host": "evil.example, notebooks.example.com, inner:8888",
               "X-Forwarded-Prefix": "/evil, /jupyter, /",
               "X-Forwarded-Proto": "http, https, http"}
    page = app.test_client().get(f"/tree?token={TOKEN}", headers=headers)
    assert nb_config(page)["apiUrl"] == "/jupyter/api"
    cookies = cookies_of(page)
    assert "nb-login-notebooks-example-com" in cookies
    assert all("Secure" in c for c in cookies.values())


@pytest.mark.parametrize(("value", "hops"), [("1", 1), ("true", 1), ("2", 2), ("0", 0), ("false", 0)])
def test_trust_comes_from_the_environment(make_app: Any, monkeypatch: pytest.MonkeyPatch, value: str,
                                          hops: int) -> None:
    monkeypatch.setenv("NOTEBOOK_TRUST_PROXY", value)
    app = make_app()
    prefix = ", ".join(["/jupyter"] * 2)  # a prefix any trusted hop would report
    page = app.test_client().get(f"/tree?token={TOKEN}", headers={"X-Forwarded-Prefix": prefix})
    assert nb_config(page)["apiUrl"] == ("/jupyter/api" if hops else "/api")


@pytest.mark.parametrize("value", ["yes", "-1", 1.5, [1]])
def test_a_bad_trust_value_is_a_clear_error(make_app: Any, value: Any) -> None:
    with pytest.raises(ValueError, match="NOTEBOOK_TRUST_PROXY must be a number of proxies"):
        make_app(NOTEBOOK_TRUST_PROXY=value)


def test_the_command_line_flag() -> None:
    assert parse_args([]).trust_proxy is None
    assert parse_args(["--trust-proxy"]).trust_proxy == 1
    assert parse_args(["--trust-proxy", "2"]).trust_proxy == 2
    with pytest.raises(SystemExit):
        parse_args(["--trust-proxy", "-1"])


def test_the_loopback_host_guard_applies_to_the_forwarded_host(make_app: Any) -> None:
    """What the README says: behind a proxy with a public name, the command line's loopback
    guard needs --allow-remote-access (or the name in NOTEBOOK_LOCAL_HOSTNAMES)."""
    guarded = make_app(NOTEBOOK_TRUST_PROXY=1, NOTEBOOK_ALLOW_REMOTE_ACCESS=False)
    assert guarded.test_client().get("/api/contents", headers={**AUTH, **FORWARDED}).status_code == 403
    named = make_app(NOTEBOOK_TRUST_PROXY=1, NOTEBOOK_ALLOW_REMOTE_ACCESS=False,
                     NOTEBOOK_LOCAL_HOSTNAMES=["localhost", "notebooks.example.com"])
    assert named.test_client().get("/api/contents", headers={**AUTH, **FORWARDED}).status_code == 200
