"""Replicas with a users file: a user's gateway kernel is theirs on every replica. Another
user gets 404 from both, and it is not in their lists; the login cookie works on both
(the replicas share NOTEBOOK_SECRET_KEY), also for what one replica forwards to the kernel's
holder, which checks it itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import websocket

from ..support.env import TOKEN
from ..support.kernel_client import KernelClient
from .conftest import Cluster

SECRET = "replicas-secret-key-0123456789abcdef"


@pytest.fixture
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.json"
    for name in ("alice", "bob"):
        added = subprocess.run([sys.executable, "-m", "flask_notebook", "user", "--users-file", str(path), "add",
                                name], input=f"{name}-pw\n", capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr
    return path


@pytest.fixture
def cluster_env(users_file: Path) -> dict[str, str]:
    return {"NOTEBOOK_USERS_FILE": str(users_file), "NOTEBOOK_SECRET_KEY": SECRET,
            "NOTEBOOK_KERNEL_SANDBOX": "none"}


class Member(requests.Session):
    """A user logged in through nginx (whichever replica answers)."""

    def __init__(self, url: str, name: str) -> None:
        super().__init__()
        self.url = url
        self.get(url + "login", timeout=30)
        answer = self.post(url + "login", data={"username": name, "password": f"{name}-pw",
                                                "_xsrf": self.cookies.get("_xsrf")}, allow_redirects=False, timeout=30)
        assert answer.status_code == 302, answer.text

    def api(self, method: str, path: str) -> requests.Response:
        return self.request(method, self.url + "api/" + path, headers={"X-XSRFToken": self.cookies.get("_xsrf") or ""},
                            timeout=60)


def test_a_user_s_kernel_is_theirs_on_every_replica(cluster: Cluster) -> None:
    assert cluster.nginx is not None
    alice, bob = Member(cluster.nginx.url, "alice"), Member(cluster.nginx.url, "bob")
    made = alice.api("POST", "kernels")
    assert made.status_code == 201, made.text
    kernel_id = made.json()["id"]
    for _ in range(4):  # round robin: each replica twice
        assert alice.api("GET", f"kernels/{kernel_id}").status_code == 200
        assert bob.api("GET", f"kernels/{kernel_id}").status_code == 404
        assert bob.api("POST", f"kernels/{kernel_id}/interrupt").status_code == 404
        assert kernel_id in {k["id"] for k in alice.api("GET", "kernels").json()}
        assert kernel_id not in {k["id"] for k in bob.api("GET", "kernels").json()}
    answered = {line.rsplit(" ", 1)[-1] for line in cluster.nginx.access_log.read_text().splitlines()
                if f"/api/kernels/{kernel_id}" in line}
    assert len(answered) == 2, answered  # both replicas were asked
    assert alice.api("DELETE", f"kernels/{kernel_id}").status_code == 204


def test_what_is_forwarded_to_the_holder_is_checked_there(cluster: Cluster) -> None:
    """Alice's cookie (and its XSRF token) reach the kernel's holder through the other replica;
    the holder's refusal of a WebSocket (a session id another user holds there) comes back as
    it gave it."""
    assert cluster.nginx is not None
    alice = Member(cluster.nginx.url, "alice")
    made = alice.api("POST", "kernels")
    assert made.status_code == 201, made.text
    kernel_id = made.json()["id"]
    held = {name: server.json("GET", "api/status", 200)["kernels"] for name, server in cluster.replicas.items()}
    (other,) = [name for name, count in held.items() if count == 0]
    (holder,) = [name for name in held if name != other]
    elsewhere = cluster.replicas[other]
    # A cookie-authenticated POST (XSRF checked by the holder too), straight to the replica that
    # forwards it, as nginx would send it (her cookies are for nginx's host and path).
    front = urlsplit(cluster.nginx.url).netloc
    cookie = "; ".join(f"{name}={value}" for name, value in alice.cookies.items())
    browser = {"Host": front, "Cookie": cookie}
    interrupt = elsewhere.url + f"api/kernels/{kernel_id}/interrupt"
    answer = requests.post(interrupt, headers={**browser, "X-XSRFToken": alice.cookies.get("_xsrf") or ""}, timeout=30)
    assert answer.status_code == 204, answer.text
    assert requests.post(interrupt, headers=browser, timeout=30).status_code == 403

    # The server's own user holds a session id on the holder; alice asks for it through the other.
    taken = KernelClient(cluster.replicas[holder].url, kernel_id, TOKEN)
    try:
        taken.wait_ready()
        url = elsewhere.url.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels?session_id={taken.session_id}"
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(url, cookie=cookie, host=front, origin=f"http://{front}", timeout=30)
        assert refused.value.status_code == 409
        assert b"This session_id is in use by another user" in (refused.value.resp_body or b"")
        # With a session of her own, she is served (through the pipe to the holder).
        mine = websocket.create_connection(url.split("?")[0] + "?session_id=alices", cookie=cookie, host=front,
                                           origin=f"http://{front}", timeout=30)
        mine.close()
    finally:
        taken.close()
    assert alice.api("DELETE", f"kernels/{kernel_id}").status_code == 204
