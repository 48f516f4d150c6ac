"""The warm kernel pool and `/api/execute`, on real kernels and a real server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import requests

from ..support.env import TOKEN, isolated_env
from ..support.execute import events, result, stdout
from ..support.kernels import kernel_processes
from ..support.responses import assert_json_error
from ..support.server import Server
from ..support.waiting import wait_for

SEED = "import json as seeded_json\nSEEDED = 41 + 1"


def pool_ready(srv: Server, name: str = "python3") -> bool:
    status = srv.json("GET", "api/kernel_pool", 200)[name]
    return bool(status["ready"] == status["size"] and status["starting"] == 0)


def kernel_ids_running(srv: Server) -> set[str]:
    """Ids of every kernel process of the server, pooled or not (from their connection files)."""
    ids = set()
    for pid in kernel_processes(srv.runtime_dir):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            match = re.search(rb"kernel-([\w-]+)\.json", f.read())
        if match:
            ids.add(match.group(1).decode())
    return ids


def pid_of(srv: Server, kernel_id: str) -> int:
    for pid in kernel_processes(srv.runtime_dir):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if f"kernel-{kernel_id}.json".encode() in f.read():
                return pid
    raise AssertionError(f"no process for kernel {kernel_id}")


def test_a_pooled_kernel_is_handed_out_seeded_and_the_pool_refills(make_server: Callable[..., Server]) -> None:
    srv = make_server("--kernel-pool", "python3=2", env={"NOTEBOOK_KERNEL_POOL_SEED": SEED})
    wait_for(lambda: pool_ready(srv), timeout=60)
    assert srv.json("GET", "api/kernels", 200) == []  # pooled kernels are not listed
    pooled = kernel_ids_running(srv)
    assert len(pooled) == 2
    kernel_id = srv.start_kernel()
    assert kernel_id in pooled
    # It answers at once, with the seed's state and a fresh execution count.
    record = srv.json("POST", f"api/kernels/{kernel_id}/execute", 200, json={"code": "SEEDED"})
    assert result(record) == "42" and record["execution_count"] == 1
    # The pool refills in the background, with a new kernel.
    wait_for(lambda: pool_ready(srv), timeout=60)
    assert len(kernel_ids_running(srv) - {kernel_id}) == 2
    # A handed-out kernel is restarted when it dies, like any kernel.
    os.kill(pid_of(srv, kernel_id), signal.SIGKILL)
    wait_for(lambda: srv.request("POST", f"api/kernels/{kernel_id}/execute",
                                 json={"code": "1"}).status_code == 200, timeout=60)


def test_a_pooled_kernel_that_dies_is_replaced(make_server: Callable[..., Server]) -> None:
    srv = make_server("--kernel-pool", "python3=1")
    wait_for(lambda: pool_ready(srv), timeout=60)
    (victim,) = kernel_ids_running(srv)
    os.kill(pid_of(srv, victim), signal.SIGKILL)
    wait_for(lambda: pool_ready(srv) and kernel_ids_running(srv) not in (set(), {victim}), timeout=60)
    (replacement,) = kernel_ids_running(srv)
    assert replacement != victim
    assert "discarded: it was killed by SIGKILL" in srv.log()
    assert srv.json("GET", "api/kernels", 200) == []
    assert srv.json("POST", "api/execute", 200, json={"code": "'fine'"})["status"] == "ok"


def test_a_session_kernel_from_the_pool_runs_in_the_notebook_folder(make_server: Callable[..., Server]) -> None:
    srv = make_server("--kernel-pool", "python3=1")
    folder = srv.root / "projects" / "a"
    folder.mkdir(parents=True)
    (folder / "helper.py").write_text("VALUE = 'beside the notebook'\n")
    wait_for(lambda: pool_ready(srv), timeout=60)
    (pooled,) = kernel_ids_running(srv)
    session = srv.json("POST", "api/sessions", 201, json={"path": "projects/a/nb.ipynb", "type": "notebook"})
    kernel_id = session["kernel"]["id"]
    assert kernel_id == pooled
    code = "import os, helper\nprint(os.getcwd(), helper.VALUE, __session__, os.environ['JPY_SESSION_NAME'], sep='|')"
    # A deadline for a loaded machine: the pool starts the replacement kernel meanwhile.
    record = srv.json("POST", f"api/kernels/{kernel_id}/execute", 200, json={"code": code}, timeout=90)
    notebook = str(folder / "nb.ipynb")
    assert stdout(record) == "|".join([str(folder), "beside the notebook", notebook, notebook]) + "\n"
    assert record["execution_count"] == 1  # the move is not an execution


def test_the_pool_counts_toward_the_kernel_limit(make_server: Callable[..., Server]) -> None:
    srv = make_server("--kernel-pool", "python3=2", env={"NOTEBOOK_MAX_KERNELS": "2"})
    wait_for(lambda: pool_ready(srv), timeout=60)
    first = srv.start_kernel()
    second = srv.start_kernel()  # from the pool too: no room to refill after the first
    assert {first, second} <= kernel_ids_running(srv) and len(kernel_ids_running(srv)) == 2
    assert srv.json("GET", "api/kernel_pool", 200)["python3"] == {"size": 2, "ready": 0, "starting": 0}
    assert_json_error(srv.request("POST", "api/kernels", json={}), 403, "maximum number of kernels (2)")
    srv.json("DELETE", f"api/kernels/{first}", 204)
    # Room again: the pool takes it back.
    wait_for(lambda: srv.json("GET", "api/kernel_pool", 200)["python3"]["ready"] == 1, timeout=60)


def test_execute_without_a_kernel_leaves_nothing_behind(make_server: Callable[..., Server]) -> None:
    srv = make_server("--kernel-pool", "python3=1")
    wait_for(lambda: pool_ready(srv), timeout=60)
    (warm,) = kernel_ids_running(srv)
    first = srv.json("POST", "api/execute", 200, json={"code": "secret = 42\nprint(secret)"})
    assert first["status"] == "ok" and stdout(first) == "42\n"
    assert first["kernel_id"] == warm  # the warm kernel, not a cold start
    second = srv.json("POST", "api/execute", 200, json={"code": "secret", "kernel_name": "python3"})
    assert second["status"] == "error" and second["error"]["ename"] == "NameError"
    assert second["kernel_id"] != first["kernel_id"]
    # Each kernel is shut down after its request.
    wait_for(lambda: not {first["kernel_id"], second["kernel_id"]} & kernel_ids_running(srv), timeout=30)
    wait_for(lambda: srv.json("GET", "api/kernels", 200) == [], timeout=30)
    # Asynchronous and streamed, like the kernel endpoint.
    accepted = srv.request("POST", "api/execute", json={"code": "'later'"}, params={"wait": "false"})
    assert accepted.status_code == 202 and accepted.headers["Location"].startswith("/api/execute/")
    done = wait_for(lambda: (r := srv.request("GET", accepted.headers["Location"])).status_code == 200 and r.json(),
                    timeout=60)
    assert result(done) == "'later'"
    with requests.post(f"{srv.url}api/execute", json={"code": "print('streamed')"}, stream=True, timeout=60,
                       headers={"Authorization": f"token {TOKEN}", "Accept": "text/event-stream"}) as response:
        received = list(events(response))
    assert received[-1][0] == "done" and stdout(received[-1][1]) == "streamed\n"
    assert_json_error(srv.request("POST", "api/execute", json={"code": "1", "kernel_name": 3}), 400, "kernel_name")
    assert_json_error(srv.request("POST", "api/execute", json={"code": "1", "kernel_name": "nope"}), 404, "nope")


def test_execute_without_a_kernel_can_be_switched_off(make_server: Callable[..., Server]) -> None:
    srv = make_server(env={"NOTEBOOK_EXECUTE_API": "false"})
    body = assert_json_error(srv.request("POST", "api/execute", json={"code": "1"}), 404, "NOTEBOOK_EXECUTE_API")
    assert body["reason"] == "disabled"
    assert srv.json("GET", "api/kernels", 200) == []


def test_pooled_kernels_are_shut_down_with_the_server(make_server: Callable[..., Server]) -> None:
    srv = make_server("--kernel-pool", "python3=2")
    wait_for(lambda: pool_ready(srv), timeout=60)
    assert len(kernel_processes(srv.runtime_dir)) == 2
    assert srv.stop() == 0
    wait_for(lambda: not kernel_processes(srv.runtime_dir), timeout=10)
    assert not list(srv.runtime_dir.glob("kernel-*.json"))


def test_a_bad_pool_setting_stops_the_server_with_a_message(tmp_path: Path) -> None:
    env = {**os.environ, **isolated_env(tmp_path)}
    for value, message in (("nosuchkernel=1", "'nosuchkernel', which is not installed"),
                           ("python3", "is not NAME=SIZE"), ("python3=many", "whole number")):
        done = subprocess.run([sys.executable, "-m", "flask_notebook", "--port", "0", "--no-browser",
                               "--root-dir", str(tmp_path), "--kernel-pool", value],
                              capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 2 and message in done.stderr, done.stderr
