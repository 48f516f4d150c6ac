"""Kernels that hang or start slowly: a stopped (SIGSTOP) kernel is reported (busy, its
last_activity still, and ``responsive: false`` on ``?probe=1``), its REST requests end at the
default timeout, and a restart recovers it; an interrupt sent while a kernel starts waits
until it has started instead of killing it.

jupyter_server 2.21.1, compared live: ``GET /api/kernels/<id>?probe=1`` ignores the argument
(the usual five keys); an interrupt right after the start answers 204 and the kernel lived
there (its start takes ~100 ms to launch, ours 1 ms: ours died of the SIGINT in the middle of
its imports, five times out of five, and was autorestarted with its state lost).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator

import pytest

from ..support.server import Server
from ..support.waiting import wait_for

pytestmark = pytest.mark.live

MODEL_KEYS = {"id", "name", "last_activity", "execution_state", "connections"}


def kernel_pid(server: Server, kernel_id: str) -> int:
    """The pid of the kernel process started with `kernel_id`'s connection file."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read().decode(errors="replace")
            except OSError:
                continue
            if f"kernel-{kernel_id}.json" in cmdline and str(server.runtime_dir) in cmdline:
                return int(entry)
    raise AssertionError(f"no process for kernel {kernel_id}")


def run(server: Server, kernel_id: str, code: str, **body: object) -> dict[str, object]:
    response = server.request("POST", f"api/kernels/{kernel_id}/execute", json={"code": code, **body}, timeout=20)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def stopped() -> Iterator[list[int]]:
    """Pids a test stopped: continued at teardown, whatever happened."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def stop_busy_kernel(server: Server, stopped: list[int]) -> tuple[str, int, dict[str, object]]:
    """A kernel with ``x = 42``, running code that spins, then stopped: (id, pid, its model
    just before it was stopped)."""
    kernel_id = server.start_kernel()
    assert run(server, kernel_id, "x = 42")["status"] == "ok"
    spin = server.request("POST", f"api/kernels/{kernel_id}/execute", params={"wait": "false"},
                          json={"code": "while True: pass", "timeout": 600})
    assert spin.status_code == 202
    wait_for(lambda: server.kernel(kernel_id)["execution_state"] == "busy", timeout=10)
    model = server.kernel(kernel_id)
    pid = kernel_pid(server, kernel_id)
    os.kill(pid, signal.SIGSTOP)
    stopped.append(pid)
    return kernel_id, pid, model


def test_a_stopped_kernel_stays_busy_with_its_last_activity_still_and_a_probe_says_unresponsive(
        server: Server, stopped: list[int]) -> None:
    kernel_id = server.start_kernel()
    wait_for(lambda: server.kernel(kernel_id)["execution_state"] == "idle", timeout=20)
    assert set(server.kernel(kernel_id)) == MODEL_KEYS  # the default model is jupyter_server's
    probed = server.json("GET", f"api/kernels/{kernel_id}?probe=1", 200)
    assert set(probed) == MODEL_KEYS | {"responsive"} and probed["responsive"] is True
    server.json("DELETE", f"api/kernels/{kernel_id}", 204)

    kernel_id, _, before = stop_busy_kernel(server, stopped)
    # (Busy with code that runs on, it was responsive: control is served beside the shell.)
    probed = server.json("GET", f"api/kernels/{kernel_id}?probe=1&probe_timeout=1", 200)
    assert probed["responsive"] is False
    assert (probed["execution_state"], probed["last_activity"]) == ("busy", before["last_activity"])
    server.json("DELETE", f"api/kernels/{kernel_id}", 204)


def test_a_busy_kernel_running_python_is_responsive(server: Server, kernel_id: str) -> None:
    spin = server.request("POST", f"api/kernels/{kernel_id}/execute", params={"wait": "false"},
                          json={"code": "while True: pass", "timeout": 600})
    assert spin.status_code == 202
    wait_for(lambda: server.kernel(kernel_id)["execution_state"] == "busy", timeout=20)
    assert server.json("GET", f"api/kernels/{kernel_id}?probe=true", 200)["responsive"] is True
    assert server.kernel(kernel_id)["execution_state"] == "busy"  # the probe's statuses changed nothing


def test_a_request_to_a_stopped_kernel_ends_at_the_default_timeout(
        make_server: Callable[..., Server], stopped: list[int]) -> None:
    server = make_server(env={"NOTEBOOK_EXECUTE_TIMEOUT": "2"})
    kernel_id, _, _ = stop_busy_kernel(server, stopped)
    start = time.monotonic()
    record = run(server, kernel_id, "1+1")  # no timeout of its own
    assert record["status"] == "timeout" and record["outputs"] == [] and record["error"] is None
    assert 1.5 < time.monotonic() - start < 10


def test_a_restart_recovers_a_stopped_kernel_at_once(server: Server, stopped: list[int]) -> None:
    """The restart continues the process, which then exits at once as asked; left stopped, it
    would be killed only after the whole shutdown_wait_time (5 s; SIGKILL works on a stopped
    process, SIGTERM waits for it to be continued)."""
    kernel_id, pid, _ = stop_busy_kernel(server, stopped)
    start = time.monotonic()
    restarted = server.json("POST", f"api/kernels/{kernel_id}/restart", 200)
    assert time.monotonic() - start < 4
    assert restarted["id"] == kernel_id and "reason" not in restarted
    wait_for(lambda: _zombie(pid), timeout=10)
    assert server.json("GET", f"api/kernels/{kernel_id}?probe=1", 200)["responsive"] is True
    assert run(server, kernel_id, "1+1")["outputs"][0]["data"]["text/plain"] == "2"  # type: ignore[index]
    assert run(server, kernel_id, "x")["status"] == "error"  # a new process: its state is gone
    server.json("DELETE", f"api/kernels/{kernel_id}", 204)


def _zombie(pid: int) -> bool:
    """Whether the process is gone (or a zombie, which its parent has yet to reap)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_stopped_kernel_shuts_down_at_once(server: Server, stopped: list[int]) -> None:
    kernel_id = server.start_kernel()
    wait_for(lambda: server.kernel(kernel_id)["execution_state"] == "idle", timeout=20)
    pid = kernel_pid(server, kernel_id)
    os.kill(pid, signal.SIGSTOP)
    stopped.append(pid)
    server.json("DELETE", f"api/kernels/{kernel_id}", 204)
    wait_for(lambda: _zombie(pid), timeout=10)


