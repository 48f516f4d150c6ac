"""A peer that stays connected but stops reading: once the server's write to it has not
ended for three ping intervals, the socket is aborted, and everything it held is let go.
(Before, the pinger skipped a socket busy with a write forever: its greenlet, descriptor and
queue were held for good.)"""

from __future__ import annotations

import socket
from typing import Any

from ..support.events import post_event, subscribe
from ..support.waiting import wait_for


def test_a_subscriber_that_stops_reading_is_aborted(make_server: Any) -> None:
    srv = make_server(env={"NOTEBOOK_WS_PING_INTERVAL": "1"})
    stuck = subscribe(srv, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    filler = "x" * 256 * 1024
    for n in range(16):  # 4 MiB: more than the socket buffers take, so the server's write waits
        assert post_event(srv, {"action": "get", "path": str(n), "filler": filler}).status_code == 204
    wait_for(lambda: "aborting a WebSocket whose peer read nothing" in srv.log(), timeout=20)
    wait_for(lambda: "events subscriber left (0 remain)" in srv.log(), timeout=10)
    stuck.shutdown()


def test_a_kernel_websocket_that_stops_reading_is_aborted(make_server: Any) -> None:
    srv = make_server(env={"NOTEBOOK_WS_PING_INTERVAL": "1"})
    kid = srv.start_kernel()
    stuck = srv.connect(kid, sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)])  # never reads
    wait_for(lambda: srv.kernel(kid)["connections"] == 1, timeout=10)
    # Output the stuck peer cannot take, run over REST: the server's write to it waits (its
    # queue sheds the rest), and a ping is never asked of it while it does.
    # Under load the relay batches and sheds more, and what it writes may all fit in the
    # socket's buffers: the flood goes on until the write waits long enough.

    def flood_until_aborted() -> bool:
        flood = srv.request("POST", f"api/kernels/{kid}/execute",
                            json={"code": "for i in range(3000): print('x' * 1000)"}, timeout=60)
        assert flood.status_code == 200 and flood.json()["status"] == "ok"
        return "aborting a WebSocket whose peer read nothing" in srv.log()

    wait_for(flood_until_aborted, timeout=60)
    wait_for(lambda: srv.kernel(kid)["connections"] == 0, timeout=10)
    after = srv.request("POST", f"api/kernels/{kid}/execute", json={"code": "1+1"}, timeout=60).json()
    assert after["outputs"][0]["data"]["text/plain"] == "2"
    stuck.ws.shutdown()
