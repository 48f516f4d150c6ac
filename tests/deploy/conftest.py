"""Deployment tests: gunicorn with gunicorn.conf.py, and Debian's nginx with deploy/nginx.conf,
as real processes on 127.0.0.1 in front of real kernels (tests/support/deploy.py).

A failing test's report carries the logs of every server and nginx it started (root conftest).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..support.deploy import GunicornServer, Nginx, issue_cert, tls_ca
from ..support.kernels import kernel_processes
from ..support.server import Server
from ..support.waiting import wait_for


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start notebook servers: ``backend("cli", "--trust-proxy")`` or ``backend("gunicorn",
    env={...}, token=None)``. Each is stopped at teardown, and its kernels must be gone then."""
    servers: list[Server] = []

    def start(kind: str, *args: str, env: dict[str, str] | None = None, **options: Any) -> Server:
        base = tmp_path / f"{kind}{len(servers)}"
        srv = GunicornServer(base, env, **options) if kind == "gunicorn" else Server(base, list(args), env)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()
    for srv in servers:
        wait_for(lambda: not kernel_processes(srv.runtime_dir), timeout=15)


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Callable[..., Nginx]]:
    """Start nginx in front of a server: ``nginx(server)``, or ``nginx(server, tls=True)``
    with a certificate for 127.0.0.1 from the test's own CA (``tls_ca``)."""
    proxies: list[Nginx] = []

    def start(server: Server, tls: bool = False) -> Nginx:
        base = tmp_path / f"nginx{len(proxies)}"
        proxy = Nginx(base, server.port, issue_cert(base) if tls else None)
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def ca_file(tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    tls_ca().cert_pem.write_to_path(str(path))
    return str(path)
