"""`POST /api/kernels/<id>/restart`: what a restart keeps, and what it must not hold up."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from ..support.kernel_client import KernelClient, of_type
from ..support.kernels import add_kernelspec, add_vanishing_kernelspec, kernel_processes
from ..support.responses import assert_json_error
from ..support.server import Server
from ..support.waiting import wait_for

#: An ipykernel that takes seconds to exit once asked to (an atexit hook; a big ``__del__``
#: does the same). jupyter_client's restart waits for it: half of ``shutdown_wait_time``
#: (5 s), then SIGTERM.
SLOW_EXIT = ("import atexit, time\n"
             "atexit.register(time.sleep, 30)\n"
             "from ipykernel.kernelapp import launch_new_instance\n"
             "launch_new_instance()\n")
#: One that also ignores SIGTERM: a restart waits all of ``shutdown_wait_time`` for it (the
#: other half after SIGTERM), then kills it.
NO_EXIT = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + SLOW_EXIT


def pid_of(client: KernelClient) -> int:
    out = client.run("import os\nprint(os.getpid())", timeout=60)
    return int("".join(m["content"]["text"] for m in of_type(out, "stream")))


def running(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_restart_waiting_for_a_slow_kernel_holds_up_no_other_kernel(make_server: Callable[..., Server]) -> None:
    """Before the fix, the other kernel's interrupt waited until jupyter_client, holding the
    lifecycle lock, had waited all of shutdown_wait_time and killed the old process (about 5 s
    here; 2.54 s when the old process still died of SIGTERM)."""
    srv = make_server()
    add_kernelspec(srv.base / "data", "noexit", [sys.executable, "-c", NO_EXIT, "-f", "{connection_file}"])
    slow = srv.start_kernel(name="noexit")
    other = srv.start_kernel()
    watcher = srv.client(slow)
    srv.client(other)
    connection_file = srv.runtime_dir / f"kernel-{slow}.json"
    ports_before = json.loads(connection_file.read_text())
    old_pid = pid_of(watcher)

    restart: dict[str, Any] = {}

    def post_restart() -> None:
        started = time.monotonic()
        restart["response"] = srv.request("POST", f"api/kernels/{slow}/restart", timeout=60)
        restart["took"] = time.monotonic() - started

    thread = threading.Thread(target=post_restart)
    thread.start()
    try:
        # The old kernel has answered the shutdown request: it is in its atexit hook now,
        # and the restart waits for it to exit, for 5 s.
        reply = watcher.until(lambda m: m["msg_type"] == "shutdown_reply", timeout=30)[-1]
        assert reply["content"]["restart"] is True
        started = time.monotonic()
        assert srv.request("POST", f"api/kernels/{other}/interrupt").status_code == 204
        interrupt_took = time.monotonic() - started
        started = time.monotonic()
        third = srv.start_kernel()
        start_took = time.monotonic() - started
        old_running = running(old_pid)
        assert thread.is_alive(), "the restart no longer waited for the old process: the test proves nothing"
    finally:
        thread.join(timeout=60)
    assert old_running, (f"the interrupt ({interrupt_took:.2f} s) and the start ({start_took:.2f} s) "
                         "returned only once the old process was gone")
    assert interrupt_took < 3, f"another kernel's interrupt took {interrupt_took:.2f} s during the restart"
    assert start_took < 3, f"a new kernel's start took {start_took:.2f} s during the restart"
    assert restart["response"].status_code == 200, restart["response"].text
    assert restart["took"] > 4.5, restart["took"]
    assert restart["response"].json()["id"] == slow

    # Same kernel, same ports and key; the same WebSocket works on the new process.
    assert json.loads(connection_file.read_text()) == ports_before
    new_pid = pid_of(watcher)
    assert new_pid != old_pid
    srv.json("DELETE", f"api/kernels/{third}", 204)

    # Autorestart still watches the kernel after a REST restart.
    os.kill(new_pid, signal.SIGKILL)
    restarting = watcher.until(lambda m: m["msg_type"] == "status"
                               and m["content"]["execution_state"] == "restarting", timeout=30)[-1]
    assert "SIGKILL" in restarting["content"]["reason"]
    assert pid_of(watcher) not in (old_pid, new_pid)


def test_a_restart_that_cannot_start_the_kernel_is_a_500(make_server: Callable[..., Server]) -> None:
    srv = make_server()
    program = add_vanishing_kernelspec(srv.base)
    kid = srv.start_kernel(name="vanishing")
    watcher = srv.client(kid)
    program.unlink()  # the restart's new process cannot be started
    body = assert_json_error(srv.request("POST", f"api/kernels/{kid}/restart"), 500, "Exception restarting kernel")
    assert "kernel-program" in str(body["reason"])
    # Its old process is gone and no new one came: not left listed as alive, but removed,
    # and its clients told it is dead (and why).
    dead = watcher.until(lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "dead")[-1]
    assert "could not be restarted" in dead["content"]["reason"]
    assert srv.request("GET", f"api/kernels/{kid}").status_code == 404
    assert not list(srv.runtime_dir.glob("kernel-*.json"))


def test_a_kernel_shut_down_during_its_restart_is_not_started_again(make_server: Callable[..., Server]) -> None:
    srv = make_server()
    add_kernelspec(srv.base / "data", "slowexit", [sys.executable, "-c", SLOW_EXIT, "-f", "{connection_file}"])
    kid = srv.start_kernel(name="slowexit")
    watcher = srv.client(kid)
    responses: list[requests.Response] = []
    thread = threading.Thread(target=lambda: responses.append(
        srv.request("POST", f"api/kernels/{kid}/restart", timeout=60)))
    thread.start()
    try:
        watcher.until(lambda m: m["msg_type"] == "shutdown_reply", timeout=30)
        srv.json("DELETE", f"api/kernels/{kid}", 204)
    finally:
        thread.join(timeout=60)
    assert_json_error(responses[0], 404, "shut down during its restart")
    assert srv.request("GET", f"api/kernels/{kid}").status_code == 404
    assert not list(srv.runtime_dir.glob("kernel-*.json"))
    wait_for(lambda: not kernel_processes(srv.runtime_dir), timeout=10)
