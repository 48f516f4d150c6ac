"""Descriptor pressure never kills a healthy kernel (issue 17, section 1).

Servers here run with a low open-file limit (256, soft and hard alike, so that the server's
raise to the hard limit leaves it there). With that limit, 300 idle connections or 300
WebSockets used to take every descriptor: connections then hung in the listening backlog
and the restarter, unable to restart a kernel that died meanwhile, declared it dead and
removed it. jupyter_server 2.21.1 under the same limit (checked live): it too stops
answering new connections while they are exhausted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websocket

from ..support.env import TOKEN
from ..support.kernel_client import KernelClient, stdout_of
from ..support.kernels import add_kernelspec, kernel_processes
from ..support.server import Server
from ..support.waiting import wait_for

pytestmark = pytest.mark.live

#: Runs the command in argv[2:] with RLIMIT_NOFILE set to argv[1], "SOFT:HARD".
_LIMITED = ("import os, resource, sys; soft, hard = map(int, sys.argv[1].split(':')); "
            "resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)); os.execv(sys.argv[2], sys.argv[2:])")


class LimitedServer(Server):
    """A server started with an open-file limit of `soft`:`hard`."""

    def __init__(self, base: Path, soft: int, hard: int, env: dict[str, str] | None = None) -> None:
        self.nofile = (soft, hard)
        super().__init__(base, [], env)

    def command(self, root: Path, args: list[str]) -> list[str]:
        soft, hard = self.nofile
        return [sys.executable, "-c", _LIMITED, f"{soft}:{hard}", *super().command(root, args)]

    def descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[list[LimitedServer]]:
    servers: list[LimitedServer] = []
    yield servers
    for srv in servers:
        srv.stop()


def start(servers: list[LimitedServer], base: Path, env: dict[str, str] | None = None) -> LimitedServer:
    srv = LimitedServer(base, 256, 256, env)
    servers.append(srv)
    return srv


def open_idle(srv: LimitedServer, n: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(n)]


def exhaust(srv: LimitedServer) -> list[socket.socket]:
    """Idle connections, one at a time, until the server runs out of descriptors (with a
    connection limit above what they allow): it holds them all, and none waits in its
    backlog but the last, which the server answers with its spare descriptor."""
    socks: list[socket.socket] = []

    def exhausted() -> bool:
        return "out of file descriptors" in srv.log()

    while not exhausted():
        assert len(socks) < 300, f"the server holds {srv.descriptors()} descriptors"
        held = srv.descriptors()
        socks.append(socket.create_connection(("127.0.0.1", srv.port)))
        try:  # until the server has taken it
            wait_for(lambda: srv.descriptors() > held or exhausted(), timeout=1)
        except AssertionError:  # or one of its own closed meanwhile (a relay reconnecting, say)
            pass
    return socks


def test_idle_connections_past_the_descriptor_limit_leave_the_kernel_and_the_server_alone(
        limited: list[LimitedServer], tmp_path: Path) -> None:
    """300 idle TCP connections: the kernel keeps its state, and the server keeps answering
    (an idle connection is closed to make room for a new one) within its descriptors."""
    srv = start(limited, tmp_path / "s")
    kid = srv.start_kernel()
    client = srv.client(kid)
    client.run("x = 42")
    socks = open_idle(srv, 300)
    try:
        status = srv.request("GET", "api/status", timeout=10)  # was: no answer at all
        assert status.status_code == 200
        assert srv.descriptors() < 200
        assert stdout_of(client.run("print(x)")) == "42\n"
        assert srv.kernel(kid)["execution_state"] == "idle"
    finally:
        for sock in socks:
            sock.close()
    again = srv.connect(kid)
    again.wait_ready()
    assert stdout_of(again.run("print(x)")) == "42\n"
    assert "Traceback" not in srv.log().replace("[IPKernelApp]", "")


def test_websockets_past_the_connection_limit_get_503_and_leave_the_kernel_alone(
        limited: list[LimitedServer], tmp_path: Path) -> None:
    """Kernel WebSockets hold their connections (they are never timed out); past the limit
    derived from 256 descriptors (96), a new one waits for a slot (as long as the idle
    timeout, here 1 s), then is answered 503 with a JSON body."""
    srv = start(limited, tmp_path / "s", {"NOTEBOOK_HTTP_IDLE_TIMEOUT": "1"})
    kid = srv.start_kernel()
    client = srv.client(kid)
    client.run("x = 42")
    opened: list[KernelClient] = []
    try:
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            for _ in range(300):  # was: a handshake that never came, once descriptors ran out
                opened.append(KernelClient(srv.url, kid, TOKEN, timeout=10))
        assert refused.value.status_code == 503
        assert json.loads(refused.value.resp_body or b"") == {
            "message": "The server has too many open connections (NOTEBOOK_MAX_CONNECTIONS=96); try again shortly",
            "reason": "too many connections"}
        assert 90 <= len(opened) <= 95  # the first client holds a slot, maybe a closing request too
        assert srv.descriptors() < 200
        assert stdout_of(client.run("print(x)")) == "42\n"
        assert stdout_of(opened[-1].run("print(x)")) == "42\n"
    finally:
        for ws in opened:
            ws.ws.shutdown()
    # Their slots come back as they close.
    wait_for(lambda: srv.request("GET", "api/status", timeout=10).json()["connections"] == 1, timeout=10)
    again = srv.connect(kid)
    again.wait_ready()
    assert stdout_of(again.run("print(x)")) == "42\n"


def test_a_kernel_that_dies_while_descriptors_are_exhausted_is_restarted_once_they_free_up(
        limited: list[LimitedServer], tmp_path: Path) -> None:
    """Never taken for a dead kernel (it was: the restarter's poll failed with EMFILE, and the
    kernel was removed, its clients told it was dead): restarted, at once or with backoff. A connection limit set too
    high lets idle connections take every descriptor here. The kernel is a process that
    only sleeps: an ipykernel's death frees its ZMQ connections' descriptors, which a
    restart could then take or not."""
    srv = start(limited, tmp_path / "s", {"NOTEBOOK_MAX_CONNECTIONS": "1000", "NOTEBOOK_HTTP_IDLE_TIMEOUT": "120"})
    add_kernelspec(srv.base / "data", "sleeper", [sys.executable, "-c", "import time; time.sleep(600)",
                                                  "{connection_file}"])
    kid = srv.start_kernel(name="sleeper")
    [pid] = kernel_processes(srv.runtime_dir)
    socks = exhaust(srv)
    try:
        os.kill(pid, signal.SIGKILL)
        # The restart happens at once when it needs no new descriptor in the server (the
        # kernel's ports stay held, the process starts by posix_spawn), or is retried with
        # backoff ("trying again": tests/kernels/test_autorestart_failures.py) until
        # descriptors free up. Either way the kernel is never taken for dead.
        wait_for(lambda: kernel_processes(srv.runtime_dir) not in ([], [pid])
                 or "trying again" in srv.log() or "is dead" in srv.log(), timeout=30)
        assert "is dead" not in srv.log()
        assert srv.descriptors() > 250
    finally:
        for sock in socks:
            sock.close()
    wait_for(lambda: kernel_processes(srv.runtime_dir) not in ([], [pid]), timeout=60)
    # (was 404: declared dead, removed); `restarting` until the new process is launched
    model = wait_for(lambda: (m := srv.kernel(kid))["execution_state"] == "starting" and m, timeout=30)
    assert "SIGKILL" in model["reason"]
    assert "is dead" not in srv.log()


def test_requests_while_descriptors_are_exhausted_get_503_and_the_server_recovers(
        limited: list[LimitedServer], tmp_path: Path) -> None:
    """A new connection is answered 503 with a spare descriptor (it was left in the backlog),
    a request on an open one that cannot open a file gets a JSON 503 (it was a 500); once
    descriptors are free the server answers as before."""
    srv = start(limited, tmp_path / "s", {"NOTEBOOK_MAX_CONNECTIONS": "1000", "NOTEBOOK_HTTP_IDLE_TIMEOUT": "120"})
    (srv.root / "a.txt").write_text("hello")
    session = requests.Session()
    session.headers["Authorization"] = f"token {TOKEN}"
    assert session.get(srv.url + "api/contents/a.txt", timeout=10).status_code == 200
    socks = exhaust(srv)
    try:
        kept = session.get(srv.url + "api/contents/a.txt", timeout=10)
        assert kept.status_code == 503, kept.text
        assert kept.json() == {"message": "The server has run out of file descriptors; try again shortly",
                               "reason": "too many open files"}
        fresh = requests.get(srv.url + "api/status", headers={"Authorization": f"token {TOKEN}"}, timeout=10)
        assert fresh.status_code == 503
        assert fresh.json() == {"message": "The server has run out of file descriptors (open file limit 256); "
                                           "try again shortly", "reason": "too many open files"}
        assert fresh.headers["Retry-After"] == "1"
    finally:
        for sock in socks:
            sock.close()
    wait_for(lambda: requests.get(srv.url + "api/contents/a.txt", headers={"Authorization": f"token {TOKEN}"},
                                  timeout=10).status_code == 200, timeout=15)
    assert "out of file descriptors" in srv.log() and "available again" in srv.log()
    session.close()
