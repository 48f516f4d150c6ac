"""The kernel WebSocket against real kernels: both protocols, the relay's guarantees (contract 9)."""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import trustme
import websocket

from ..support.env import TOKEN, isolated_env
from ..support.kernel_client import V1, Closed, KernelClient, of_type, stdout_of
from ..support.kernels import add_kernelspec
from ..support.server import Server
from ..support.waiting import wait_for

PROTOCOLS = [pytest.param(V1, id="v1"), pytest.param(None, id="legacy")]
PROJECT = Path(__file__).parent.parent.parent


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_execute_stream_display_error(server: Server, kernel_id: str, protocol: str | None) -> None:
    client = server.client(kernel_id, protocol)
    assert client.negotiated == protocol
    reply = client.received[-1]
    assert reply["channel"] == "shell" and reply["content"]["status"] == "ok"
    if protocol is None:  # legacy JSON carries these at the top level
        assert reply["msg_type"] == reply["header"]["msg_type"] and reply["msg_id"] == reply["header"]["msg_id"]

    result = client.run("1+1")
    assert [m["content"]["data"]["text/plain"] for m in of_type(result, "execute_result")] == ["2"]
    assert of_type(result, "execute_reply")[0]["content"]["status"] == "ok"
    assert of_type(result, "execute_input")[0]["content"]["code"] == "1+1"

    out = client.run("import sys\nprint('hello')\nprint('oops', file=sys.stderr)")
    assert stdout_of(out) == "hello\n"
    assert "oops" in "".join(m["content"]["text"] for m in of_type(out, "stream") if m["content"]["name"] == "stderr")

    shown = client.run("from IPython.display import display, HTML\ndisplay(HTML('<b>x</b>'))")
    assert of_type(shown, "display_data")[0]["content"]["data"]["text/html"] == "<b>x</b>"

    failed = client.run("1/0")
    error = of_type(failed, "error")[0]["content"]
    assert error["ename"] == "ZeroDivisionError" and error["traceback"]
    assert of_type(failed, "execute_reply")[0]["content"]["status"] == "error"
    client.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_request_sent_while_the_kernel_starts_loses_no_output(server: Server, protocol: str | None) -> None:
    """Sent at once, with no kernel_info first: it waits in the server until the kernel has
    answered the relay and iopub reaches it, then every line it prints arrives, and its busy
    and idle."""
    kid = server.start_kernel()
    try:
        client = server.connect(kid, protocol)
        out = client.run("for i in range(200): print(i)", timeout=60)
        assert stdout_of(out) == "".join(f"{i}\n" for i in range(200))
        states = [m["content"]["execution_state"] for m in of_type(out, "status")]
        assert states == ["busy", "idle"]
        assert of_type(out, "execute_input")[0]["content"]["code"].startswith("for i")
    finally:
        server.request("DELETE", f"api/kernels/{kid}")


