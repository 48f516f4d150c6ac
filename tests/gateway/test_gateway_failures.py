"""A gateway that restarts under us, and one that cannot be reached: clear errors, nothing
hangs, the server keeps answering (issue 22, part 2)."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..support.gateway import Gateway, free_port
from ..support.kernel_client import V1
from ..support.server import Server
from ..support.waiting import wait_for
from .conftest import gateway_env


def test_a_gateway_restarted_under_us_loses_the_kernel_and_we_say_so(make_gateway: Callable[..., Gateway],
                                                                     make_server: Callable[..., Server]) -> None:
    gateway = make_gateway()
    srv = make_server(env=gateway_env(gateway))
    kernel_id = srv.start_kernel(name="python3")
    client = srv.client(kernel_id, V1)
    client.run("x = 1")

    gateway.stop()
    gateway.start()  # the same port, a new gateway: it has no kernel
    dead = client.until(lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "dead",
                        timeout=30)[-1]
    assert "no longer has this kernel" in dead["content"]["reason"], dead
    wait_for(lambda: srv.request("GET", f"api/kernels/{kernel_id}").status_code == 404, timeout=10)

    fresh = srv.start_kernel(name="python3")  # new kernels start on the new gateway
    assert srv.client(fresh, V1).run("1")
    srv.json("DELETE", f"api/kernels/{fresh}", 204)
    assert gateway.kernel_ids() == set()


def check_unreachable(srv: Server, within: float) -> None:
    for method, path, body in (("GET", "api/kernelspecs", None), ("POST", "api/kernels", {"name": "python3"}),
                               ("POST", "api/kernels", {}),
                               ("POST", "api/sessions", {"path": "a.ipynb", "type": "notebook",
                                                         "kernel": {"name": "python3"}})):
        t0 = time.monotonic()
        response = srv.request(method, path, json=body)
        took = time.monotonic() - t0
        assert 500 <= response.status_code < 600, (path, response.status_code, response.text)
        error = response.json()
        assert "gateway" in error["message"] and error["reason"], error
        assert took < within, (path, took)
        assert srv.request("GET", "api/status").status_code == 200
    assert srv.json("GET", "api/kernels", 200) == []


def test_nothing_listening(make_server: Callable[..., Server]) -> None:
    srv = make_server(env={"NOTEBOOK_GATEWAY_URL": f"http://127.0.0.1:{free_port()}"})
    check_unreachable(srv, within=5)


def test_a_black_hole_within_the_connect_timeout(make_server: Callable[..., Server]) -> None:
    # A non-routable address: the SYN goes unanswered (or the network says so at once).
    srv = make_server(env={"NOTEBOOK_GATEWAY_URL": "http://10.255.255.1:8888", "NOTEBOOK_GATEWAY_CONNECT_TIMEOUT": "1"})
    check_unreachable(srv, within=6)


def test_a_gateway_that_never_answers_within_the_request_timeout(make_server: Callable[..., Server]) -> None:
    import socket

    with socket.socket() as silent:  # accepts connections (the backlog does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        srv = make_server(env={"NOTEBOOK_GATEWAY_URL": f"http://127.0.0.1:{silent.getsockname()[1]}",
                               "NOTEBOOK_GATEWAY_REQUEST_TIMEOUT": "1"})
        check_unreachable(srv, within=6)


def test_a_gateway_that_stops_reading_fails_a_send_within_the_deadline() -> None:
    """The bridge's sends to the gateway's WebSocket (``transport.wsclient``): a peer that takes
    nothing makes a send raise after the deadline (the handshake socket's timeout) and closes
    the socket, so the bridge reconnects instead of hanging with the send lock held."""
    import gevent
    import pytest
    from gevent import socket as gsocket
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Request

    from flask_notebook.transport.wsclient import handshake

    ours, theirs = gsocket.socketpair()
    server = WSConnection(ConnectionType.SERVER)

    def accept() -> None:  # the handshake's answer, then never another read
        while True:
            server.receive_data(theirs.recv(65536))
            for event in server.events():
                if isinstance(event, Request):
                    theirs.sendall(server.send(AcceptConnection()))
                    return

    acceptor = gevent.spawn(accept)
    try:
        ours.settimeout(1.0)
        ws = handshake(ours, "gateway", "/api/kernels/k/channels", [])
        acceptor.join(timeout=5)
        ours.settimeout(None)
        t0 = time.monotonic()
        with gevent.Timeout(15), pytest.raises(TimeoutError):
            for _ in range(100):
                ws.send(b"x" * 1_000_000)
        assert 0.9 < time.monotonic() - t0 < 5 and ws.closed
    finally:
        acceptor.kill()
        ours.close()
        theirs.close()
