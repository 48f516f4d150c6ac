"""How REST executions end when their client or their kernel goes away: an event stream whose
client disconnects ends on the server while the code runs on; a kernel whose autorestart gives
up ends its requests and then answers 404."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import time
import uuid
from pathlib import Path
from collections.abc import Callable
from typing import Any

from ..support.env import TOKEN
from ..support.execute import execute, result, stdout
from ..support.kernels import add_kernelspec
from ..support.server import Server
from ..support.waiting import wait_for

#: Prints a line every 0.1 s for a minute: the server writes to the stream all along.
CHATTY = "import time\nfor i in range(600):\n    print(i, flush=True)\n    time.sleep(0.1)"

#: A kernel that works once: later starts (its autorestarts) exit at once with status 3.
ONCE_THEN_CRASH = """\
import os, sys
marker, connection_file = sys.argv[1], sys.argv[2]
if os.path.exists(marker):
    sys.exit(3)
open(marker, "w").close()
os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file])
"""


def open_event_stream(server: Server, path: str, code: str) -> socket.socket:
    """POST `code` to `path` over a plain socket asking for events; returns the socket once
    the response headers are in (the caller reads the events)."""
    body = json.dumps({"code": code}).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: token {TOKEN}\r\n"
        f"Accept: text/event-stream\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        .encode() + body)
    return sock


def read_until(sock: socket.socket, done: Callable[[bytes], Any], timeout: float = 30) -> Any:
    """Read the response until `done(everything so far)` is truthy, and return that."""
    received = b""
    deadline = time.monotonic() + timeout
    while not (found := done(received)):
        assert time.monotonic() < deadline, f"not received within {timeout} s: {received[-500:]!r}"
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the stream early: {received[-500:]!r}"
        received += chunk
    return found


def test_an_event_stream_ends_on_the_server_when_its_client_goes_away(server: Server, kernel_id: str) -> None:
    # A query the server ignores tells this request apart in the access log, which gevent
    # writes when the request's handler has finished: that line is the observable.
    path = f"/api/kernels/{kernel_id}/execute?probe={uuid.uuid4().hex}"
    done_line = re.compile(rf'"POST {re.escape(path)} HTTP/1\.1" 200 ')
    sock = open_event_stream(server, path, CHATTY)
    try:
        accepted = read_until(sock, re.compile(rb"event: accepted\r?\ndata: (\{.*?\})\r?\n").search)
        request_id = json.loads(accepted.group(1))["id"]
        read_until(sock, lambda received: received.count(b"event: output") >= 3)  # the code runs, output streams
        assert not done_line.search(server.log())
    finally:
        sock.close()
    # The server notices at one of its next writes (one every 0.1 s) and ends the request...
    wait_for(lambda: done_line.search(server.log()), timeout=10)
    # ... while the code goes on running, its output still recorded.
    location = f"api/kernels/{kernel_id}/requests/{request_id}"
    before = server.json("GET", location, 202)
    assert before["status"] == "running", before
    wait_for(lambda: len(stdout(server.json("GET", location, 202))) > len(stdout(before)), timeout=10)
    # Its record stays, a cancel ends it, and the kernel takes the next request.
    assert server.json("DELETE", location, 200)["status"] == "aborted"
    assert result(execute(server, kernel_id, "6 * 7").json()) == "42"
    # The REST executor lets go of the kernel once it has nothing left to run.
    wait_for(lambda: server.kernel(kernel_id)["connections"] == 0, timeout=10)


def assert_json_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"message", "reason"} and body["message"], body
    return body  # type: ignore[no-any-return]


def test_executing_on_a_kernel_whose_autorestart_gives_up(server: Server, tmp_path: Path) -> None:
    script = tmp_path / "once_then_crash.py"
    script.write_text(ONCE_THEN_CRASH)
    add_kernelspec(server.base / "data", "once", [sys.executable, str(script), str(tmp_path / "started"),
                                                  "{connection_file}"])
    kernel_id = server.start_kernel(name="once")
    url = f"api/kernels/{kernel_id}/execute"
    pid = int(result(execute(server, kernel_id, "import os\nos.getpid()").json()) or 0)
    running = execute(server, kernel_id, "import time\ntime.sleep(600)", 202, params={"wait": "false"})
    long_request = running.headers["Location"]
    wait_for(lambda: server.json("GET", long_request, 202)["status"] == "running", timeout=30)

    os.kill(pid, signal.SIGKILL)
    # While it is restarted (and dies again, five times), every execute is answered at once:
    # accepted (it ends when the kernel does), 503 while a restart is under way, or 409 dead;
    # then, once the kernel is declared dead and removed, 404.
    accepted: list[str] = []
    answers: list[tuple[int, Any]] = []
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, f"the kernel was not declared dead within 60 s: {answers}"
        response = server.request("POST", url, json={"code": "1"}, params={"wait": "false"}, timeout=10)
        if response.status_code == 202:
            accepted.append(response.headers["Location"])
            answers.append((202, None))
        elif response.status_code == 404:
            break
        else:
            body = assert_json_error(response, response.status_code)
            answers.append((response.status_code, body["reason"]))
            assert (response.status_code, body["reason"]) in ((503, "kernel restarting"), (409, "kernel dead")), body
        time.sleep(0.05)

    body = assert_json_error(response, 404)
    assert kernel_id in body["message"]
    assert server.request("GET", f"api/kernels/{kernel_id}").status_code == 404
    log = server.log()
    assert f"kernel {kernel_id} is dead" in log and "exited with code 3" in log

    # The request that was running ended with the first death and its cause; every request
    # accepted meanwhile ended too (none hangs), and all of them stay readable.
    record = server.json("GET", long_request, 200)
    assert record["status"] == "error" and record["error"]["ename"] == "DeadKernelError", record
    assert "SIGKILL" in record["error"]["evalue"]
    for location in accepted:
        record = wait_for(lambda: (r := server.request("GET", location)).status_code == 200 and r.json(), timeout=30)
        assert record["status"] == "error" and record["error"]["ename"] == "DeadKernelError", record
    # Later requests get the same clear 404, and the rest of the server is unaffected.
    assert_json_error(server.request("POST", url, json={"code": "1"}), 404)
    other = server.start_kernel()
    try:
        assert result(execute(server, other, "1 + 1").json()) == "2"
    finally:
        server.request("DELETE", f"api/kernels/{other}")