def raw_handshake(server: Server, kernel_id: str, *headers: str) -> bytes:
    """The server's answer to a hand-written upgrade request, up to the end of its headers."""
    host, port = server.url.split("/")[2].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall((f"GET /api/kernels/{kernel_id}/channels?token={TOKEN} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = raw.recv(4096)
            assert chunk
            head += chunk
    return head


def test_subprotocol_only_when_offered(server: Server, kernel_id: str) -> None:
    head = raw_handshake(server, kernel_id, "Sec-WebSocket-Protocol: something.else")
    assert head.startswith(b"HTTP/1.1 101")
    assert b"sec-websocket-protocol" not in head.lower()  # never a protocol the client did not offer
    head = raw_handshake(server, kernel_id, "Sec-WebSocket-Protocol: something.else, " + V1)
    assert f"sec-websocket-protocol: {V1}".encode() in head.lower()


def test_no_compression_even_when_offered(server: Server, kernel_id: str) -> None:
    head = raw_handshake(server, kernel_id, "Sec-WebSocket-Extensions: permessage-deflate")
    assert head.startswith(b"HTTP/1.1 101")
    assert b"permessage-deflate" not in head.lower()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_binary_buffers_both_ways(server: Server, kernel_id: str, protocol: str | None) -> None:
    client = server.client(kernel_id, protocol)
    client.run(
        "def _echo(comm, open_msg):\n"
        "    @comm.on_msg\n"
        "    def _r(msg):\n"
        "        comm.send({'n': len(msg['buffers'])}, buffers=[bytes(b)[::-1] for b in msg['buffers']])\n"
        "get_ipython().kernel.comm_manager.register_target('echo', _echo)\n"
    )
    comm_id = "c0ffee"
    client.send("comm_open", {"comm_id": comm_id, "target_name": "echo", "data": {}})
    client.send("comm_msg", {"comm_id": comm_id, "data": {}}, buffers=[b"\x00\x01abc", b"xyz\xff"])
    echoed = client.until(lambda m: m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id)[-1]
    assert echoed["content"]["data"] == {"n": 2}
    assert [bytes(b) for b in echoed["buffers"]] == [b"cba\x01\x00", b"\xffzyx"]
    client.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_input_round_trip(server: Server, kernel_id: str, protocol: str | None) -> None:
    client = server.client(kernel_id, protocol)
    msg_id = client.execute("x = input('name? ')\nprint('hi', x)")
    request = client.until(lambda m: m["msg_type"] == "input_request")[-1]
    assert request["channel"] == "stdin" and request["content"]["prompt"] == "name? "
    assert request["parent_header"]["msg_id"] == msg_id
    client.send("input_reply", {"value": "Ada"}, channel="stdin")
    assert "hi Ada" in stdout_of(client.until_idle(msg_id))
    client.close()


def test_interrupt_a_sleep(server: Server, kernel_id: str) -> None:
    client = server.client(kernel_id)
    msg_id = client.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(60)")
    # Interrupt once the cell is inside the sleep (a SIGINT before that races ipykernel).
    client.until(lambda m: m["msg_type"] == "stream" and m["parent_header"]["msg_id"] == msg_id)
    started = time.monotonic()
    assert server.request("POST", f"api/kernels/{kernel_id}/interrupt").status_code == 204
    seen = client.until_idle(msg_id, timeout=20)
    assert time.monotonic() - started < 10
    assert of_type(seen, "error")[0]["content"]["ename"] == "KeyboardInterrupt"
    assert client.run("2+3") and "5" in json.dumps(client.received[-4:])
    client.close()


def test_rest_restart_keeps_the_socket_working(server: Server, kernel_id: str) -> None:
    client = server.client(kernel_id)
    client.run("a = 1")
    model = server.json("POST", f"api/kernels/{kernel_id}/restart", 200)
    assert model["id"] == kernel_id
    result = client.run("'a' in dir()")  # a fresh namespace
    assert of_type(result, "execute_result")[0]["content"]["data"]["text/plain"] == "False"
    restarting = [m for m in client.received if m["msg_type"] == "status"
                  and m["content"]["execution_state"] == "restarting"]
    assert restarting == []  # a REST restart is not announced as an autorestart (contract 9.8)
    client.close()


def test_kernel_cwd_is_the_notebook_folder(server: Server) -> None:
    (server.root / "sub" / "deeper").mkdir(parents=True)
    session = server.json("POST", "api/sessions", 201,
                          json={"path": "sub/deeper/nb.ipynb", "type": "notebook", "kernel": {"name": "python3"}})
    client = server.client(session["kernel"]["id"])
    out = client.run("import os\nprint(os.getcwd())\nprint(os.environ.get('JPY_SESSION_NAME'))")
    cwd, session_name = stdout_of(out).splitlines()
    assert cwd == str((server.root / "sub" / "deeper").resolve())
    assert session_name == str((server.root / "sub" / "deeper" / "nb.ipynb").resolve())
    client.close()
    server.json("DELETE", f"api/sessions/{session['id']}", 204)
    kid = server.start_kernel(path="sub")
    client = server.client(kid)
    assert stdout_of(client.run("import os; print(os.getcwd())")).strip() == str((server.root / "sub").resolve())
    client.close()
    server.request("DELETE", f"api/kernels/{kid}")


def test_connections_and_status(server: Server, kernel_id: str) -> None:
    a = server.client(kernel_id)
    b = server.client(kernel_id)
    assert server.kernel(kernel_id)["connections"] == 2
    status = server.json("GET", "api/status", 200)
    assert status["connections"] >= 2 and status["kernels"] >= 1
    assert server.kernel(kernel_id)["execution_state"] == "idle"
    # iopub goes to both; the reply only to the client that asked.
    msg_id = a.execute("print('both')")
    assert "both" in stdout_of(b.until_idle(msg_id, reply=False))
    a.until_idle(msg_id)
    assert of_type(b.received, "execute_reply") == []
    a.close()
    wait_for(lambda: server.kernel(kernel_id)["connections"] == 1)
    b.close()
    wait_for(lambda: server.kernel(kernel_id)["connections"] == 0)


def test_same_session_id_replaces_the_socket(server: Server, kernel_id: str) -> None:
    first = server.client(kernel_id, session_id="shared")
    second = server.client(kernel_id, session_id="shared")
    with pytest.raises(Closed):
        for _ in range(50):
            first.recv(timeout=5)
    first.close()
    assert server.kernel(kernel_id)["connections"] == 1
    assert of_type(second.run("3*3"), "execute_result")
    second.close()


def handshake_status(url: str, **options: object) -> int:
    """101, or the status of a refused upgrade (websocket-client leaves that socket open)."""
    ws = websocket.WebSocket()
    try:
        ws.connect(url, timeout=10, **options)
        return 101
    except websocket.WebSocketBadStatusException as exc:
        return int(exc.status_code)
    finally:
        if ws.sock is not None:
            ws.sock.close()
        ws.sock = None


def test_unknown_kernel_is_404_before_the_handshake(server: Server) -> None:
    url = server.url.replace("http", "ws", 1) + "api/kernels/00000000-0000-0000-0000-000000000000/channels"
    assert handshake_status(url, header=[f"Authorization: token {TOKEN}"]) == 404


def test_websocket_auth(server: Server, kernel_id: str) -> None:
    url = server.url.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels"
    assert handshake_status(url) == 403
    assert handshake_status(url + f"?token={TOKEN}") == 101
    # The login cookie a token-authenticated page visit sets is enough, from the same origin.
    with requests.Session() as session:
        assert session.get(server.url + f"api/me?token={TOKEN}", timeout=10).status_code == 200
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    host = server.url.split("/")[2]
    assert handshake_status(url, cookie=cookie, origin=f"http://{host}") == 101
    assert handshake_status(url, cookie=cookie, origin="http://evil.example") == 403


def test_plain_get_on_channels_is_a_json_400(server: Server, kernel_id: str) -> None:
    response = server.request("GET", f"api/kernels/{kernel_id}/channels")
    assert response.status_code == 400 and set(response.json()) == {"message", "reason"}


def test_reconnect_replays_exactly_what_was_missed(server: Server, kernel_id: str, tmp_path: Path) -> None:
    """Disconnect in the middle of a long output, reconnect with the same session id: every
    line arrives exactly once, across the two sockets."""
    lines = 3000
    printed = tmp_path / "printed"  # the kernel writes it after its last line
    client = server.client(kernel_id, session_id="replay-me")
    msg_id = client.execute(f"import time\nfor i in range({lines}):\n    print(i, flush=True)\n"
                            f"    if i % 100 == 0: time.sleep(0.01)\nopen({str(printed)!r}, 'w').close()")
    client.until(lambda m: m["msg_type"] == "stream" and "200\n" in m["content"]["text"])
    # A clean close: we keep reading until the server's close frame, so nothing it wrote
    # before it saw our close is dropped on our side.
    client.ws.send_close()
    with pytest.raises(Closed):
        while True:
            client.recv(timeout=10)
    client.ws.shutdown()
    client.ws.shutdown()
    before = list(client.received)
    wait_for(printed.exists, timeout=60)  # the rest of the output came while nobody was connected
    again = server.connect(kernel_id, session_id="replay-me")
    after = again.until_idle(msg_id, timeout=60)
    numbers = [int(n) for n in (stdout_of(before) + stdout_of(after)).split()]
    assert numbers == list(range(lines))
    assert of_type(after, "execute_reply")  # the reply, sent while away, was replayed too
    again.close()


def test_slow_reader_receives_everything(server: Server, kernel_id: str, tmp_path: Path) -> None:
    client = server.client(kernel_id)
    count = 10000
    printed = tmp_path / "printed"  # the kernel writes it after its last line
    # Paced: a kernel flooding iopub faster than the server is scheduled overruns ZMQ's
    # high-water mark (1000 messages) in the kernel itself, which no server can see. At two
    # messages a millisecond at most, a server kept off the CPU for 200 ms by a full test run on
    # two cores (seen: 82 lost at 200 per 2 ms) still finds them all there.
    msg_id = client.execute(f"import time\nfor i in range({count}):\n    print(i, flush=True)\n"
                            f"    if i % 20 == 0: time.sleep(0.01)\nopen({str(printed)!r}, 'w').close()")
    # Not reading until the kernel has printed everything: the server queues for us and keeps
    # draining the kernel meanwhile.
    wait_for(printed.exists, timeout=60)
    seen = client.until_idle(msg_id, timeout=90)
    assert [int(n) for n in stdout_of(seen).split()] == list(range(count))
    client.close()


def test_shed_output_is_announced(make_server: object) -> None:
    srv = make_server(env={"NOTEBOOK_WS_QUEUE_LIMIT": "65536"})  # type: ignore[operator]
    kid = srv.start_kernel()
    # A small, fixed receive buffer (set before connecting), so the server's queue fills.
    client = srv.client(kid, sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)])
    watcher = srv.client(kid)
    msg_id = client.execute("for i in range(20000):\n    print('x' * 200, i, flush=True)")
    # ~12 MB of frames, far more than the socket buffers hold: read nothing until it is all out.
    watcher.until_idle(msg_id, timeout=90, reply=False)
    seen = client.until_idle(msg_id, timeout=90)
    notices = [m for m in of_type(seen, "stream") if "[flask-notebook]" in m["content"]["text"]]
    assert notices, "output was shed without a notice"
    assert "dropped" in notices[0]["content"]["text"] and notices[0]["parent_header"]["msg_id"] == msg_id
    assert of_type(seen, "execute_reply")  # never shed
    client.close()


