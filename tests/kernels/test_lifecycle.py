"""Autorestart with its cause, death, culling, the kernel limit, and a clean server exit."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import datetime

import pytest

from ..support.kernel_client import of_type
from ..support.kernels import add_kernelspec, kernel_processes
from ..support.responses import assert_json_error
from ..support.server import Server
from ..support.waiting import wait_for


def test_sigkill_restarts_the_kernel_and_says_why(server: Server, kernel_id: str) -> None:
    client = server.client(kernel_id)
    out = client.run("import os\nprint(os.getpid())")
    pid = int("".join(m["content"]["text"] for m in of_type(out, "stream")))
    os.kill(pid, signal.SIGKILL)
    restarting = client.until(lambda m: m["msg_type"] == "status"
                              and m["content"]["execution_state"] == "restarting", timeout=30)[-1]
    assert "SIGKILL" in restarting["content"]["reason"] and "memory" in restarting["content"]["reason"]
    assert restarting["parent_header"] == {} and restarting["header"]["session"] == client.session_id
    assert {"msg_id", "msg_type", "username", "session", "date", "version"} <= set(restarting["header"])
    model = server.kernel(kernel_id)
    assert "SIGKILL" in model["reason"]
    # The same socket works again, on a new process.
    client.wait_ready()
    out = client.run("import os\nprint(os.getpid())", timeout=60)
    assert int("".join(m["content"]["text"] for m in of_type(out, "stream"))) != pid
    client.close()


def test_a_kernel_that_keeps_dying_is_declared_dead(make_server: Callable[..., Server]) -> None:
    srv = make_server()
    add_kernelspec(srv.base / "data", "crashy", [sys.executable, "-c", "import sys; sys.exit(3)",
                                                 "{connection_file}"])
    kid = srv.start_kernel(name="crashy")
    wait_for(lambda: srv.request("GET", f"api/kernels/{kid}").status_code == 404, timeout=60)
    log = srv.log()
    assert "is dead" in log and "exited with code 3" in log
    wait_for(lambda: not kernel_processes(srv.runtime_dir), timeout=10)
    assert not list(srv.runtime_dir.glob("kernel-*.json"))
    assert srv.json("GET", "api/status", 200)["kernels"] == 0


def test_kernel_limit(make_server: Callable[..., Server]) -> None:
    srv = make_server(env={"NOTEBOOK_MAX_KERNELS": "1"})
    kid = srv.start_kernel()
    body = assert_json_error(srv.request("POST", "api/kernels", json={}), 403, "maximum number of kernels (1)")
    assert body["reason"] == "kernel limit reached"
    limited = srv.request("POST", "api/sessions", json={"path": "x.ipynb", "type": "notebook"})
    assert_json_error(limited, 403, "maximum number of kernels")
    srv.json("DELETE", f"api/kernels/{kid}", 204)
    srv.start_kernel()  # room again


def test_culling(make_server: Callable[..., Server]) -> None:
    srv = make_server(env={"NOTEBOOK_CULL_IDLE_TIMEOUT": "4", "NOTEBOOK_CULL_INTERVAL": "1"})
    # Each kernel that must survive is connected at once: on a loaded machine a kernel can
    # take longer than the idle timeout to answer, and it would be culled before it got busy.
    connected = srv.start_kernel()
    keep = srv.connect(connected)
    busy = srv.start_kernel()
    runner = srv.connect(busy)
    idle = srv.start_kernel()
    keep.wait_ready()
    runner.wait_ready()
    runner.execute("import time\ntime.sleep(30)")
    wait_for(lambda: srv.kernel(busy)["execution_state"] == "busy", timeout=30)
    wait_for(lambda: srv.request("GET", f"api/kernels/{idle}").status_code == 404, timeout=30)
    # The point of this wait is that nothing happens: two more culling rounds (1 s apart) after
    # both kernels have been inactive for longer than the idle timeout (4 s), as the idle one was.
    inactive_since = max(datetime.fromisoformat(srv.kernel(kid)["last_activity"]).timestamp()
                         for kid in (connected, busy))
    time.sleep(max(0.0, inactive_since + 4 + 2 - time.time()))
    assert srv.request("GET", f"api/kernels/{connected}").status_code == 200  # cull_connected is off
    assert srv.request("GET", f"api/kernels/{busy}").status_code == 200  # cull_busy is off
    assert f"culling kernel {idle}" in srv.log() and "idle for" in srv.log()
    keep.close()
    wait_for(lambda: srv.request("GET", f"api/kernels/{connected}").status_code == 404, timeout=30)
    runner.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_server_exit_leaves_no_kernel_behind(make_server: Callable[..., Server], sig: int) -> None:
    srv = make_server()
    # A failed start first: jupyter_server then hangs on exit (contract section 13.11).
    assert srv.request("POST", "api/kernels", json={"name": "broken"}).status_code == 500
    ids = [srv.start_kernel() for _ in range(3)]
    stubborn = srv.client(ids[0])
    # A kernel that ignores SIGINT and is busy: it must still be gone.
    stubborn.execute("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                     "print('ignoring SIGINT', flush=True)\ntime.sleep(60)")
    stubborn.until(lambda m: m["msg_type"] == "stream" and "ignoring SIGINT" in m["content"]["text"])
    for kid in ids[1:]:
        srv.client(kid)  # open sockets too
    assert len(kernel_processes(srv.runtime_dir)) == 3
    started = time.monotonic()
    srv.proc.send_signal(sig)
    srv.proc.wait(timeout=10)
    assert time.monotonic() - started < 5, "the server took 5 s or more to exit"
    wait_for(lambda: not kernel_processes(srv.runtime_dir), timeout=5)
    assert not list(srv.runtime_dir.glob("kernel-*.json")), "connection files left behind"


def test_a_kernel_that_dies_while_starting_is_restarted_on_new_ports(make_server: Callable[..., Server]) -> None:
    # As when another process takes one of the kernel's ports before the kernel binds it
    # (jupyter_client picks free TCP ports, then the kernel binds them a moment later).
    srv = make_server()
    marker = srv.base / "failed-once"
    script = ("import os, sys\n"
              f"if not os.path.exists({str(marker)!r}):\n"
              f"    open({str(marker)!r}, 'w').close()\n"
              "    sys.exit('zmq.error.ZMQError: Address already in use')\n"
              "os.execv(sys.executable, [sys.executable, '-m', 'ipykernel_launcher', '-f', sys.argv[1]])\n")
    add_kernelspec(srv.base / "data", "flaky", [sys.executable, "-c", script, "{connection_file}"])
    kid = srv.start_kernel(name="flaky")
    client = srv.connect(kid)
    client.wait_ready(timeout=60)
    out = client.run("1+1", timeout=60)
    assert [m["content"]["data"]["text/plain"] for m in of_type(out, "execute_result")] == ["2"]
    assert marker.exists() and "restarting it" in srv.log()
    assert srv.kernel(kid)["execution_state"] == "idle"
    client.close()


def test_kernels_start_no_threads_in_the_server(make_server: Callable[..., Server]) -> None:
    """jupyter_client gives every KernelManager a ZMQ context of its own, with an I/O and a
    reaper thread; the registry passes the relay's, so a kernel costs the server no thread.

    Only ZMQ's threads are counted (libzmq names them): gevent's thread pool starts and
    ends workers of its own as file work comes and goes (an idle one exits after 5 s)."""
    srv = make_server()

    def threads() -> list[str]:
        names = []
        for tid in os.listdir(f"/proc/{srv.proc.pid}/task"):
            try:
                with open(f"/proc/{srv.proc.pid}/task/{tid}/comm") as f:
                    names.append(f.read().strip())
            except FileNotFoundError:  # a pool worker that just ended
                pass
        return sorted(name for name in names if name.startswith("ZMQbg/"))

    first = srv.start_kernel()  # the shared context's threads exist from here on
    wait_for(lambda: srv.kernel(first)["execution_state"] == "idle", timeout=60)
    before = threads()
    assert before == ["ZMQbg/IO/0", "ZMQbg/Reaper"]
    more = [srv.start_kernel() for _ in range(3)]
    for kid in more:
        wait_for(lambda kid=kid: srv.kernel(kid)["execution_state"] == "idle", timeout=60)
    assert threads() == before
    for kid in [first, *more]:
        srv.json("DELETE", f"api/kernels/{kid}", 204)
    assert threads() == before
