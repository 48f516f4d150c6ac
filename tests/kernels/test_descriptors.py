"""Kernel operations leave no descriptors behind in the server.

jupyter_client's synchronous calls run an asyncio loop that jupyter_core keeps in a context
variable; every greenlet starts with an empty context, so each call from a new greenlet (a
request, the restarter, a shutdown) made a loop of its own and left it open with its two
socket descriptors: about two per interrupt, measured (32 -> 137 after 50 interrupts), which
a long-running server would run out of."""

from __future__ import annotations

import os

from ..support.server import Server
from ..support.waiting import wait_for


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_interrupts_restarts_and_kernels_leave_no_descriptors(server: Server) -> None:
    kid = server.start_kernel()
    server.client(kid).close()
    for _ in range(3):  # whatever is made once per process is made now
        assert server.request("POST", f"api/kernels/{kid}/interrupt").status_code == 204
    before = open_descriptors(server.proc.pid)
    for _ in range(50):
        assert server.request("POST", f"api/kernels/{kid}/interrupt").status_code == 204
    assert open_descriptors(server.proc.pid) - before <= 2  # (was about 100)
    server.json("POST", f"api/kernels/{kid}/restart", 200)
    for _ in range(3):
        other = server.start_kernel()
        assert server.request("DELETE", f"api/kernels/{other}").status_code == 204
    # A shut-down kernel's relay closes its sockets half a second later (its last words).
    wait_for(lambda: open_descriptors(server.proc.pid) - before <= 2, timeout=10)
    server.request("DELETE", f"api/kernels/{kid}")
