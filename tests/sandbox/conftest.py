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
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ..support import logs
from ..support.env import isolated_env
from ..support.kernel_client import KernelClient, of_type, stdout_of
from ..support.kernels import add_kernelspec, kernel_processes
from ..support.waiting import wait_for

HOST_APP = Path(__file__).with_name("host_app.py")
#: Secrets in the host site's own environment.
SECRETS = {"SECRET_KEY": "host-secret-key-5f1d", "HOST_DB_PASSWORD": "db-password-93ab"}
USERS = ("alice", "bob")


class SandboxSite:
    """``python host_app.py`` with its own Jupyter directories, root, user root and shared folder."""

    def __init__(self, base: Path, **settings: str) -> None:
        self.base = base
        self.jupyter = isolated_env(base)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        add_kernelspec(base / "data", "python3", argv)
        # A kernelspec that names the unconfined local provisioner.
        add_kernelspec(base / "data", "unconfined", argv,
                       metadata={"kernel_provisioner": {"provisioner_name": "flask-notebook-local"}})
        self.root = base / "root"
        self.root.mkdir()
        self.shared = base / "shared"
        self.shared.mkdir()
        (self.shared / "table.csv").write_text("a,b\n1,2\n")
        env = {key: value for key, value in os.environ.items() if not key.startswith("NOTEBOOK_")}
        env.update(self.jupyter, **SECRETS, PORT="0", NOTEBOOK_ROOT_DIR=str(self.root),
                   NOTEBOOK_USER_ROOT=str(base / "users" / "{username}"),
                   NOTEBOOK_SHARED_DIRS=json.dumps({"course": str(self.shared)}),
                   NOTEBOOK_KERNEL_ENV=json.dumps({"COURSE_NAME": "cs101"}))
        env.update(settings)
        self.log_path = base / "site.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, str(HOST_APP)], stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env, cwd=base)
        logs.started(self)
        try:
            match = wait_for(self._ready, timeout=30)
        except AssertionError:
            self.stop()
            raise
        self.url = match.group(1) + "notebook/"
        self.port = int(match.group(2))
        self.clients: list[KernelClient] = []

    def _ready(self) -> re.Match[str] | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"the site exited with {self.proc.returncode}:\n{self.log()}")
        return re.search(r"Serving on (http://127\.0\.0\.1:(\d+)/)", self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_title(self) -> str:
        return f"sandbox site log ({self.log_path})"

    @property
    def runtime_dir(self) -> Path:
        return Path(self.jupyter["JUPYTER_RUNTIME_DIR"])

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
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        logs.stopped(self)
        return self.proc.returncode


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


def stop_and_check(site: SandboxSite) -> None:
    assert site.stop() == 0, site.log()
    wait_for(lambda: not kernel_processes(site.runtime_dir), timeout=15)


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
