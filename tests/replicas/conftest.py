"""Replicas: two real flask-notebook processes on one root, one real PostgreSQL database, one
real Enterprise Gateway, and Debian's nginx in front running deploy/replicas/nginx.conf.

``cluster`` starts them all for a test and stops every one at teardown, even when the test
fails (the gateway stops the kernels it started).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support.deploy import Nginx, free_port
from ..support.env import PROJECT
from ..support.gateway import Gateway
from ..support.server import Server

REPLICAS_CONF = PROJECT / "deploy" / "replicas" / "nginx.conf"


def render_replicas(ports: tuple[int, int], port: int, log_dir: Path) -> str:
    """deploy/replicas/nginx.conf with loopback ports and its log in `log_dir`. Every line
    rewritten must be there as shipped."""
    text = REPLICAS_CONF.read_text()

    def replace(old: str, new: str) -> None:
        nonlocal text
        assert text.count(old) == 1, f"deploy/replicas/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)

    replace("    server 127.0.0.1:8881 ", f"    server 127.0.0.1:{ports[0]} ")
    replace("    server 127.0.0.1:8882 ", f"    server 127.0.0.1:{ports[1]} ")
    replace("/var/log/nginx/flask-notebook.access.log", str(log_dir / "flask-notebook.access.log"))
    replace("    listen 80;", f"    listen 127.0.0.1:{port};")
    return text


class ReplicasNginx(Nginx):
    """nginx with deploy/replicas/nginx.conf, in front of two replicas."""

    def __init__(self, base: Path, ports: tuple[int, int]) -> None:
        self.ports = ports
        super().__init__(base, ports[0])

    def site(self, upstream_port: int, tls: tuple[Path, Path] | None) -> str:
        return render_replicas(self.ports, self.port, self.base)


class Cluster:
    """The gateway, the database URL, the shared root, replicas ``a`` and ``b`` and nginx."""

    def __init__(self, base: Path, gateway: Gateway, database_url: str, extra: dict[str, str] | None = None) -> None:
        self.base = base
        self.extra = extra or {}
        self.gateway = gateway
        self.database_url = database_url
        self.root = base / "shared-root"
        self.root.mkdir()
        self.replicas: dict[str, Server] = {}
        self.started: list[Server] = []
        self.nginx: ReplicasNginx | None = None

    def env(self, name: str, port: int) -> dict[str, str]:
        return {"NOTEBOOK_GATEWAY_URL": self.gateway.url, "NOTEBOOK_GATEWAY_TOKEN": self.gateway.token,
                "NOTEBOOK_DATABASE_URL": self.database_url, "NOTEBOOK_REPLICA_ID": name,
                "NOTEBOOK_REPLICA_URL": f"http://127.0.0.1:{port}",
                "NOTEBOOK_PERSIST_KERNELS": "true", "NOTEBOOK_TRUST_PROXY": "1", **self.extra}

    def start(self, name: str, port: int | None = None) -> Server:
        """Replica `name` on the shared root (on `port`: the one it had, after a restart)."""
        base = self.base / f"{name}-{len(self.started)}"
        base.mkdir()
        port = port or free_port()
        args = ["--root-dir", str(self.root), "--port", str(port)]
        server = Server(base, args, env=self.env(name, port))
        self.replicas[name] = server
        self.started.append(server)
        return server

    def front(self) -> ReplicasNginx:
        self.nginx = ReplicasNginx(self.base / "nginx", (self.replicas["a"].port, self.replicas["b"].port))
        return self.nginx

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for server in self.started:
            server.stop()


@pytest.fixture
def cluster_env() -> dict[str, str]:
    """More settings for both replicas (a test overrides it)."""
    return {}


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, cluster_env: dict[str, str]) -> Iterator[Cluster]:
    gateway = Gateway(tmp_path / "gateway")
    made = Cluster(tmp_path, gateway, postgres_url, cluster_env)
    try:
        made.start("a")
        made.start("b")
        made.front()
        yield made
    finally:
        made.stop()
        gateway.stop()
