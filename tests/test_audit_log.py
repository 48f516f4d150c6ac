"""The audit log of a real server (issue 19): users of a users file log in and act over
REST and the kernel WebSocket; each action is one JSON line with the right user, nothing
secret is in the file, and a clean stop (SIGTERM) loses no line."""

from __future__ import annotations

import base64
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from flask_notebook.core.userdb import UserDB

from .support.env import TOKEN
from .support.kernel_client import KernelClient
from .support.server import Server
from .support.waiting import wait_for

pytestmark = pytest.mark.live

PASSWORDS = {"alice": "alice-secret-pw-1", "bob": "bob-secret-pw-2"}
WRONG = "wrong-guess-pw-3"


def audit_server(make_server: Callable[..., Server], tmp_path: Path, code: str = "full") -> tuple[Server, Path]:
    users = tmp_path / "users.json"
    db = UserDB(str(users))
    db.add("alice", PASSWORDS["alice"], admin=True)
    db.add("bob", PASSWORDS["bob"])
    log = tmp_path / "audit.jsonl"
    server = make_server(env={"NOTEBOOK_USERS_FILE": str(users), "NOTEBOOK_AUDIT_LOG": str(log),
                              "NOTEBOOK_AUDIT_CODE": code})
    return server, log


class Browser:
    """A user's cookie session, as the login form leaves it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.session = requests.Session()

    def login(self, name: str, password: str) -> int:
        self.session.get(self.server.url + "login", timeout=30)
        response = self.session.post(self.server.url + "login", allow_redirects=False, timeout=30, data={
            "username": name, "password": password, "_xsrf": self.session.cookies["_xsrf"]})
        return response.status_code

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        headers = {"X-XSRFToken": self.session.cookies.get("_xsrf", "")}
        response = self.session.request(method, self.server.url + path, headers=headers, timeout=60, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response.json() if response.content and "json" in response.headers.get("Content-Type", "") else None

    def cookie_header(self) -> str:
        return "Cookie: " + "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)


def read(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_each_action_is_one_line_with_its_user_and_no_secret(make_server: Callable[..., Server],
                                                             tmp_path: Path) -> None:
    server, log = audit_server(make_server, tmp_path)
    bob, alice, stranger = Browser(server), Browser(server), Browser(server)
    assert bob.login("bob", WRONG) == 401
    assert bob.login(PASSWORDS["bob"], WRONG) == 401  # a password typed into the user name field
    assert bob.login("bob", PASSWORDS["bob"]) == 302
    assert alice.login("alice", PASSWORDS["alice"]) == 302

    # contents
    bob.call("PUT", "api/contents/b.txt", 201, json={"type": "file", "format": "text", "content": "hi"})
    bob.call("PUT", "api/contents/u.bin", 201,
             json={"type": "file", "format": "base64", "content": base64.b64encode(b"\0\1").decode()})
    copied = bob.call("POST", "api/contents/", 201, json={"copy_from": "b.txt"})
    folder = bob.call("POST", "api/contents/", 201, json={"type": "directory"})
    bob.call("PATCH", "api/contents/b.txt", 200, json={"path": "c.txt"})
    bob.call("DELETE", "api/contents/c.txt", 204)
    # kernels, over REST and the WebSocket
    kernel_id = bob.call("POST", "api/kernels", 201, json={"name": "python3"})["id"]
    bob.call("POST", f"api/kernels/{kernel_id}/interrupt", 204)
    bob.call("POST", f"api/kernels/{kernel_id}/restart", 200)
    record = bob.call("POST", f"api/kernels/{kernel_id}/execute", 200, json={"code": "1 + 1"})
    client = KernelClient(server.url, kernel_id, None, header=[bob.cookie_header()])
    try:
        client.wait_ready()
        client.run("40 + 2")
    finally:
        client.close()
    bob.call("DELETE", f"api/kernels/{kernel_id}", 204)
    # sessions and terminals
    session = bob.call("POST", "api/sessions", 201, json={"path": "n.ipynb", "type": "notebook",
                                                          "kernel": {"name": "python3"}})
    bob.call("DELETE", f"api/sessions/{session['id']}", 204)
    terminal = bob.call("POST", "api/terminals", 200)
    bob.call("DELETE", f"api/terminals/{terminal['name']}", 204)
    # denied
    bob.call("POST", "api/shutdown", 403)
    bob.call("GET", "api/kernels/00000000-0000-0000-0000-000000000000", 404)
    stranger.call("GET", "api/contents", 403)
    server.json("GET", f"api/contents?token={TOKEN}", 200)  # the token in a query: never in a line
    cookies = [c.value for b in (bob, alice) for c in b.session.cookies]
    bob.call("GET", "logout", 200)

    wait_for(lambda: any(line["action"] == "logout" for line in read(log)), timeout=10)  # written as we go
    assert server.stop(signal.SIGTERM) == 0
    lines = read(log)

    def one(action: str, **match: Any) -> dict[str, Any]:
        found = [line for line in lines if line["action"] == action
                 and all(line.get(key) == value for key, value in match.items())]
        assert len(found) == 1, (action, match, lines)
        return found[0]

    one("login", outcome="failed", status=401, name_tried="bob", user=None)
    one("login", outcome="failed", status=401, name_tried=None, user=None)  # not a user's name: not written
    one("login", outcome="ok", user="bob")
    one("login", outcome="ok", user="alice")
    one("contents.save", user="bob", path="b.txt", outcome="ok")
    one("contents.upload", user="bob", path="u.bin")
    one("contents.copy", user="bob", path=copied["path"], copy_from="b.txt")
    one("contents.mkdir", user="bob", path=folder["path"])
    one("contents.rename", user="bob", path="b.txt", new_path="c.txt")
    one("contents.delete", user="bob", path="c.txt", status=204)
    one("kernel.start", user="bob", resource=kernel_id, status=201)
    one("kernel.interrupt", user="bob", resource=kernel_id)
    one("kernel.restart", user="bob", resource=kernel_id)
    one("kernel.shutdown", user="bob", resource=kernel_id)
    one("execute", user="bob", via="rest", resource=kernel_id, execution=record["id"], code="1 + 1")
    one("execute", user="bob", via="websocket", resource=kernel_id, code="40 + 2")
    one("session.create", user="bob", resource=session["id"], path="n.ipynb")
    one("session.delete", user="bob", resource=session["id"])
    one("terminal.create", user="bob", resource=terminal["name"])
    one("terminal.delete", user="bob", resource=terminal["name"])
    one("server.shutdown", user="bob", outcome="denied", status=403)
    one("access", user="bob", outcome="denied", status=404,
        request="GET /api/kernels/00000000-0000-0000-0000-000000000000")
    one("access", user=None, outcome="denied", status=403, request="GET /api/contents")
    one("logout", user="bob")
    assert all(line["remote_addr"] == "127.0.0.1" and line["time"].endswith("Z") for line in lines)
    assert not any(line.get("server_user") for line in lines if line["user"] in ("alice", "bob"))

    text = log.read_text()
    for secret in [TOKEN, WRONG, *PASSWORDS.values(), *cookies]:
        assert secret not in text


def test_a_clean_stop_loses_no_line(make_server: Callable[..., Server], tmp_path: Path) -> None:
    server, log = audit_server(make_server, tmp_path, code="hash")
    saves = 200
    for i in range(saves):
        server.json("PUT", f"api/contents/f{i}.txt", 201, json={"type": "file", "format": "text", "content": "x"})
    assert server.stop(signal.SIGTERM) == 0
    lines = read(log)
    assert [line["path"] for line in lines] == [f"f{i}.txt" for i in range(saves)]
    assert all(line["server_user"] is True for line in lines)  # the token's: the server's own user