def test_replay_overflow_is_announced(make_server: object, tmp_path: Path) -> None:
    srv = make_server(env={"NOTEBOOK_WS_REPLAY_LIMIT": "20000"})  # type: ignore[operator]
    kid = srv.start_kernel()
    client = srv.client(kid, session_id="away")
    printed = tmp_path / "printed"  # the kernel writes it after its last line
    msg_id = client.execute(f"for i in range(2000):\n    print(i, flush=True)\nopen({str(printed)!r}, 'w').close()")
    client.close()
    wait_for(printed.exists, timeout=60)  # the output (about 700 KB) came while nobody was connected
    again = srv.connect(kid, session_id="away")
    seen = again.until_idle(msg_id, timeout=60)
    notices = [m for m in of_type(seen, "stream") if "replay buffer" in m["content"]["text"]]
    assert notices and "NOTEBOOK_WS_REPLAY_LIMIT" in notices[0]["content"]["text"]
    assert of_type(seen, "execute_reply")
    again.close()


def test_two_hundred_concurrent_websockets(server: Server, kernel_id: str) -> None:
    clients = [server.connect(kernel_id, timeout=60) for _ in range(200)]
    wait_for(lambda: server.kernel(kernel_id)["connections"] == 200, timeout=30)
    errors: list[BaseException] = []

    def run(client: KernelClient, n: int) -> None:
        try:
            result = client.run(f"{n}*2", timeout=90)
            assert of_type(result, "execute_result")[0]["content"]["data"]["text/plain"] == str(n * 2)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c, i)) for i, c in enumerate(clients[:20])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    for client in clients:
        client.close()
    wait_for(lambda: server.kernel(kernel_id)["connections"] == 0, timeout=30)


