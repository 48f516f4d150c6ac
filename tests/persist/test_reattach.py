"""NOTEBOOK_PERSIST_KERNELS: a kernel outlives the server that started it (SIGTERM, SIGKILL)
and the next server on the same data directory re-attaches to it: same id, its session, its
variables; a restart there starts a process that is again persisted. A kernel that died, or
stopped answering, while no server ran is dropped (and killed). With the default, no kernel
outlives the server."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import requests

from .conftest import PERSIST, Site, alive, stdout
from ..support.server import Server
from ..support.waiting import wait_for

pytestmark = pytest.mark.live


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_kernel_outlives_the_server_and_is_reattached(site: Site, sig: int) -> None:
    first = site.start(PERSIST)
    kernel_id = first.start_kernel()
    session = first.json("POST", "api/sessions", 201,
                         json={"path": "a.ipynb", "type": "notebook", "kernel": {"id": kernel_id}})
    assert stdout(first.client(kernel_id).run("x = 6 * 7\nprint(x)")) == "42\n"
    (pid,) = site.kernel_pids()
    assert first.stop(sig) == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
    assert alive(pid)
    assert site.records("kernels") == [kernel_id] and site.records("sessions") == [session["id"]]

    second = site.start(PERSIST)
    # Asked at once: the request waits for the re-attachment rather than answering 404.
    assert second.kernel(kernel_id)["id"] == kernel_id
    assert [k["id"] for k in second.json("GET", "api/kernels", 200)] == [kernel_id]
    (listed,) = second.json("GET", "api/sessions", 200)
    assert listed["id"] == session["id"] and listed["path"] == "a.ipynb" and listed["kernel"]["id"] == kernel_id
    client = second.client(kernel_id)
    assert stdout(client.run("print(x)")) == "42\n"
    assert site.kernel_pids() == [pid]
    assert "re-attached" in second.log()

    # Interrupt, restart and autorestart work on a process that is not the server's child;
    # the new process is persisted in its turn.
    msg_id = client.start_running("import time\nwhile True: time.sleep(0.05)")
    second.json("POST", f"api/kernels/{kernel_id}/interrupt", 204)
    client.until(lambda m: m["msg_type"] == "execute_reply" and m["parent_header"]["msg_id"] == msg_id)
    if sig == signal.SIGTERM:
        second.json("POST", f"api/kernels/{kernel_id}/restart", 200)
    else:  # autorestart, from the process's pidfd: it is not the server's child
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(pid), timeout=10)
    (new_pid,) = wait_for(site.kernel_pids, timeout=10)
    assert new_pid != pid
    wait_for(lambda: second.kernel(kernel_id)["execution_state"] == "idle", timeout=30)
    client = second.client(kernel_id)
    assert "NameError" in str(client.run("print(x)"))
    client.run("y = 'after the restart'")
    assert second.stop() == 0
    assert alive(new_pid)

    third = site.start(PERSIST)
    assert stdout(third.client(kernel_id).run("print(y)")) == "after the restart\n"
    assert [s["id"] for s in third.json("GET", "api/sessions", 200)] == [session["id"]]
    third.json("DELETE", f"api/sessions/{session['id']}", 204)
    wait_for(lambda: not alive(new_pid), timeout=10)
    assert third.json("GET", "api/kernels", 200) == []
    wait_for(lambda: site.records("kernels") == [] and site.records("sessions") == [], timeout=10)


def test_kernels_that_died_or_hang_while_no_server_ran_are_dropped(site: Site) -> None:
    first = site.start(PERSIST)
    dead, stuck, fine = (first.start_kernel() for _ in range(3))
    for kernel_id in (dead, stuck, fine):
        first.client(kernel_id)
    first.json("POST", "api/sessions", 201, json={"path": "dead.ipynb", "type": "notebook", "kernel": {"id": dead}})
    pids = {kernel_id: first.json("GET", f"api/kernels/{kernel_id}", 200) and _pid_of(site, kernel_id)
            for kernel_id in (dead, stuck, fine)}
    assert first.stop() == 0
    os.kill(pids[dead], signal.SIGKILL)
    os.kill(pids[stuck], signal.SIGSTOP)  # alive, but it answers nothing
    wait_for(lambda: not alive(pids[dead]), timeout=10)

    second = site.start(PERSIST)
    for kernel_id in (dead, stuck):
        assert second.request("GET", f"api/kernels/{kernel_id}").status_code == 404
    assert [k["id"] for k in second.json("GET", "api/kernels", 200)] == [fine]
    assert second.json("GET", "api/sessions", 200) == []
    wait_for(lambda: not alive(pids[stuck]), timeout=10)  # killed, by its process group
    assert alive(pids[fine])
    wait_for(lambda: site.records("kernels") == [fine] and site.records("sessions") == [], timeout=10)
    assert not (site.runtime_dir / f"kernel-{dead}.json").exists()


def _pid_of(site: Site, kernel_id: str) -> int:
    (pid,) = [pid for pid in site.kernel_pids() if kernel_id in Path(f"/proc/{pid}/cmdline").read_text()]
    return pid


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_by_default_no_kernel_outlives_the_server(site: Site, sig: int) -> None:
    first = site.start()
    kernel_id = first.start_kernel()
    first.client(kernel_id)
    (pid,) = site.kernel_pids()
    first.stop(sig)
    # SIGTERM: shut down before the server exits; SIGKILL: ipykernel's parent poller.
    if sig == signal.SIGTERM:
        assert not alive(pid)
    wait_for(lambda: not alive(pid), timeout=10)
    second = site.start()
    assert second.json("GET", "api/kernels", 200) == []
    wait_for(lambda: site.records("kernels") == [], timeout=10)


@pytest.mark.parametrize("env", [None, PERSIST], ids=["default", "persist"])
def test_a_second_server_in_the_same_folder_leaves_the_first_one_s_kernels_alone(
        site: Site, env: dict[str, str] | None) -> None:
    """Two servers of one root and data directory, at once: the second's start-up pass
    stops (by default) or re-attaches (persisting) what a server that has exited left, never
    the kernels of one that runs."""
    first = site.start(env)
    kernel_id = first.start_kernel()
    session = first.json("POST", "api/sessions", 201,
                         json={"path": "a.ipynb", "type": "notebook", "kernel": {"id": kernel_id}})
    assert stdout(first.client(kernel_id).run("x = 7\nprint(x)")) == "7\n"
    (pid,) = site.kernel_pids()
    second = site.start(env)
    assert second.json("GET", "api/kernels", 200) == []  # waits for the start-up pass
    assert "not re-attached" not in second.log() and "left running" not in second.log()
    assert alive(pid)
    assert stdout(first.client(kernel_id).run("print(x)")) == "7\n"
    assert site.records("kernels") == [kernel_id] and site.records("sessions") == [session["id"]]
    second.stop()
    assert stdout(first.client(kernel_id).run("print(x)")) == "7\n"
    first.json("DELETE", f"api/sessions/{session['id']}", 204)
    wait_for(lambda: not alive(pid), timeout=10)
    first.stop()


def test_a_login_outlives_the_server_as_its_kernels_do(site: Site) -> None:
    """With persistence, the login cookie's key is kept in the data directory: a page open on
    a kernel that survived a restart is still logged in (it was logged out before)."""
    first = site.start(PERSIST)
    browser = requests.Session()
    browser.get(f"{first.url}login", timeout=10)
    form = {"password": first.token, "_xsrf": browser.cookies["_xsrf"]}
    assert browser.post(f"{first.url}login", data=form, allow_redirects=False, timeout=10).status_code == 302
    assert browser.get(f"{first.url}api/status", timeout=10).status_code == 200  # by the cookie alone
    secret = site.base / "data" / "flask_notebook" / "cookie_secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    first.stop()
    (site.base / "server.log").rename(site.base / "server-first.log")
    second = Server(site.base, ["--port", str(first.port)], PERSIST)  # the same address: the cookie's name has it
    site.servers.append(second)
    assert browser.get(f"{second.url}api/status", timeout=10).status_code == 200
    assert browser.get(f"{second.url}api/status", cookies={}, headers={"Cookie": ""}, timeout=10).status_code != 200
    second.stop()


def test_a_sandboxed_kernel_outlives_the_server(site: Site) -> None:
    """bubblewrap's ``--die-with-parent`` is off for persisted kernels; the rest of the
    sandbox stays (its own PID namespace: the kernel sees no process of the server)."""
    sandboxed = {**PERSIST, "NOTEBOOK_KERNEL_SANDBOX": "bubblewrap"}
    first = site.start(sandboxed)
    kernel_id = first.start_kernel()
    client = first.client(kernel_id)
    assert stdout(client.run("import os\nx = len([p for p in os.listdir('/proc') if p.isdigit()])\nprint(x < 5)")) \
        == "True\n"
    pids = site.kernel_pids()
    bwrap = [pid for pid in pids if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"bwrap")]
    assert bwrap, pids
    arguments = Path(f"/proc/{bwrap[0]}/cmdline").read_bytes().split(b"\0")
    assert b"--unshare-pid" in arguments and b"--die-with-parent" not in arguments
    first.stop(signal.SIGKILL)
    assert all(alive(pid) for pid in pids)

    second = site.start(sandboxed)
    assert stdout(second.client(kernel_id).run("print(x < 5)")) == "True\n"
    second.json("DELETE", f"api/kernels/{kernel_id}", 204)
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=10)


def test_post_api_shutdown_stops_persisted_kernels_too(site: Site) -> None:
    """Stopping the service through its API is a request to stop everything, as in
    jupyter_server; SIGTERM is how an operator restarts it with its kernels."""
    server = site.start(PERSIST)
    kernel_id = server.start_kernel()
    server.client(kernel_id)
    (pid,) = site.kernel_pids()
    assert server.request("POST", "api/shutdown").status_code == 200
    assert server.proc.wait(timeout=10) == 0
    assert not alive(pid)
    assert site.records("kernels") == []
