"""No `/api` URL answers with an HTML page: every rule of the app's URL map, every method, with
and without a WebSocket upgrade, against the real server.

werkzeug answers what routing refuses (a WebSocket upgrade to a plain URL, a method a URL
lacks) with its own HTML pages, before any blueprint's error handler is asked. jupyter_server
does worse for some (its 404 and 405 pages are HTML), and serves an upgrade to a plain URL as
plain HTTP (`GET /api/status` with `Upgrade: websocket` is its 200), which Flask cannot: ours
is a JSON 400 there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from flask_notebook import create_app

from ..support.env import AUTH, TOKEN
from ..support.server import LiveServer

pytestmark = pytest.mark.live

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
#: Values for the rules' variables that name nothing, so no request changes anything.
DUMMY = {"kernel_id": "00000000-0000-0000-0000-000000000000", "session_id": "no-such-session",
         "api_path": "no/such/file.txt", "checkpoint_id": "no-such-checkpoint", "request_id": "no-such-request",
         "name": "no-such-kernelspec", "unknown": "no/such/endpoint"}
#: Requests that would stop the server under the sweep.
SKIP = {("POST", "/api/shutdown")}


def api_urls(root: Path) -> list[tuple[str, bool]]:
    """(path, has a WebSocket rule) of every `/api` rule, variables filled in, once each."""
    app = create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN})
    try:
        urls: dict[str, bool] = {}
        for rule in app.url_map.iter_rules():
            if rule.rule == "/api" or rule.rule.startswith("/api/"):
                path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: DUMMY.get(m.group(1), "x"), rule.rule)
                urls[path] = urls.get(path, False) or rule.websocket
        return sorted(urls.items())
    finally:
        app.extensions["notebook"].shutdown_all()


def test_every_api_url_answers_json(live_server: LiveServer) -> None:
    urls = api_urls(live_server.root)
    assert ("/api/events/subscribe", True) in urls and len(urls) > 30
    checked = 0
    with requests.Session() as session:
        for path, websocket in urls:
            for method in METHODS:
                for upgrade in (False, True):
                    if (method, path) in SKIP or (websocket and upgrade and method in ("GET", "HEAD")):
                        continue  # a real handshake: the WebSocket tests cover it
                    headers = {**AUTH, "Content-Type": "application/json", **(UPGRADE if upgrade else {})}
                    body = b"{" if method in ("POST", "PUT", "PATCH") else None  # invalid JSON: no side effects
                    response = session.request(method, live_server.url + path.lstrip("/"), headers=headers,
                                               data=body, allow_redirects=False, timeout=30)
                    where = f"{method} {path}{' (upgrade)' if upgrade else ''}: {response.status_code}"
                    if response.status_code >= 400:
                        assert response.headers.get("Content-Type") == "application/json", where
                        if method != "HEAD":
                            assert set(response.json()) == {"message", "reason"}, where
                    elif response.content:
                        assert not response.headers.get("Content-Type", "").startswith("text/html"), where
                    checked += 1
    assert checked > 400


def test_an_upgrade_to_a_plain_url_is_a_json_400(live_server: LiveServer) -> None:
    response = live_server.request("GET", "api/status", headers=UPGRADE)
    assert response.status_code == 400
    assert response.json() == {"message": "/api/status is not a WebSocket endpoint", "reason": None}
    response = live_server.request("POST", "api/status", headers=UPGRADE)
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD"
    assert live_server.request("GET", "api/no/such", headers=UPGRADE).json()["message"] == (
        "No API endpoint at /api/no/such")


def test_redirects_have_no_body(live_server: LiveServer) -> None:
    """jupyter_server's trailing-slash redirects are empty (text/html, Content-Length 0)."""
    response = live_server.request("GET", "api/", allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"] == "/api"
    assert response.content == b""


def test_any_unrouted_api_get_with_a_trailing_slash_redirects_without_it(live_server: LiveServer) -> None:
    """As jupyter_server's TrailingSlashHandler: every GET that no route takes and that ends
    with a slash goes to the same URL without it, query kept (checked side by side with
    jupyter_server 2.21.1: `/api/kernels/`, `/api/terminals/?a=1`, `/api/foo/` all 302)."""
    for url, location in (("api/kernels/", "/api/kernels"), ("api/terminals/?a=1&b=2", "/api/terminals?a=1&b=2"),
                          ("api/nbconvert/", "/api/nbconvert"), ("api/no/such/", "/api/no/such")):
        response = live_server.request("GET", url, allow_redirects=False)
        assert (response.status_code, response.headers.get("Location"), response.content) == (302, location, b"")
    assert live_server.request("POST", "api/kernels/", allow_redirects=False).status_code == 404
