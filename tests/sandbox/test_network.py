"""NOTEBOOK_KERNEL_NETWORK = false: the kernel has no network, not even the server's port on
loopback, and still answers: its ZMQ sockets are Unix sockets in a folder of its own."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from .conftest import SandboxSite, run


def test_network_off_cuts_the_kernel_off_and_it_still_answers(start_site: Callable[..., SandboxSite]) -> None:
    site = start_site(NOTEBOOK_KERNEL_NETWORK="false")
    kernel_id = site.start_kernel("alice")
    client = site.client("alice", kernel_id)
    code = ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', %d), timeout=5)\n"
            "except OSError as exc:\n    print(type(exc).__name__)\nelse:\n    print('connected')" % site.port)
    assert run(client, code) == ("ConnectionRefusedError\n", None)
    info = json.loads((site.runtime_dir / f"kernel-{kernel_id}.json").read_text())
    assert info["transport"] == "ipc"
    sockets = os.path.dirname(info["ip"])
    assert sorted(os.listdir(sockets)) == [f"k-{n}" for n in range(1, 6)]
    assert os.stat(sockets).st_mode & 0o777 == 0o700
    # Another kernel's sockets are not in this one's sandbox.
    other = site.start_kernel("alice")
    site.client("alice", other)
    other_info = json.loads((site.runtime_dir / f"kernel-{other}.json").read_text())
    assert run(client, f"import os; print(os.path.exists({other_info['ip'] + '-1'!r}))") == ("False\n", None)
    site.api("alice", "POST", f"kernels/{kernel_id}/restart", 200)  # the same sockets' paths
    client.wait_ready()
    assert run(client, "print(1 + 1)") == ("2\n", None)
    client.close()
    site.api("alice", "DELETE", f"kernels/{kernel_id}", 204)
    assert not os.path.exists(sockets)
