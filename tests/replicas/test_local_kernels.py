"""Replicas without a gateway: two servers on one root, one host and one PostgreSQL database
each keep their own local kernels. A replica starting does not re-attach, stop or list
another's (NOTEBOOK_REPLICA_ID in the kernel records), even with persistence off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import os
import signal

import pytest

from ..support.kernel_client import stdout_of
from ..support.kernels import kernel_processes
from ..support.server import Server
from ..support.waiting import wait_for


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """The servers a test starts; at teardown they are stopped, and the kernels they leave
    running (NOTEBOOK_PERSIST_KERNELS) killed, by pid."""
    made: list[Server] = []
    yield made
    for server in made:
        server.stop()

    def left() -> list[int]:
        return [pid for server in made for pid in kernel_processes(server.runtime_dir)]

    for pid in left():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: not left(), timeout=15)


def test_a_replica_leaves_another_s_local_kernels_alone(tmp_path: Path, postgres_url: str,
                                                        servers: list[Server]) -> None:
    root = tmp_path / "root"
    root.mkdir()

    def start(name: str, persist: str) -> Server:
        base = tmp_path / f"{name}-{len(servers)}"
        base.mkdir()
        server = Server(base, ["--root-dir", str(root)],
                        env={"NOTEBOOK_DATABASE_URL": postgres_url, "NOTEBOOK_REPLICA_ID": name,
                             "NOTEBOOK_PERSIST_KERNELS": persist})
        servers.append(server)
        return server

    a = start("a", "true")
    kernel_id = a.start_kernel(name="python3")
    client = a.client(kernel_id)
    assert stdout_of(client.run("x = 1\nprint(x)", timeout=20)) == "1\n"

    # b starts after a's kernel is recorded, with persistence off: a server of another name
    # neither stops nor re-attaches it (same host, same database, same root).
    b = start("b", "false")
    b.json("GET", "api/kernels", 200)  # waits for b's start-up pass
    assert kernel_id not in {k["id"] for k in b.json("GET", "api/kernels", 200)}  # not b's to serve
    assert b.request("GET", f"api/kernels/{kernel_id}").status_code == 404
    assert stdout_of(client.run("print(x + 1)", timeout=20)) == "2\n"  # still running, state kept
    b.stop()

    # a replica of a's name, after a: re-attaches it (its predecessor's).
    client.close()
    a.stop()
    again = start("a", "true")
    assert stdout_of(again.client(kernel_id).run("print(x + 2)", timeout=20)) == "3\n"
