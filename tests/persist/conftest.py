"""Kernels that outlive the server (NOTEBOOK_PERSIST_KERNELS): real servers, one after the
other on one site (same data directory, runtime directory and root), real kernels.

``site`` starts servers on the test's site; at teardown every server is stopped and every
kernel process left on the site is killed (by pid) and waited for.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..support.deploy import GunicornServer
from ..support.kernels import kernel_processes
from ..support.server import Server
from ..support.waiting import wait_for

PERSIST = {"NOTEBOOK_PERSIST_KERNELS": "true"}


class Site:
    """Servers started one after another on `base`, each with its own log."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.servers: list[Server] = []

    def start(self, env: dict[str, str] | None = None, *, gunicorn: bool = False) -> Server:
        log = self.base / "server.log"
        if log.exists():  # the previous server's, kept for the report
            log.rename(self.base / f"server-{len(self.servers)}.log")
        server = GunicornServer(self.base, env) if gunicorn else Server(self.base, [], env)
        self.servers.append(server)
        return server

    @property
    def runtime_dir(self) -> Path:
        return self.base / "runtime"

    def kernel_pids(self) -> list[int]:
        return kernel_processes(self.runtime_dir)

    def records(self, table: str) -> list[str]:
        """The ids in `table` of the site's SQLite store."""
        (path,) = (self.base / "data" / "flask_notebook" / "state").glob("*.sqlite")
        with sqlite3.connect(path) as db:
            return [row[0] for row in db.execute(f"SELECT id FROM {table}")]  # noqa: S608 (a constant)

    def cleanup(self) -> None:
        for server in self.servers:
            server.stop()
        for pid in self.kernel_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(lambda: not self.kernel_pids(), timeout=15)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    made = Site(tmp_path / "site")
    made.base.mkdir()
    try:
        yield made
    finally:
        made.cleanup()


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stdout(messages: list[dict[str, Any]]) -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")


Start = Callable[..., Server]
