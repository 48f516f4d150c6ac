"""The events WebSocket `/api/events/subscribe` against the real server and real kernels.

Each frame is compared as text with what a live jupyter_server 2.21.1 sent for the same REST
calls (its handler writes ``json.dumps({"schema_id": ..., **data})``), ids aside.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import websocket

from ..support.env import TOKEN
from ..support.events import CS, KA, events_url, frames_before_marker, kernel_frame, post_event, read_frames, subscribe
from ..support.server import Server
from ..support.waiting import wait_for


@pytest.fixture
def subscriber(server: Server) -> Iterator[websocket.WebSocket]:
    ws = subscribe(server)
    yield ws
    ws.close()


def test_kernel_actions_are_the_reference_frames(server: Server, subscriber: websocket.WebSocket) -> None:
    kid = server.start_kernel()
    assert read_frames(subscriber, 1) == [kernel_frame("start", kid, "started")]
    wait_for(lambda: server.kernel(kid)["execution_state"] == "idle", timeout=30)
    assert server.request("POST", f"api/kernels/{kid}/interrupt").status_code == 204
    assert read_frames(subscriber, 1) == [kernel_frame("interrupt", kid, "interrupted")]
    server.json("POST", f"api/kernels/{kid}/restart", 200)
    assert read_frames(subscriber, 1) == [kernel_frame("restart", kid, "restarted")]
    assert server.request("DELETE", f"api/kernels/{kid}").status_code == 204
    assert read_frames(subscriber, 1) == [kernel_frame("shutdown", kid, "shutdown")]
    # An unknown kernel is a 404 before anything is tried: no event (as the reference).
    assert server.request("POST", f"api/kernels/{kid}/interrupt").status_code == 404
    assert server.request("DELETE", f"api/kernels/{kid}").status_code == 404
    assert frames_before_marker(server, subscriber) == []


def test_failed_starts_are_error_frames(server: Server, subscriber: websocket.WebSocket) -> None:
    """The reference's msg is the underlying error's text; it also sends the kernel id it had
    made up for the kernel that never ran, which we do not have (the schema allows leaving it
    out for a failed start)."""
    assert server.request("POST", "api/kernels", json={"name": "nope"}).status_code == 404
    assert server.request("POST", "api/kernels", json={"name": "broken"}).status_code == 500
    assert [json.loads(frame) for frame in read_frames(subscriber, 2)] == [
        {"schema_id": KA, "kernel_name": "nope", "action": "start", "status": "error",
         "msg": "No such kernel named nope"},
        {"schema_id": KA, "kernel_name": "broken", "action": "start", "status": "error",
         "msg": "[Errno 2] No such file or directory: '/nonexistent/kernel-program'"},
    ]


def test_sessions_start_and_shut_down_kernels_with_events(server: Server, subscriber: websocket.WebSocket) -> None:
    """As jupyter_server, whose kernel manager emits them whoever asks."""
    session = server.json("POST", "api/sessions", 201, json={"path": "s.ipynb", "type": "notebook", "name": "",
                                                              "kernel": {"name": "python3"}})
    kid = session["kernel"]["id"]
    assert read_frames(subscriber, 1) == [kernel_frame("start", kid, "started")]
    assert server.request("DELETE", f"api/sessions/{session['id']}").status_code == 204
    assert read_frames(subscriber, 1) == [kernel_frame("shutdown", kid, "shutdown")]


def test_contents_actions_are_the_reference_frames(server: Server, subscriber: websocket.WebSocket) -> None:
    text = {"type": "file", "format": "text", "content": "hi"}
    assert server.request("PUT", "api/contents/ev.txt", json=text).status_code == 201
    assert server.request("PATCH", "api/contents/ev.txt", json={"path": "ev2.txt"}).status_code == 200
    copied = server.json("POST", "api/contents", 201, json={"copy_from": "ev2.txt"})["path"]
    assert server.request("DELETE", "api/contents/ev2.txt").status_code == 204
    assert read_frames(subscriber, 4) == [
        json.dumps({"schema_id": CS, "action": "save", "path": "ev.txt"}),
        json.dumps({"schema_id": CS, "action": "rename", "path": "ev2.txt", "source_path": "ev.txt"}),
        json.dumps({"schema_id": CS, "action": "copy", "path": copied, "source_path": "ev2.txt"}),
        json.dumps({"schema_id": CS, "action": "delete", "path": "ev2.txt"}),
    ]
    server.request("DELETE", f"api/contents/{copied}")


def test_client_frames_are_ignored(server: Server, subscriber: websocket.WebSocket) -> None:
    subscriber.send("hello")
    subscriber.send_binary(b"\x00\x01")
    assert post_event(server, {"action": "get", "path": "after"}).status_code == 204
    assert json.loads(subscriber.recv()) == {"schema_id": CS, "action": "get", "path": "after"}


def test_subscribers_that_leave_are_removed(server: Server) -> None:
    """One closes cleanly, one drops its TCP connection: both are removed, and the one left
    still gets every event."""
    stays, closes, drops = subscribe(server), subscribe(server), subscribe(server)
    before = server.log().count("events subscriber left")
    closes.close()
    drops.shutdown()  # the TCP connection closes, with no close frame
    wait_for(lambda: server.log().count("events subscriber left") == before + 2, timeout=10)
    for n in range(3):
        assert post_event(server, {"action": "get", "path": f"n{n}"}).status_code == 204
    assert [json.loads(frame)["path"] for frame in read_frames(stays, 3)] == ["n0", "n1", "n2"]
    stays.close()
    wait_for(lambda: server.log().count("events subscriber left") == before + 3, timeout=10)


def test_a_subscriber_that_never_answers_pings_is_dropped(make_server: Any) -> None:
    """A peer gone without closing (a laptop shut) is noticed by the pings and removed."""
    srv = make_server(env={"NOTEBOOK_WS_PING_INTERVAL": "1"})
    silent = subscribe(srv)  # never reads again, so never answers a ping
    wait_for(lambda: "events subscriber left (0 remain)" in srv.log(), timeout=15)
    silent.shutdown()


def test_a_slow_subscriber_never_holds_up_the_emitter(server: Server) -> None:
    """A subscriber that never reads: once its socket's buffers and its queue (1 MiB) are full
    its events are dropped (logged), while posting stays prompt and another subscriber gets
    every event, each before the next is posted."""
    stuck = subscribe(server, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    reader = subscribe(server)
    filler = "x" * 128 * 1024
    slowest = 0.0
    for n in range(64):  # 8 MiB
        started = time.monotonic()
        assert post_event(server, {"action": "get", "path": str(n), "filler": filler}).status_code == 204
        slowest = max(slowest, time.monotonic() - started)
        assert json.loads(read_frames(reader, 1)[0])["path"] == str(n)
    assert slowest < 5
    wait_for(lambda: "dropping its events until it catches up" in server.log(), timeout=10)
    left = server.log().count("events subscriber left")
    reader.close()
    stuck.shutdown()  # while the server is stuck writing to it: an error there ends it quietly
    wait_for(lambda: server.log().count("events subscriber left") == left + 2, timeout=10)
    assert "blueprints/events.py" not in server.log()  # no traceback through the subscriber


def test_websocket_auth(server: Server) -> None:
    """As the kernel WebSocket: 403 before the handshake without credentials; a token (header
    or query) or the login cookie from the same origin; never the cookie from another origin."""
    from .test_websocket import handshake_status

    url = events_url(server)
    assert handshake_status(url) == 403
    assert handshake_status(url + "?token=wrong") == 403
    assert handshake_status(url + f"?token={TOKEN}") == 101
    assert handshake_status(url, header=[f"Authorization: token {TOKEN}"]) == 101
    with requests.Session() as session:
        assert session.get(server.url + f"api/me?token={TOKEN}", timeout=10).status_code == 200
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    host = server.url.split("/")[2]
    assert handshake_status(url, cookie=cookie, origin=f"http://{host}") == 101
    assert handshake_status(url, cookie=cookie, origin="http://evil.example") == 403


def test_no_subprotocol_and_no_compression(server: Server) -> None:
    ws = websocket.create_connection(events_url(server), timeout=30, header=[
        f"Authorization: token {TOKEN}", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"])
    try:
        assert ws.getsubprotocol() is None
        assert "sec-websocket-extensions" not in ws.getheaders()
    finally:
        ws.close()


def test_subscribers_are_closed_when_the_server_stops(make_server: Any) -> None:
    srv = make_server()
    ws = subscribe(srv)
    started = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    try:
        opcode, data = ws.recv_data(control_frame=True)
    finally:
        ws.shutdown()
    assert opcode == websocket.ABNF.OPCODE_CLOSE and data[:2] == b"\x03\xe8"  # 1000, a normal close
    assert srv.proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
