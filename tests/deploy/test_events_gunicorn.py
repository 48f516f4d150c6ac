"""The events WebSocket under `gunicorn -c gunicorn.conf.py app:app` (gevent worker): frames,
a subscriber that leaves, and a prompt stop with subscribers connected."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest
import websocket

from ..support.events import kernel_frame, read_frames, subscribe
from ..support.server import Server
from ..support.waiting import wait_for

pytestmark = pytest.mark.live


def test_events_websocket_under_gunicorn(backend: Callable[..., Server]) -> None:
    server = backend("gunicorn")
    ws = subscribe(server)
    leaves = subscribe(server)
    leaves.close()
    wait_for(lambda: "events subscriber left (1 remain)" in server.log(), timeout=10)
    kid = server.start_kernel()
    assert server.request("DELETE", f"api/kernels/{kid}").status_code == 204
    assert read_frames(ws, 2) == [kernel_frame("start", kid, "started"), kernel_frame("shutdown", kid, "shutdown")]

    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    try:
        opcode, data = ws.recv_data(control_frame=True)
    finally:
        ws.shutdown()
    assert opcode == websocket.ABNF.OPCODE_CLOSE and data[:2] == b"\x03\xe8"
    assert server.proc.wait(timeout=15) == 0
    assert time.monotonic() - started < 8, server.log()
