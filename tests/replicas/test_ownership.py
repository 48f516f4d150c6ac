"""Replicas with a users file: a user's gateway kernel is theirs on every replica. Another
user gets 404 from both, and it is not in their lists; the login cookie works on both
(the replicas share NOTEBOOK_SECRET_KEY)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

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