def test_a_peer_that_never_answers_pings_is_dropped(make_server: object) -> None:
    srv = make_server(env={"NOTEBOOK_WS_PING_INTERVAL": "2"})  # type: ignore[operator]
    kid = srv.start_kernel()
    silent = srv.connect(kid)  # never reads, so never answers a ping
    alive = srv.client(kid)
    wait_for(lambda: srv.kernel(kid)["connections"] == 2, timeout=10)
    started = time.monotonic()
    while srv.kernel(kid)["connections"] != 1:  # reading answers pings (websocket-client does it in recv)
        assert time.monotonic() - started < 30, "the silent peer was not dropped"
        try:
            alive.recv(timeout=0.2)
        except websocket.WebSocketTimeoutException:
            pass
    assert of_type(alive.run("6*7"), "execute_result")
    # What it had been sent, then the server's close frame (or, if websocket-client tries to
    # answer a queued ping first, a reset connection).
    gone = (Closed, BrokenPipeError, ConnectionResetError, websocket.WebSocketConnectionClosedException)
    with pytest.raises(gone):
        for _ in range(1000):
            silent.recv(timeout=10)


# -- the WebSocket protocol itself (transport.framing) -----------------------------------------


def test_ping_is_answered_with_its_payload(server: Server, kernel_id: str) -> None:
    client = server.client(kernel_id)
    client.ws.ping(b"are you there")
    client.ws.settimeout(10)
    frame = client.ws.recv_frame()
    while frame.opcode == websocket.ABNF.OPCODE_BINARY:  # iopub that was on its way
        frame = client.ws.recv_frame()
    assert frame.opcode == websocket.ABNF.OPCODE_PONG and frame.data == b"are you there"
    client.close()


