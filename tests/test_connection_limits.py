"""The standalone server's bounds on connections (issue 17, section 1): the open-file limit,
the idle timeout (``NOTEBOOK_HTTP_IDLE_TIMEOUT``) and the connection limit
(``NOTEBOOK_MAX_CONNECTIONS``).

jupyter_server 2.21.1, checked live with the same probes: an idle connection, half a
request head, and a request whose body stops coming were all still open 8 s later
(tornado's defaults: 3600 s for a head, no limit for a body); it raises the soft open-file
limit to 4096 at most (``min_open_files_limit``), never to the hard limit.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import trustme
import websocket

from flask_notebook import create_app

from .support.env import AUTH, TOKEN, isolated_env
from .support.server import LiveServer
from .support.waiting import wait_for

pytestmark = pytest.mark.live

#: Runs the command in argv[2:] with RLIMIT_NOFILE set to argv[1], "SOFT:HARD".
LIMITED = ("import os, resource, sys; soft, hard = map(int, sys.argv[1].split(':')); "
           "resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)); os.execv(sys.argv[2], sys.argv[2:])")


def connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def until_closed(sock: socket.socket) -> tuple[float, bytes]:
    """Seconds until the server closes `sock`, and what it wrote meanwhile. Closes `sock`."""
    started = time.monotonic()
    data = b""
    with sock:
        while chunk := sock.recv(65536):
            data += chunk
    return time.monotonic() - started, data


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module, with an idle timeout of 1 s."""
    base = tmp_path_factory.mktemp("quick")
    (base / "root").mkdir()
    server = LiveServer(base / "root", base / "server.log", [],
                        {**os.environ, **isolated_env(base), "NOTEBOOK_HTTP_IDLE_TIMEOUT": "1"})
    yield server
    server.stop()


def body_of(response: bytes) -> object:
    return json.loads(response.split(b"\r\n\r\n", 1)[1])


def test_the_open_file_limit_is_raised_to_the_hard_limit_and_logged(tmp_path: Path, root: Path) -> None:
    log_path = tmp_path / "server.log"

    class Limited(LiveServer):
        def command(self, root: Path, args: list[str]) -> list[str]:
            return [sys.executable, "-c", LIMITED, "256:1024", *super().command(root, args)]

    server = Limited(root, log_path, [], dict(os.environ))
    try:
        limits = Path(f"/proc/{server.proc.pid}/limits").read_text()
        assert re.search(r"Max open files\s+1024\s+1024", limits), limits
        assert "open file limit 1024 (raised from 256): at most 480 connections at once" in server.log()
    finally:
        server.stop()


@pytest.mark.parametrize(("key", "value", "message"), [
    ("NOTEBOOK_HTTP_IDLE_TIMEOUT", 0, "NOTEBOOK_HTTP_IDLE_TIMEOUT must be a number of seconds above 0, not 0"),
    ("NOTEBOOK_HTTP_IDLE_TIMEOUT", "soon", "NOTEBOOK_HTTP_IDLE_TIMEOUT must be a number of seconds above 0, not 'soon'"),
    ("NOTEBOOK_HTTP_IDLE_TIMEOUT", True, "NOTEBOOK_HTTP_IDLE_TIMEOUT must be a number of seconds above 0, not True"),
    ("NOTEBOOK_MAX_CONNECTIONS", 0, "NOTEBOOK_MAX_CONNECTIONS must be a whole number above 0 (or unset), not 0"),
    ("NOTEBOOK_MAX_CONNECTIONS", "many", "NOTEBOOK_MAX_CONNECTIONS must be a whole number above 0 (or unset), "
                                         "not 'many'"),
    ("NOTEBOOK_MAX_CONNECTIONS", 1.5, "NOTEBOOK_MAX_CONNECTIONS must be a whole number above 0 (or unset), not 1.5"),
])
def test_a_bad_limit_stops_start_up_naming_the_key(root: Path, key: str, value: object, message: str) -> None:
    """(The command prints the message and exits with 2, as for every bad setting.)"""
    with pytest.raises(ValueError) as error:
        create_app({"NOTEBOOK_ROOT_DIR": str(root), key: value})
    assert str(error.value) == message