def test_bad_probe_arguments_are_400(server: Server, kernel_id: str) -> None:
    for query in ("probe=maybe", "probe=1&probe_timeout=0", "probe=1&probe_timeout=61", "probe=1&probe_timeout=x",
                  "probe=1&probe_timeout=nan"):
        response = server.request("GET", f"api/kernels/{kernel_id}?{query}")
        assert response.status_code == 400, query
        assert set(response.json()) == {"message", "reason"}
    assert set(server.json("GET", f"api/kernels/{kernel_id}?probe=0", 200)) == MODEL_KEYS


def test_an_interrupt_sent_while_the_kernel_starts_waits_for_it_instead_of_killing_it(server: Server) -> None:
    for _ in range(4):
        kernel_id = server.start_kernel()
        assert server.request("POST", f"api/kernels/{kernel_id}/interrupt").status_code == 204
        wait_for(lambda: server.kernel(kernel_id)["execution_state"] == "idle", timeout=20)
        assert run(server, kernel_id, "1+1")["status"] == "ok"
        model = server.kernel(kernel_id)
        assert "reason" not in model, model  # never killed, never autorestarted
        server.json("DELETE", f"api/kernels/{kernel_id}", 204)
    assert "killed by SIGINT" not in server.log()


def test_an_interrupt_still_stops_running_code(server: Server, kernel_id: str) -> None:
    spin = server.request("POST", f"api/kernels/{kernel_id}/execute", params={"wait": "false"},
                          json={"code": "print('spinning', flush=True)\nwhile True: pass"})
    location = spin.headers["Location"]
    # In the cell's code, not only busy: ipykernel ignores a SIGINT sent before it sets its
    # handler, just after it says busy.
    wait_for(lambda: "spinning" in json.dumps(server.request("GET", location).json()), timeout=20)
    assert server.request("POST", f"api/kernels/{kernel_id}/interrupt").status_code == 204
    record = wait_for(lambda: (r := server.request("GET", location).json())["status"] not in ("queued", "running")
                      and r, timeout=10)
    assert record["status"] == "error" and record["error"]["ename"] == "KeyboardInterrupt"