def test_client_close_is_answered_with_its_code(server: Server, kernel_id: str) -> None:
    client = server.client(kernel_id)
    wait_for(lambda: server.kernel(kernel_id)["connections"] == 1, timeout=10)
    client.ws.send_close(websocket.STATUS_GOING_AWAY, b"bye")
    client.ws.settimeout(10)
    frame = client.ws.recv_frame()
    while frame.opcode != websocket.ABNF.OPCODE_CLOSE:  # iopub that was on its way
        frame = client.ws.recv_frame()
    assert struct.unpack("!H", frame.data[:2])[0] == websocket.STATUS_GOING_AWAY
    wait_for(lambda: server.kernel(kernel_id)["connections"] == 0, timeout=10)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_fragmented_message_is_one_request(server: Server, kernel_id: str, protocol: str | None) -> None:
    client = server.client(kernel_id, protocol)
    # Capture what send() would write, then send it again in three fragments.
    sent: list[tuple[bytes | str, int]] = []
    real_send = client.ws.send
    client.ws.send = lambda data, opcode=websocket.ABNF.OPCODE_TEXT: sent.append((data, opcode))  # type: ignore[method-assign]
    client.ws.send_binary = lambda data: sent.append((data, websocket.ABNF.OPCODE_BINARY))  # type: ignore[method-assign]
    msg_id = client.execute("6*7")
    client.ws.send = real_send  # type: ignore[method-assign]
    (data, opcode), = sent
    raw = data.encode() if isinstance(data, str) else data
    thirds = [raw[:10], raw[10:len(raw) // 2], raw[len(raw) // 2:]]
    client.ws.send_frame(websocket.ABNF.create_frame(thirds[0], opcode, fin=0))
    client.ws.ping(b"between fragments")
    client.ws.send_frame(websocket.ABNF.create_frame(thirds[1], websocket.ABNF.OPCODE_CONT, fin=0))
    client.ws.send_frame(websocket.ABNF.create_frame(thirds[2], websocket.ABNF.OPCODE_CONT, fin=1))
    seen = client.until_idle(msg_id)
    assert of_type(seen, "execute_result")[0]["content"]["data"]["text/plain"] == "42"
    client.close()


def test_a_message_over_the_size_limit_closes_with_1009(make_server: object) -> None:
    srv = make_server(env={"NOTEBOOK_WS_MAX_MESSAGE_SIZE": "100000"})  # type: ignore[operator]
    kid = srv.start_kernel()
    client = srv.client(kid)
    client.execute("x = '" + "y" * 200_000 + "'")
    client.ws.settimeout(10)
    frame = client.ws.recv_frame()
    while frame.opcode != websocket.ABNF.OPCODE_CLOSE:  # iopub that was on its way
        frame = client.ws.recv_frame()
    assert struct.unpack("!H", frame.data[:2])[0] == 1009
    wait_for(lambda: srv.kernel(kid)["connections"] == 0, timeout=10)
    assert of_type(srv.client(kid).run("1+1"), "execute_result")  # the server is fine


def test_wss_under_tls(make_server: object, tmp_path: Path) -> None:
    """Under TLS every write goes through the SSL object (never the raw socket)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile, cafile = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(cafile))
    srv = make_server("--certfile", str(certfile), "--keyfile", str(keyfile))  # type: ignore[operator]
    assert srv.url.startswith("https://")
    kid = srv.json("POST", "api/kernels", 201, json={}, verify=str(cafile))["id"]
    client = srv.client(kid, sslopt={"ca_certs": str(cafile)})
    msg_id = client.execute("for i in range(3000):\n    print(i, flush=True)\n'done'")
    seen = client.until_idle(msg_id, timeout=60)
    assert [int(n) for n in stdout_of(seen).split()] == list(range(3000))
    assert of_type(seen, "execute_result")[0]["content"]["data"]["text/plain"] == "'done'"
    client.close()


def test_compression_configured_still_relays(make_server: object) -> None:
    """With NOTEBOOK_WS_COMPRESSION simple-websocket serves the socket (here to a client that
    offers no compression)."""
    srv = make_server(env={"NOTEBOOK_WS_COMPRESSION": "true"})  # type: ignore[operator]
    kid = srv.start_kernel()
    for protocol in (V1, None):
        client = srv.client(kid, protocol)
        msg_id = client.execute("for i in range(500):\n    print(i, flush=True)")
        assert [int(n) for n in stdout_of(client.until_idle(msg_id)).split()] == list(range(500))
        client.close()
    wait_for(lambda: srv.kernel(kid)["connections"] == 0, timeout=10)


def test_kernel_websocket_under_gunicorn(tmp_path: Path) -> None:
    """gunicorn's gevent worker: the request's greenlet serves the socket until it closes."""
    env = {**os.environ, **isolated_env(tmp_path), "NOTEBOOK_ROOT_DIR": str(tmp_path / "root"),
           "NOTEBOOK_TOKEN": TOKEN}
    (tmp_path / "root").mkdir()
    add_kernelspec(tmp_path / "data", "python3", [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                  "{connection_file}"])
    log = tmp_path / "gunicorn.log"
    gunicorn = Path(sys.executable).parent / "gunicorn"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(gunicorn), "-k", "gevent", "-w", "1", "-b", "127.0.0.1:0", "app:app"],
                                cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        url = wait_for(lambda: re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text()),
                       timeout=30).group(1) + "/"
        headers = {"Authorization": f"token {TOKEN}"}
        kid = wait_for(lambda: _post_kernel(url, headers), timeout=30)
        client = KernelClient(url, kid, TOKEN)
        try:
            client.wait_ready()
            assert of_type(client.run("6*7"), "execute_result")[0]["content"]["data"]["text/plain"] == "42"
        finally:
            client.close()
        requests.delete(f"{url}api/kernels/{kid}", headers=headers, timeout=30)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _post_kernel(url: str, headers: dict[str, str]) -> str | None:
    try:
        response = requests.post(url + "api/kernels", json={}, headers=headers, timeout=30)
    except requests.ConnectionError:
        return None
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_onlookers_get_every_message_in_kernel_order(server: Server, kernel_id: str) -> None:
    """A client's own messages go out at once and others' output a little later, yet each
    client sees the kernel's iopub in the order the kernel sent it."""
    a = server.client(kernel_id)
    b = server.client(kernel_id)
    first = a.execute("import time\nfor i in range(5):\n    time.sleep(0.05)\n    print('a', i, flush=True)")
    # Once a's cell runs, b's is queued behind it; b waits for its own.
    a.until(lambda m: m["parent_header"].get("msg_id") == first and m["msg_type"] == "status")
    second = b.execute("print('b')")
    a.until_idle(first)
    seen = b.until_idle(second)
    iopub = [(m["parent_header"].get("msg_id"), m["msg_type"], m["content"].get("execution_state"))
             for m in seen if m["msg_type"] in ("status", "stream")]
    ours = [(p, t, s) for p, t, s in iopub if p in (first, second)]
    assert ours == [(first, "status", "busy"), *[(first, "stream", None)] * 5, (first, "status", "idle"),
                    (second, "status", "busy"), (second, "stream", None), (second, "status", "idle")], ours
    assert stdout_of([m for m in seen if m["parent_header"].get("msg_id") == first]) == \
        "".join(f"a {i}\n" for i in range(5))
    a.close()
    b.close()
