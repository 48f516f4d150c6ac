"""Kernel tests run against a real server process with real ipykernel kernels.

Most tests share one server per module (a server starts in about a second); each test
starts and shuts down its own kernels.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import TOKEN, LiveServer, isolated_env, wait_for
from ..kernel_client import V1, KernelClient


def kernel_processes(runtime_dir: Path) -> list[int]:
    """Pids of live processes started with a connection file in `runtime_dir`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(runtime_dir) in cmdline and state != "Z":
            pids.append(int(entry))
    return pids


def add_kernelspec(data_dir: Path, name: str, argv: list[str], **extra: Any) -> None:
    spec_dir = data_dir / "kernels" / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": name, "language": "python",
                                                      **extra}))


def add_vanishing_kernelspec(base: Path) -> Path:
    """A kernelspec "vanishing" whose argv starts with a script in `base` that runs ipykernel:
    move or remove the script (the returned path) and the kernel can no longer be started."""
    program = base / "kernel-program"
    program.write_text(f"#!/bin/sh\nexec {sys.executable} -m ipykernel_launcher \"$@\"\n")
    program.chmod(0o755)
    add_kernelspec(base / "data", "vanishing", [str(program), "-f", "{connection_file}"])
    return program


class Server(LiveServer):
    """A live server with its own Jupyter directories, and helpers for kernels."""

    def __init__(self, base: Path, args: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.base = base
        self.jupyter = isolated_env(base)
        root = base / "root"
        root.mkdir(exist_ok=True)
        add_kernelspec(base / "data", "python3", [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                  "{connection_file}"])
        add_kernelspec(base / "data", "broken", ["/nonexistent/kernel-program", "-f", "{connection_file}"])
        self.clients: list[KernelClient] = []
        super().__init__(root, base / "server.log", args or [], {**os.environ, **self.jupyter, **(env or {})})

    def stop(self, sig: int | None = None) -> int:
        for client in self.clients:  # closed at teardown even when a test fails midway
            client.ws.shutdown()
        return super().stop(sig)

    @property
    def runtime_dir(self) -> Path:
        return Path(self.jupyter["JUPYTER_RUNTIME_DIR"])

    def json(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json() if response.content else None

    def start_kernel(self, **body: Any) -> str:
        return str(self.json("POST", "api/kernels", 201, json=body)["id"])

    def connect(self, kernel_id: str, protocol: str | None = V1, **kwargs: Any) -> KernelClient:
        client = KernelClient(self.url, kernel_id, TOKEN, protocol=protocol, **kwargs)
        self.clients.append(client)
        return client

    def client(self, kernel_id: str, protocol: str | None = V1, **kwargs: Any) -> KernelClient:
        """A connected client whose kernel has answered kernel_info."""
        client = self.connect(kernel_id, protocol, **kwargs)
        client.wait_ready()
        return client

    def kernel(self, kernel_id: str) -> dict[str, Any]:
        return self.json("GET", f"api/kernels/{kernel_id}", 200)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("server"))
    yield srv
    srv.stop()
    wait_for(lambda: not kernel_processes(srv.runtime_dir), timeout=10)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Servers with their own configuration, for one test."""
    servers: list[Server] = []

    def make(*args: str, env: dict[str, str] | None = None) -> Server:
        srv = Server(tmp_path / f"s{len(servers)}", list(args), env)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture
def kernel_id(server: Server) -> Iterator[str]:
    kid = server.start_kernel()
    yield kid
    server.request("DELETE", f"api/kernels/{kid}")
    for client in server.clients:
        client.ws.shutdown()
    server.clients.clear()
