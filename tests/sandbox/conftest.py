"""Sandboxed kernels behind a real host site with two users (``host_app.py``).

Fixtures
--------
``site`` (module scope)
    The host site in a subprocess with NOTEBOOK_USER_ROOT (so kernels are sandboxed by
    bubblewrap, the default), a shared folder ``course`` and NOTEBOOK_KERNEL_ENV; its own
    environment holds secrets. Teardown stops it and checks no kernel process is left.
``start_site`` (function scope)
    More sites, with more ``NOTEBOOK_*`` settings (``start_site(NOTEBOOK_KERNEL_NETWORK="false")``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ..support.kernel_client import KernelClient, of_type, stdout_of
from ..support.kernels import add_kernelspec, kernel_processes
from ..support.process import PYTHON_KERNEL, SiteProcess, site_env, stop_and_check
from ..support.waiting import wait_for

HOST_APP = Path(__file__).with_name("host_app.py")
#: Secrets in the host site's own environment.
SECRETS = {"SECRET_KEY": "host-secret-key-5f1d", "HOST_DB_PASSWORD": "db-password-93ab"}
USERS = ("alice", "bob")


class SandboxSite(SiteProcess):
    """``python host_app.py`` with its own Jupyter directories, root, user root and shared folder."""

    def __init__(self, base: Path, **settings: str) -> None:
        self.base = base
        self.root = base / "root"
        self.clients: list[KernelClient] = []
        env = site_env(base)
        # A kernelspec that names the unconfined local provisioner.
        add_kernelspec(base / "data", "unconfined", PYTHON_KERNEL,
                       metadata={"kernel_provisioner": {"provisioner_name": "flask-notebook-local"}})
        self.shared = base / "shared"
        self.shared.mkdir()
        (self.shared / "table.csv").write_text("a,b\n1,2\n")
        env.update(**SECRETS, PORT="0", NOTEBOOK_USER_ROOT=str(base / "users" / "{username}"),
                   NOTEBOOK_SHARED_DIRS=json.dumps({"course": str(self.shared)}),
                   NOTEBOOK_KERNEL_ENV=json.dumps({"COURSE_NAME": "cs101"}))
        env.update(settings)
        super().__init__([sys.executable, str(HOST_APP)], env, base, base / "site.log",
                         ready=r"Serving on (http://127\.0\.0\.1:(\d+)/)", title="sandbox site")
        self.url = self.ready.group(1) + "notebook/"
        self.port = int(self.ready.group(2))

    def workspace(self, user: str) -> Path:
        return self.base / "users" / user

    def api(self, user: str, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = requests.request(method, self.url + "api/" + path, timeout=30,
                                    headers={"Authorization": f"token {user}-pass"}, **kwargs)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json() if response.content else None

    def start_kernel(self, user: str) -> str:
        return str(self.api(user, "POST", "kernels", 201, json={})["id"])

    def client(self, user: str, kernel_id: str) -> KernelClient:
        """A WebSocket to the kernel, as `user`, once the kernel has answered kernel_info."""
        client = KernelClient(self.url, kernel_id, f"{user}-pass")
        self.clients.append(client)
        client.wait_ready()
        return client

    def stop(self) -> int:
        for client in self.clients:
            client.ws.shutdown()
        return super().stop()


def run(client: KernelClient, code: str, timeout: float = 30) -> tuple[str, str | None]:
    """Run `code`: its stdout, and the name of the exception it raised (None if none)."""
    messages = client.run(code, timeout)
    errors = of_type(messages, "error")
    return stdout_of(messages), errors[0]["content"]["ename"] if errors else None


def kernel_pid(site: SandboxSite, kernel_id: str) -> int:
    """The kernel's own process (not bwrap's), as the server's PID namespace sees it."""
    def find() -> int | None:
        for pid in kernel_processes(site.runtime_dir):
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if kernel_id.encode() in b" ".join(argv) and b"ipykernel_launcher" in argv and b"bwrap" not in argv[0]:
                return pid
        return None

    return int(wait_for(find, timeout=15))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxSite]:
    srv = SandboxSite(tmp_path_factory.mktemp("sandbox"))
    yield srv
    stop_and_check(srv)


@pytest.fixture
def start_site(tmp_path: Path) -> Iterator[Callable[..., SandboxSite]]:
    sites: list[SandboxSite] = []

    def start(**settings: str) -> SandboxSite:
        srv = SandboxSite(tmp_path / f"site-{len(sites)}", **settings)
        sites.append(srv)
        return srv

    yield start
    for srv in sites:
        stop_and_check(srv)


@pytest.fixture
def alice_kernel(site: SandboxSite) -> Iterator[tuple[str, KernelClient]]:
    """A kernel of alice's and a WebSocket to it; shut down after the test."""
    kernel_id = site.start_kernel("alice")
    client = site.client("alice", kernel_id)
    yield kernel_id, client
    client.close()
    requests.delete(site.url + f"api/kernels/{kernel_id}", headers={"Authorization": "token alice-pass"}, timeout=30)
