"""Interrupt, restart, shutdown and death reporting of sandboxed kernels: signals reach the
kernel (never bwrap), and nothing is left behind."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from ..support.cgroups import needs_cgroups, require_cgroups
from ..support.kernel_client import KernelClient
from ..support.kernels import kernel_processes
from ..support.waiting import wait_for
from .conftest import SandboxSite, kernel_pid, run


def _processes_of(site: SandboxSite, kernel_id: str) -> list[int]:
    """bwrap's processes and the kernel's that name this kernel's connection file."""
    found = []
    for pid in kernel_processes(site.runtime_dir):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if kernel_id.encode() in f.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def test_interrupt_stops_a_running_loop(site: SandboxSite, alice_kernel: tuple[str, KernelClient]) -> None:
    kernel_id, client = alice_kernel
    assert run(client, "kept = 42") == ("", None)
    msg_id = client.start_running("while True:\n    pass")
    assert site.api("alice", "GET", f"kernels/{kernel_id}", 200)["execution_state"] == "busy"
    site.api("alice", "POST", f"kernels/{kernel_id}/interrupt", 204)
    # Its idle too, not only its reply: ipykernel aborts the requests that reach it between an
    # error reply and the end of its abort, which comes before its idle (an aborted request has
    # no output: the "missing output" of this test's earlier flakes).
    (reply,) = [m for m in client.until_idle(msg_id) if m["msg_type"] == "execute_reply"]
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    assert run(client, "print(kept)") == ("42\n", None)  # the same process: interrupted, not restarted


def test_restart_gives_a_fresh_kernel_that_answers(site: SandboxSite, alice_kernel: tuple[str, KernelClient]) -> None:
    kernel_id, client = alice_kernel
    assert run(client, "kept = 42") == ("", None)
    before = kernel_pid(site, kernel_id)
    site.api("alice", "POST", f"kernels/{kernel_id}/restart", 200)
    assert kernel_pid(site, kernel_id) != before
    client.wait_ready()
    out, error = run(client, "import os; print(os.getcwd()); print(kept)")
    assert error == "NameError" and out == f"{site.workspace('alice')}\n"


def test_shutdown_leaves_no_process(site: SandboxSite) -> None:
    kernel_id = site.start_kernel("alice")
    client = site.client("alice", kernel_id)
    out, _ = run(client, "import subprocess; child = subprocess.Popen(['sleep', '300']); print(child.pid)")
    # That child, as this host sees it: a `sleep 300` in a PID namespace of its own whose pid
    # there is the one the kernel saw. (Not any `sleep 300` of the machine: a full run once
    # found one in the host's namespace, which no sandboxed kernel can start.)
    inside = int(out)
    (child,) = wait_for(lambda: [pid for pid in _sleeps() if _nspids(pid)[1:] and _nspids(pid)[-1] == inside],
                        timeout=5)
    assert len(_processes_of(site, kernel_id)) == 3  # bwrap, the sandbox's init (bwrap too), the kernel
    client.close()
    site.api("alice", "DELETE", f"kernels/{kernel_id}", 204)
    assert not _processes_of(site, kernel_id)  # the API answers once the kernel is gone
    # The kernel's own child goes with its sandbox: the kernel kills what is left of a PID
    # namespace whose init has exited, a moment after (it was seen alive for that moment once).
    try:
        wait_for(lambda: child not in _sleeps(), timeout=10)
    except AssertionError:
        raise AssertionError(f"the kernel's child outlived its sandbox: {_describe([child])}") from None


def _nspids(pid: int) -> list[int]:
    """`pid`'s number in each PID namespace it is in, from this one inwards ([] if gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return [int(n) for n in line.split()[1:]]
    except OSError:
        pass
    return []


def _describe(pids: list[int]) -> list[str]:
    described = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            described.append(f"{pid}: " + ", ".join(f"{k}={fields.get(k, '?').strip()}"
                                                     for k in ("State", "PPid", "NSpid", "NSpgid")))
        except OSError:
            described.append(f"{pid}: gone")
    return described


def _sleeps() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if f.read() == b"sleep\x00300\x00":
                    pids.append(int(entry))
        except (OSError, ValueError):
            pass
    return pids


def test_a_kernel_killed_from_outside_is_reported_and_restarted(site: SandboxSite,
                                                                alice_kernel: tuple[str, KernelClient]) -> None:
    kernel_id, client = alice_kernel
    before = kernel_pid(site, kernel_id)
    os.kill(before, signal.SIGKILL)
    model = wait_for(lambda: (m := site.api("alice", "GET", f"kernels/{kernel_id}", 200)).get("reason") and m)
    # As for an unsandboxed kernel: the signal is named, not bwrap's exit status 137.
    assert "killed by SIGKILL" in model["reason"] and "restarted" in model["reason"]
    assert kernel_pid(site, kernel_id) != before
    client.wait_ready()
    assert run(client, "print(1 + 1)") == ("2\n", None)


def test_an_idle_sandboxed_kernel_is_culled_with_its_sandbox(start_site: Callable[..., SandboxSite]) -> None:
    site = start_site(NOTEBOOK_CULL_IDLE_TIMEOUT="1", NOTEBOOK_CULL_INTERVAL="1")
    kernel_id = site.start_kernel("alice")
    wait_for(lambda: site.api("alice", "GET", "kernels", 200) == [], timeout=20)
    wait_for(lambda: not _processes_of(site, kernel_id), timeout=10)
    assert f"culling kernel {kernel_id}" in site.log()


@needs_cgroups
def test_a_sandboxed_kernel_past_its_memory_limit_is_reported_as_such(start_site: Callable[..., SandboxSite]) -> None:
    """The limits' prefix runs bwrap in the kernel's groups; bwrap's 137 is a SIGKILL again."""
    require_cgroups()
    site = start_site(NOTEBOOK_KERNEL_MEMORY_LIMIT="256MiB")
    kernel_id = site.start_kernel("alice")
    client = site.client("alice", kernel_id)
    before = kernel_pid(site, kernel_id)
    client.execute("b = bytearray(400 * 1024 * 1024)")
    model = wait_for(lambda: (m := site.api("alice", "GET", f"kernels/{kernel_id}", 200)).get("reason") and m)
    assert "killed: memory limit 256 MiB reached" in model["reason"], model
    assert kernel_pid(site, kernel_id) != before
    client.wait_ready()
    assert run(client, "print(1 + 1)") == ("2\n", None)
