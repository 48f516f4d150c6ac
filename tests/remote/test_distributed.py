"""Kernels on a second host, launched over SSH by gateway_provisioners' ``DistributedProvisioner``
through our real server: the host is Debian's sshd in a network namespace (``support.sshhost``),
reached only on its namespace address; the launcher calls back to the server's response
address on this machine's end of the veth pair.

One host and one server for the module (each costs a namespace and an sshd); tests share a
kernel where they can.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..support.kernel_client import stdout_of
from ..support.server import Server
from ..support.sshhost import SshHost
from ..support.waiting import wait_for

SPEC = "remote_python"

@pytest.fixture(scope="module")
def host() -> Iterator[SshHost]:
    made = SshHost()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def remote_server(host: SshHost, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("remote")
    host.add_kernelspec(base / "data", SPEC)
    srv = Server(base, env={**host.server_env(), "NOTEBOOK_CULL_IDLE_TIMEOUT": "8", "NOTEBOOK_CULL_INTERVAL": "1",
                            "NOTEBOOK_CULL_CONNECTED": "1"})
    try:
        yield srv
    finally:
        srv.stop()
        # Every kernel the server started on the host is gone with it (shut down over the listener).
        wait_for(lambda: not _kernels_on(host), timeout=20)


def _kernels_on(host: SshHost) -> list[int]:
    """Pids of the launchers (kernels) running in the host's namespace."""
    found = []
    for pid in host.pids():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "launch_ipykernel.py" in cmdline:
            found.append(pid)
    return found


