"""Two notebook apps in one process keep their own WebSocket settings: each app's sockets are
pinged at that app's NOTEBOOK_WS_PING_INTERVAL. (Before, one process-wide pinger pinged every
socket at the interval of the first socket it was given, whichever app it belonged to.)"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websocket

from ..support.env import AUTH, TOKEN, isolated_env
from ..support.kernel_client import KernelClient
from ..support.kernels import add_kernelspec
from ..support.waiting import wait_for

SERVER = Path(__file__).with_name("two_apps.py")
#: The two apps' ping intervals, far enough apart that load on the machine cannot blur them.
FAST, SLOW = 0.2, 1.5

pytestmark = pytest.mark.live


class TwoApps:
    """``two_apps.py`` in a subprocess: apps ``a`` (pinging every FAST s) and ``b`` (SLOW s)."""

    def __init__(self, base: Path) -> None:
        env = {**os.environ, **isolated_env(base)}
        add_kernelspec(base / "data", "python3", [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                  "{connection_file}"])
        roots = [base / "a", base / "b"]
        for root in roots:
            root.mkdir()
        self.log_path = base / "server.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, str(SERVER), *map(str, roots), TOKEN, str(FAST), str(SLOW)],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env)
        match = wait_for(self._listening, timeout=30)
        self.url = match.group(1)

    def _listening(self) -> re.Match[str] | None:
        assert self.proc.poll() is None, f"it exited:\n{self.log()}"
        return re.search(r"Serving on (http://127\.0\.0\.1:\d+/)", self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start_kernel(self, app: str) -> str:
        response = requests.post(f"{self.url}{app}/api/kernels", headers=AUTH, json={}, timeout=60)
        assert response.status_code == 201, (response.text, self.log())
        return str(response.json()["id"])

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self._log.close()


@pytest.fixture
def two_apps(tmp_path: Path) -> Iterator[TwoApps]:
    server = TwoApps(tmp_path)
    yield server
    server.stop()


class PingCounter:
    """Reads a WebSocket in a thread, answering pings (websocket-client does) and noting when
    each came."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.pings: list[float] = []
        self.closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                opcode, _ = self.ws.recv_data(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_PING:
                    self.pings.append(time.monotonic())
                elif opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
        except (websocket.WebSocketException, OSError):
            pass
        finally:
            self.closed = True

    def gaps(self) -> list[float]:
        return [later - earlier for earlier, later in zip(self.pings, self.pings[1:])]

    def stop(self) -> None:
        self.ws.shutdown()
        self._thread.join(timeout=10)


def test_each_app_pings_its_sockets_at_its_own_interval(two_apps: TwoApps) -> None:
    # The fast app's socket first: a process-wide pinger would then ping both at FAST.
    kernels = {app: two_apps.start_kernel(app) for app in ("a", "b")}
    fast = PingCounter(KernelClient(two_apps.url + "a/", kernels["a"], TOKEN).ws)
    slow = PingCounter(KernelClient(two_apps.url + "b/", kernels["b"], TOKEN).ws)
    try:
        wait_for(lambda: len(slow.pings) >= 3 or slow.closed, timeout=20)
        wait_for(lambda: len(fast.pings) >= 6 or fast.closed, timeout=20)
        assert not (fast.closed or slow.closed), two_apps.log()
        # gevent.sleep(interval) between rounds: pings of one socket are never closer than its
        # interval; a loaded machine only spaces them further.
        assert min(slow.gaps()) >= SLOW * 0.9, (slow.gaps(), two_apps.log())
        assert statistics.median(fast.gaps()) < SLOW / 2, (fast.gaps(), two_apps.log())
    finally:
        fast.stop()
        slow.stop()
