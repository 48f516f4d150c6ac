"""`POST /api/shutdown`: the same clean stop as SIGTERM, for the standalone server and for
gunicorn with gunicorn.conf.py, with real kernels (contract sections 8 and 11).

Compared with a live jupyter_server 2.21.1, a kernel running: ``POST /api/shutdown`` with the
token -> 200, empty body (Content-Type ``text/html``: it is not an API handler; ours is
JSON-typed, as every API answer), sent once the kernels are shut down; the kernel's process
and connection file are gone and the server exits (status 0) at once. A cookie session
without the XSRF header -> 403; no credentials -> 403.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
import requests

from ..support.env import TOKEN
from ..support.kernel_client import Closed
from ..support.kernels import kernel_processes
from ..support.server import Server

pytestmark = pytest.mark.live


@pytest.mark.parametrize("kind", ["cli", "gunicorn"])
def test_shutdown_stops_kernels_and_the_whole_service(backend: Callable[..., Server], kind: str) -> None:
    server = backend(kind)
    idle = server.start_kernel()
    busy = server.start_kernel()
    watcher = server.client(idle)
    running = server.client(busy)
    msg_id = running.execute("import time\nprint('looping', flush=True)\nwhile True:\n    time.sleep(0.05)")
    running.until(lambda m: m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "stream")
    assert len(kernel_processes(server.runtime_dir)) == 2
    assert len(list(server.runtime_dir.glob("kernel-*.json"))) == 2
    # Unauthenticated, or a cookie session without the XSRF header: refused, nothing stops.
    assert requests.post(server.url + "api/shutdown", timeout=10).status_code == 403
    browser = requests.Session()
    assert browser.get(f"{server.url}tree?token={TOKEN}", timeout=10).status_code == 200
    assert browser.post(server.url + "api/shutdown", timeout=10).status_code == 403
    assert server.proc.poll() is None and len(kernel_processes(server.runtime_dir)) == 2

    started = time.monotonic()
    response = server.request("POST", "api/shutdown")
    assert response.status_code == 200, response.text
    assert response.content == b"" and response.headers["Content-Type"] == "application/json"
    # As in jupyter_server, the answer comes once the kernels are shut down.
    assert not kernel_processes(server.runtime_dir)
    assert not list(server.runtime_dir.glob("kernel-*.json"))
    assert server.proc.wait(timeout=5) == 0
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"{kind} took {elapsed:.1f} s to stop"
    print(f"{kind} stopped {elapsed:.2f} s after the request")
    for client in (watcher, running):  # their WebSockets were closed
        with pytest.raises((Closed, OSError)):
            client.until(lambda m: False, timeout=5)
    log = server.log()
    assert "Shutting down on /api/shutdown request" in log
    # No error of ours (the interrupted kernel may print its own, as it dies) and no kill.
    assert not re.search(r"^\[(ERROR|CRITICAL)|\] \[(ERROR|CRITICAL)\]", log, re.M), log
    assert "SIGKILL" not in log and "graceful timeout" not in log
    if kind == "gunicorn":  # the arbiter itself stopped; it did not start a new worker
        assert "Booting worker" in log and log.count("Booting worker") == 1
        assert "Shutting down: Master" in log