def _only_processes_of(host: SshHost, pid: int) -> bool:
    """Whether every launcher process on the host (kernels, and the listeners they fork) is
    kernel `pid` or its child: nothing of an earlier kernel is left."""
    for found in _kernels_on(host):
        try:
            ppid = int(Path(f"/proc/{found}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if pid not in (found, ppid):
            return False
    return True


def _start_session(server: Server, name: str) -> dict[str, Any]:
    return server.json("POST", "api/sessions", 201, json={"path": f"{name}.ipynb", "type": "notebook",
                                                          "kernel": {"name": SPEC}})  # type: ignore[no-any-return]


def _execute(server: Server, kernel_id: str, code: str) -> dict[str, Any]:
    return server.json("POST", f"api/kernels/{kernel_id}/execute", 200, json={"code": code},
                       timeout=60)  # type: ignore[no-any-return]


@contextlib.contextmanager
def _status_probed(server: Server) -> Iterator[list[float]]:
    """/api/status asked every 50 ms in a thread for as long as the block runs; the latencies."""
    latencies: list[float] = []
    done = threading.Event()
    failures: list[BaseException] = []

    def probe() -> None:
        try:
            while not done.is_set():
                began = time.monotonic()
                assert server.request("GET", "api/status", timeout=10).status_code == 200
                latencies.append(time.monotonic() - began)
                time.sleep(0.05)
        except BaseException as exc:  # reported in the test's thread
            failures.append(exc)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        yield latencies
    finally:
        done.set()
        prober.join(timeout=15)
    assert not failures, failures


def _text(record: dict[str, Any]) -> str:
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in record["outputs"])


def test_a_session_kernel_runs_on_the_host_and_is_interrupted_and_restarted(
        remote_server: Server, host: SshHost) -> None:
    # The server's first remote launch (the provisioner was imported at start-up, not now): the
    # server answers /api/status quickly while the SSH launch and the launcher's call back run.
    began = time.monotonic()
    with _status_probed(remote_server) as latencies:
        session = _start_session(remote_server, "first")
    assert time.monotonic() - began > 0.3  # an SSH launch: the probes overlapped it
    assert len(latencies) >= 3 and max(latencies) < 0.5, latencies
    kernel_id = session["kernel"]["id"]

    # It runs in the namespace: its address is the host's, its pid one of the namespace's.
    client = remote_server.client(kernel_id)
    out = stdout_of(client.run("import os, socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                               f"s.connect(({host.local_address!r}, 9))\nprint(s.getsockname()[0], os.getpid())"))
    address, pid = out.split()
    assert address == host.address
    assert int(pid) in host.pids()

    # REST execution too; the state is kept between requests and clients.
    _execute(remote_server, kernel_id, "x = 41")
    assert _text(_execute(remote_server, kernel_id, "x + 1")) == "42"

    # Interrupt a sleep (signal mode: SIGINT through the launcher's listener).
    msg_id = client.start_running("import time; time.sleep(60)")
    began = time.monotonic()
    assert remote_server.request("POST", f"api/kernels/{kernel_id}/interrupt").status_code == 204
    # Its idle too: ipykernel aborts the requests that reach it before its abort has ended.
    (reply,) = [m for m in client.until_idle(msg_id, timeout=30) if m["msg_type"] == "execute_reply"]
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - began < 20
    assert _text(_execute(remote_server, kernel_id, "x")) == "41"  # interrupted, not restarted

    # Restart: a new process on the host, which has forgotten x. /api/status answers quickly
    # while the remote launch (SSH, the launcher's call back) is in flight.
    began = time.monotonic()
    with _status_probed(remote_server) as latencies:
        assert remote_server.request("POST", f"api/kernels/{kernel_id}/restart", timeout=90).status_code == 200
    assert time.monotonic() - began > 0.3  # an SSH launch: the probes overlapped it
    assert len(latencies) >= 3 and max(latencies) < 0.5, latencies
    record = remote_server.json("POST", f"api/kernels/{kernel_id}/execute", 200,
                                json={"code": "import os; print(os.getpid()); x"}, timeout=60)
    assert record["status"] == "error" and record["error"]["ename"] == "NameError"
    new_pid = int(record["outputs"][0]["text"].split()[0])
    assert new_pid != int(pid) and new_pid in host.pids()
    # Nothing of the old kernel is left: neither it nor its launcher's listener (ipykernel's exit
    # waits 29 s for that listener; the provisioner kills it over SSH).
    wait_for(lambda: int(pid) not in host.pids() and _only_processes_of(host, new_pid), timeout=10)

    # A shutdown leaves nothing either.
    remote_server.json("DELETE", f"api/sessions/{session['id']}", 204)
    wait_for(lambda: not _kernels_on(host), timeout=10)


def test_the_death_of_a_remote_kernel_is_detected(remote_server: Server, host: SshHost) -> None:
    session = _start_session(remote_server, "dies")
    kernel_id = session["kernel"]["id"]
    client = remote_server.client(kernel_id)
    pid = int(stdout_of(client.run("import os; print(os.getpid())")))
    host.exec("kill", "-KILL", str(pid))
    killed = time.monotonic()
    # The server notices within seconds (its provisioner's poll: the listener still answers for
    # the unreaped zombie, the check over SSH does not) and restarts it on the host.
    client.until(lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "restarting"
                 and "gone from its host" in m["content"].get("reason", ""), timeout=30)
    assert time.monotonic() - killed < 10

    # Relaunched on the host (new ports, a new key: the relay reconnects; a request sent while
    # the launch is in flight is lost with the old sockets, so ask once it is up).
    wait_for(lambda: remote_server.kernel(kernel_id)["execution_state"] == "idle", timeout=60)
    new_pid = int(stdout_of(remote_server.client(kernel_id).run("import os; print(os.getpid())")))
    assert new_pid != pid and new_pid in host.pids()
    wait_for(lambda: _only_processes_of(host, new_pid), timeout=10)  # the dead one's listener too
    remote_server.json("DELETE", f"api/sessions/{session['id']}", 204)
    wait_for(lambda: not _kernels_on(host), timeout=10)


def test_an_idle_remote_kernel_is_culled(remote_server: Server, host: SshHost) -> None:
    kernel_id = remote_server.start_kernel(name=SPEC)
    client = remote_server.client(kernel_id)
    pid = int(stdout_of(client.run("import os; print(os.getpid())")))
    client.close()
    # Idle for NOTEBOOK_CULL_IDLE_TIMEOUT (8 s): shut down, and gone from the host.
    wait_for(lambda: remote_server.request("GET", f"api/kernels/{kernel_id}").status_code == 404, timeout=40)
    wait_for(lambda: pid not in host.pids(), timeout=30)


def test_a_remote_kernel_is_refused_a_broken_host_clearly(remote_server: Server, host: SshHost) -> None:
    """A host that does not answer SSH: the start fails with the provisioner's reason, as JSON."""
    data = Path(remote_server.jupyter["JUPYTER_DATA_DIR"])
    host.add_kernelspec(data, "unreachable", remote_hosts=["10.213.255.254"])
    response = remote_server.request("POST", "api/kernels", json={"name": "unreachable"}, timeout=90)
    assert response.status_code == 500, response.text
    assert "could not be started" in response.json()["message"]


def test_the_remote_provisioner_is_imported_when_the_app_starts(remote_server: Server, tmp_path: Path) -> None:
    """Its import (paramiko, crypto: a fifth of a second of the hub here, more on a cold disk)
    happens once at start-up, not in a user's first launch; the latencies that the first launch
    test measures cannot tell 0.2 s from noise, so this asks the process itself."""
    root = tmp_path / "root"
    root.mkdir()
    code = ("import sys\nfrom flask_notebook import create_app\n"
            "assert 'paramiko' not in sys.modules\n"
            f"app = create_app({{'TESTING': True, 'NOTEBOOK_ROOT_DIR': {str(root)!r}, 'NOTEBOOK_TOKEN': 'x' * 24}})\n"
            "print('flask_notebook.core.ssh_provisioner' in sys.modules, 'paramiko' in sys.modules)\n"
            "app.extensions['notebook'].shutdown_all()\n")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **remote_server.jupyter},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