def test_limits_from_the_environment(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTEBOOK_HTTP_IDLE_TIMEOUT", "2.5")
    monkeypatch.setenv("NOTEBOOK_MAX_CONNECTIONS", "100")
    app = create_app({"NOTEBOOK_ROOT_DIR": str(root)})
    from flask_notebook import limits

    try:
        assert limits.idle_timeout(app.config["NOTEBOOK_HTTP_IDLE_TIMEOUT"]) == 2.5
        assert limits.max_connections(app.config["NOTEBOOK_MAX_CONNECTIONS"]) == 100
    finally:
        app.extensions["notebook"].shutdown_all()


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(quick: LiveServer) -> None:
    server = quick
    waited, data = until_closed(connect(server))  # (was: open for good)
    assert 0.8 < waited < 5 and data == b""


def test_half_a_request_head_is_answered_408_within_the_idle_timeout(quick: LiveServer) -> None:
    server = quick
    sock = connect(server)
    sock.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    waited, data = until_closed(sock)
    assert 0.8 < waited < 5
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert body_of(data) == {"message": "The request did not arrive whole within 1 s (NOTEBOOK_HTTP_IDLE_TIMEOUT)",
                             "reason": "request timeout"}


def test_a_head_sent_a_byte_at_a_time_gets_no_more_than_the_idle_timeout(quick: LiveServer) -> None:
    """The timeout bounds the whole head, not each read: trickling bytes does not extend it."""
    server = quick
    started = time.monotonic()
    with connect(server) as sock, pytest.raises(OSError):  # the server closes, and a write fails
        for byte in b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n" * 10:
            sock.sendall(bytes([byte]))
            time.sleep(0.1)  # trickling is the point of the test, not a wait
    assert time.monotonic() - started < 5


def test_a_keep_alive_connection_is_closed_after_the_idle_timeout(quick: LiveServer) -> None:
    server = quick
    sock = connect(server)
    sock.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token " + TOKEN.encode() + b"\r\n\r\n")
    waited, data = until_closed(sock)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert 0.8 < waited < 5


def test_a_request_body_that_stops_coming_is_answered_408(quick: LiveServer) -> None:
    server = quick
    sock = connect(server)
    sock.sendall(b"PUT /api/contents/stalled.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token "
                 + TOKEN.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"type\"")
    waited, data = until_closed(sock)
    assert 0.8 < waited < 5
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.1 408 ") and "\r\nConnection: close" in head
    assert body_of(data) == {"message": "No data came from the client for 1 s while the request body was read "
                                        "(NOTEBOOK_HTTP_IDLE_TIMEOUT)", "reason": None}
    assert not (server.root / "stalled.txt").exists()


def test_a_slow_body_that_keeps_coming_is_read_whole(quick: LiveServer) -> None:
    """The body's timeout is per read: an upload slower than the timeout overall is fine."""
    server = quick
    body = json.dumps({"type": "file", "format": "text", "content": "x" * 40}).encode()
    sock = connect(server)
    sock.sendall(b"PUT /api/contents/a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token " + TOKEN.encode()
                 + b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
    for start in range(0, len(body), len(body) // 5):
        sock.sendall(body[start:start + len(body) // 5])
        time.sleep(0.4)  # a slow body is the point of the test, not a wait
    _, data = until_closed(sock)
    assert data.startswith(b"HTTP/1.1 201 CREATED\r\n"), data
    assert (server.root / "a.txt").read_text() == "x" * 40


def test_idle_connections_make_room_at_the_connection_limit(start_server: Callable[..., LiveServer]) -> None:
    """At the limit, the connection idle the longest is closed so that a newcomer is served
    at once, as nginx closes keep-alive connections when it runs short."""
    server = start_server(env={"NOTEBOOK_MAX_CONNECTIONS": "2"})
    first, second = connect(server), connect(server)  # taken in before the newcomer, in this order
    started = time.monotonic()
    assert server.request("GET", "api/status", timeout=10).status_code == 200  # (was: no limit at all)
    assert time.monotonic() - started < 4
    assert until_closed(first)[1] == b""
    with second, pytest.raises(TimeoutError):
        second.settimeout(0.5)
        second.recv(1)


def test_connections_past_the_limit_wait_for_a_slot_then_get_503(start_server: Callable[..., LiveServer]) -> None:
    """WebSockets hold their slots (they are never timed out); a newcomer waits for one as long
    as the idle timeout (at most 5 s), then is answered 503 with a JSON body."""
    server = start_server(env={"NOTEBOOK_MAX_CONNECTIONS": "2", "NOTEBOOK_HTTP_IDLE_TIMEOUT": "1"})
    url = server.url.replace("http", "ws", 1) + "api/events/subscribe"
    sockets = [websocket.create_connection(url, header=[f"Authorization: token {TOKEN}"], timeout=10)
               for _ in range(2)]
    time.sleep(1.5)  # the point of the test: longer than the idle timeout, and WebSockets stay
    started = time.monotonic()
    refused = requests.get(server.url + "api/status", headers=AUTH, timeout=10)  # (was 200: no limit)
    assert 0.8 < time.monotonic() - started < 4.5
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.json() == {"message": "The server has too many open connections (NOTEBOOK_MAX_CONNECTIONS=2); "
                                         "try again shortly", "reason": "too many connections"}
    assert "connections past the limit are answered 503: 2 open (NOTEBOOK_MAX_CONNECTIONS=2)" in server.log()
    for ws in sockets:  # both still open
        ws.ping(b"still there?")
        assert ws.recv_data(control_frame=True) == (websocket.ABNF.OPCODE_PONG, b"still there?")
    sockets[0].close()
    wait_for(lambda: requests.get(server.url + "api/status", headers=AUTH, timeout=10).status_code == 200)
    sockets[1].close()


def test_a_tls_handshake_that_never_comes_is_closed_after_the_idle_timeout(
        start_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    server = start_server("--certfile", str(certfile), "--keyfile", str(keyfile),
                          env={"NOTEBOOK_HTTP_IDLE_TIMEOUT": "1"})
    waited, data = until_closed(connect(server))  # (was: open for good)
    assert 0.8 < waited < 5 and data == b""
