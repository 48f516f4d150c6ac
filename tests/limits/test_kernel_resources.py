"""NOTEBOOK_KERNEL_MEMORY_LIMIT and NOTEBOOK_KERNEL_CPU_LIMIT on a real site with real kernels:
by cgroup where this machine lets the server make groups (root, cgroup v1 or v2), and the
RLIMIT_DATA fallback where it does not (forced by pointing the cgroup root elsewhere)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from flask_notebook.core.cgroups import ROOT_VARIABLE, KernelLimits

from ..support.cgroups import needs_cgroups, require_cgroups
from ..support.waiting import wait_for
from .conftest import HostSite, User

pytestmark = pytest.mark.live

MiB = 1024 * 1024




def _groups(user: User, kernel_id: str) -> list[Path]:
    """The kernel's memory and CPU groups, as the kernel itself sees them."""
    text = user.stdout(kernel_id, "print(open('/proc/self/cgroup').read())")
    found = []
    for line in filter(None, text.splitlines()):
        _, controllers, path = line.split(":", 2)
        if "flask-notebook-" in path:
            mount = "/sys/fs/cgroup" if not controllers else f"/sys/fs/cgroup/{controllers.split(',')[0]}"
            found.append(Path(mount + path))
    return found


@needs_cgroups
def test_a_kernel_past_its_memory_limit_is_killed_reported_and_restarted(
        start_site: Callable[..., HostSite]) -> None:
    require_cgroups(cpu=True)
    site = start_site(kernel_memory_limit="256MiB")
    alice = site.user("alice")
    kernel_id = alice.start_kernel()
    client = alice.connect(kernel_id)
    client.wait_ready()
    assert alice.stdout(kernel_id, "print('ready')") == "ready\n"
    pid = alice.stdout(kernel_id, "import os; print(os.getpid())").strip()
    record = alice.run(kernel_id, "b = bytearray(400 * 1024 * 1024)")
    assert record["status"] == "error", record
    assert "killed: memory limit 256 MiB reached" in record["error"]["evalue"], record
    model = alice.api("GET", f"kernels/{kernel_id}", 200)
    assert "killed: memory limit 256 MiB reached" in model["reason"], model
    # The kernel's clients are told why, with the restarting status.
    restarting = client.until(lambda m: m["msg_type"] == "status"
                              and m["content"].get("execution_state") == "restarting")[-1]
    assert "killed: memory limit 256 MiB reached" in restarting["content"]["reason"]
    # The server answers meanwhile, and the kernel comes back, a new process.
    assert alice.request("GET", "api/status").status_code == 200
    wait_for(lambda: alice.api("GET", f"kernels/{kernel_id}", 200)["execution_state"] == "idle", timeout=30)
    assert alice.stdout(kernel_id, "import os; print(os.getpid())").strip() != pid
    assert alice.stdout(kernel_id, "print(1 + 1)") == "2\n"
    client.close()


@needs_cgroups
def test_a_busy_loop_gets_about_its_cpu_share(start_site: Callable[..., HostSite]) -> None:
    require_cgroups(cpu=True)
    site = start_site(kernel_cpu_limit=0.5)
    alice = site.user("alice")
    kernel_id = alice.start_kernel()
    share = float(alice.stdout(kernel_id, "\n".join([
        "import time",
        "wall, cpu = time.monotonic(), time.process_time()",
        "while time.monotonic() - wall < 2: pass",
        "print((time.process_time() - cpu) / (time.monotonic() - wall))"])))
    assert 0.1 < share < 0.75, share


@needs_cgroups
def test_a_kernels_groups_are_removed_when_it_is_shut_down(start_site: Callable[..., HostSite]) -> None:
    require_cgroups(cpu=True)
    site = start_site(kernel_memory_limit=256 * MiB, kernel_cpu_limit=1)
    alice = site.user("alice")
    kernel_id = alice.start_kernel()
    groups = _groups(alice, kernel_id)
    assert groups and all(g.name == kernel_id and g.is_dir() for g in groups), groups  # v1: two, v2: one
    assert any((g / "memory.limit_in_bytes").exists() or (g / "memory.max").exists() for g in groups), groups
    # A process the kernel started in a session of its own is in the kernel's group: it goes too.
    child = alice.stdout(kernel_id, "import subprocess; p = subprocess.Popen(['sleep', '600'], "
                                    "start_new_session=True); print(p.pid)").strip()
    alice.api("DELETE", f"kernels/{kernel_id}", 204)
    wait_for(lambda: not any(g.exists() for g in groups), timeout=10)
    wait_for(lambda: not os.path.exists(f"/proc/{child}") or "Z" in _state(child), timeout=10)
    parents = {g.parent for g in groups}
    site.stop()
    assert not any(p.exists() for p in parents), parents


def _state(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_without_cgroups_memory_falls_back_to_rlimit_data_with_a_warning(
        start_site: Callable[..., HostSite], tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-a-cgroup-fs"
    elsewhere.mkdir()
    site = start_site(env={ROOT_VARIABLE: str(elsewhere)}, kernel_memory_limit="256MiB", kernel_cpu_limit=0.5)
    log = site.log()
    assert re.search(r"WARNING .*NOTEBOOK_KERNEL_MEMORY_LIMIT: no cgroup can be made here .*RLIMIT_DATA", log), log
    assert re.search(r"WARNING .*NOTEBOOK_KERNEL_CPU_LIMIT: no cgroup can be made here .*NOT limited", log), log
    alice = site.user("alice")
    kernel_id = alice.start_kernel()
    assert alice.stdout(kernel_id, "import resource; print(resource.getrlimit(resource.RLIMIT_DATA))") == \
        f"({256 * MiB}, {256 * MiB})\n"
    record = alice.run(kernel_id, "b = bytearray(400 * 1024 * 1024)")
    assert record["status"] == "error" and record["error"]["ename"] == "MemoryError", record
    # The kernel survives it.
    assert alice.stdout(kernel_id, "print(1 + 1)") == "2\n"


def test_a_v2_hierarchy_without_the_memory_controller_falls_back(tmp_path: Path) -> None:
    """cgroup v2 whose controllers are not there for us (here: a folder that looks like one,
    with the cpu controller only): the probe says so, and memory falls back to the rlimit."""
    (tmp_path / "cgroup.controllers").write_text("cpu io\n")
    limits = KernelLimits(256 * MiB, None, root=str(tmp_path))
    assert limits.version == 2
    assert limits.memory_by == "RLIMIT_DATA"
    assert limits.unavailable is not None and "memory controller is not available" in limits.unavailable
