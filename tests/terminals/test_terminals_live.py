"""Terminals on the real server (gevent-patched, as in production) with a real WebSocket
client and real shells (contract sections 2 and 8).

Compared side by side with jupyter_server 2.21.1 + jupyter_server_terminals 0.5.4 +
terminado 0.18.1 (`.venv-bench`), which answered:

- ``POST /api/terminals`` -> **200** ``{"name": "1", "last_activity": "...Z"}``, no
  ``Location``; names are the smallest free number, so "1" is reused after its DELETE.
- ``GET /api/terminals/<name>`` and ``DELETE`` of an unknown name -> 404
  ``{"message": "Terminal not found: nope", "reason": null}``; ``DELETE`` -> 204, empty, after
  ~0.1 s; a GET right after it is 404.
- The WebSocket sends ``["setup", {}]`` first, then (to a socket attaching later) everything
  kept so far in one ``stdout`` frame; ``["disconnect", 1]`` then a close when the shell
  ends (``exit``, or DELETE). ``set_size`` changes what ``stty size`` prints. An unknown name
  is 404 before the handshake, no credentials 403; a token-authenticated socket from another
  Origin is accepted. Without an upgrade the URL answers 400 ``Can "Upgrade" only to
  "WebSocket".``
- The shell gets ``TERM=xterm-256color``, ``JUPYTER_SERVER_ROOT`` and ``JUPYTER_SERVER_URL``,
  runs as a session leader with the pty as its controlling terminal (job control works).

Where we differ on purpose (see each test): a terminal with no ``cwd`` starts in the root
(the reference: the server process's working directory), a ``cwd`` outside the root is
ignored (the reference accepts ``/etc`` and ``../..``), a name in use returns that terminal
(the reference starts a second shell and loses track of the first), a name that is not
``\\w+`` is 400 (the reference creates a terminal no URL can reach).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import websocket

from ..support.env import TOKEN
from ..support.server import LiveServer
from ..support.terminal_client import Disconnected, TerminalSocket, alive
from ..support.waiting import wait_for

pytestmark = pytest.mark.live


def home(base: Path) -> dict[str, str]:
    """An empty HOME for the server, so the shells (login shells: the server's stdout is not
    a terminal) never run this machine's profile (here ``pyenv init``, slow, with a lock)."""
    (base / "home").mkdir(exist_ok=True)
    return {"HOME": str(base / "home")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module; each test ends the terminals it made (``terminals``)."""
    base = tmp_path_factory.mktemp("terminals")
    root = base / "root"
    (root / "sub dir").mkdir(parents=True)
    srv = LiveServer(root, base / "server.log", [], {**os.environ, **home(base)})
    yield srv
    srv.stop()


@pytest.fixture
def terminals(server: LiveServer) -> Iterator[Callable[..., dict[str, str]]]:
    """``terminals(**body)`` starts a terminal and returns its model; all are deleted after."""
    names: list[str] = []

    def start(**body: str) -> dict[str, str]:
        response = server.request("POST", "api/terminals", json=body)
        assert response.status_code == 200, response.text
        names.append(response.json()["name"])
        return response.json()  # type: ignore[no-any-return]

    yield start
    for name in names:
        server.request("DELETE", f"api/terminals/{name}")


def shell_pid(term: TerminalSocket) -> int:
    return int(term.run("echo $$").strip())


def test_a_terminal_runs_a_shell_over_the_websocket(server: LiveServer,
                                                     terminals: Callable[..., dict[str, str]]) -> None:
    response = server.request("POST", "api/terminals")
    assert response.status_code == 200  # not 201, as the reference
    assert "Location" not in response.headers
    model = response.json()
    server.request("DELETE", f"api/terminals/{model['name']}")
    model = terminals()
    assert set(model) == {"name", "last_activity"}
    assert model["last_activity"].endswith("Z") and len(model["last_activity"].split(".")[1]) == 7
    term = TerminalSocket(server.url, model["name"])
    assert term.next() == ["setup", {}]
    term.type("echo hi-$((6*7))\r")
    term.until(r"hi-42\r\n")
    assert {m[0] for m in term.messages} == {"setup", "stdout"}
    env = term.run("echo $TERM; echo $JUPYTER_SERVER_ROOT; echo $JUPYTER_SERVER_URL; pwd")
    assert env.split("\r\n")[:4] == ["xterm-256color", str(server.root.resolve()), server.url,
                                     str(server.root.resolve())]
    term.close()


def test_set_size_resizes_the_pty_to_the_smallest_client(server: LiveServer,
                                                         terminals: Callable[..., dict[str, str]]) -> None:
    name = terminals()["name"]
    first = TerminalSocket(server.url, name)
    assert first.run("stty size").strip() == "24 80"  # the size a new pty gets
    first.send("set_size", 33, 111)
    assert first.run("stty size").strip() == "33 111"
    second = TerminalSocket(server.url, name)
    second.send("set_size", 50, 90)
    # terminado's rule: each dimension's smallest. The other socket's message is read by its
    # own greenlet, so it may come after this socket's next command: wait for it.
    wait_for(lambda: first.run("stty size").strip() == "33 90")
    second.close()
    wait_for(lambda: first.run("stty size").strip() == "33 111")  # the other's size went with it


def test_a_socket_attaching_later_gets_the_output_so_far_first(server: LiveServer,
                                                               terminals: Callable[..., dict[str, str]]) -> None:
    name = terminals()["name"]
    first = TerminalSocket(server.url, name)
    first.run("echo early-$((3*5))")
    second = TerminalSocket(server.url, name)
    assert second.next() == ["setup", {}]
    replay = second.next()
    assert replay[0] == "stdout" and "early-15\r\n" in replay[1]  # kept output, in one frame
    first.type("echo both-$((4*5))\r")
    first.until("both-20")
    second.until("both-20")  # and then what follows, to every socket


def test_messages_the_protocol_does_not_have_are_ignored(server: LiveServer,
                                                         terminals: Callable[..., dict[str, str]]) -> None:
    term = TerminalSocket(server.url, terminals()["name"])
    for raw in ("not json", "{}", "[]", '["nope", 1]', '["stdin", 5]', '["set_size", "a", 3]',
                '["set_size", 0, 80]', '["set_size", 24]'):
        term.ws.send(raw)
    assert term.run("echo $((7*6))").strip() == "42"
    assert term.run("stty size").strip() == "24 80"


def test_delete_ends_the_shell_and_disconnects_its_sockets(server: LiveServer,
                                                            terminals: Callable[..., dict[str, str]]) -> None:
    name = terminals()["name"]
    term = TerminalSocket(server.url, name)
    pid = shell_pid(term)
    term.type("sh -c 'echo job-$$; exec sleep 600'\r")  # a job in the foreground, in a process group of its own
    job = int(term.until(r"job-(\d+)").group(1))
    assert alive(pid) and alive(job)
    response = server.request("DELETE", f"api/terminals/{name}")
    assert response.status_code == 204 and response.content == b""
    assert server.request("GET", f"api/terminals/{name}").status_code == 404  # at once, as the reference
    messages = term.until_closed()
    assert messages[-1] == ["disconnect", 1]
    wait_for(lambda: not alive(pid) and not alive(job), timeout=5)
    response = server.request("DELETE", f"api/terminals/{name}")
    assert response.status_code == 404
    assert response.json() == {"message": f"Terminal not found: {name}", "reason": None}


def test_ctrl_c_interrupts_the_foreground_command(server: LiveServer,
                                                  terminals: Callable[..., dict[str, str]]) -> None:
    """The pty is the shell's controlling terminal: the line discipline turns ^C into SIGINT
    for the foreground job (and the shell has job control)."""
    term = TerminalSocket(server.url, terminals()["name"])
    term.type("sh -c 'echo job-$$; exec sleep 600'\r")
    job = int(term.until(r"job-(\d+)").group(1))
    term.type("\x03")
    wait_for(lambda: not alive(job), timeout=5)
    assert term.run("echo $((6*7))").strip() == "42"


def test_a_shell_that_exits_ends_its_terminal(server: LiveServer, terminals: Callable[..., dict[str, str]]) -> None:
    name = terminals()["name"]
    term = TerminalSocket(server.url, name)
    pid = shell_pid(term)
    term.type("exit\r")
    with pytest.raises(Disconnected):
        term.until("never printed")
    term.until_closed()
    wait_for(lambda: not alive(pid), timeout=5)
    assert name not in [t["name"] for t in server.request("GET", "api/terminals").json()]


def test_listing_and_names(server: LiveServer, terminals: Callable[..., dict[str, str]]) -> None:
    assert server.request("GET", "api/terminals").json() == []
    one, two = terminals()["name"], terminals()["name"]
    assert (one, two) == ("1", "2")
    listed = server.request("GET", "api/terminals").json()
    assert [t["name"] for t in listed] == ["1", "2"]
    assert server.request("GET", "api/terminals/2").json()["name"] == "2"
    assert server.request("DELETE", "api/terminals/1").status_code == 204
    assert terminals()["name"] == "1"  # the smallest free number, as terminado picks it
    build = terminals(name="build")
    assert build["name"] == "build"
    pid = shell_pid(TerminalSocket(server.url, "build"))
    assert terminals(name="build")["name"] == "build"
    assert shell_pid(TerminalSocket(server.url, "build")) == pid  # the same shell, not a second one
    assert [t["name"] for t in server.request("GET", "api/terminals").json()] == ["2", "1", "build"]
    response = server.request("POST", "api/terminals", json={"name": "a-b"})
    assert response.status_code == 400 and response.json()["message"].startswith("Invalid terminal name")
    response = server.request("GET", "api/terminals/nope")
    assert response.status_code == 404
    assert response.json() == {"message": "Terminal not found: nope", "reason": None}


@pytest.mark.parametrize(("cwd", "expected"), [
    ("sub dir", "sub dir"),
    ("/sub dir/", "sub dir"),  # an API path, leading and trailing slashes and all
    ("missing", ""),           # ignored, as the reference ignores it
    ("../..", ""),             # the reference accepts these two; we never leave the root
    ("/etc", ""),
    (None, ""),                # the reference: its own working directory
])
def test_cwd_is_a_folder_inside_the_root(server: LiveServer, terminals: Callable[..., dict[str, str]],
                                         cwd: str | None, expected: str) -> None:
    name = terminals(**({"cwd": cwd} if cwd is not None else {}))["name"]
    pwd = TerminalSocket(server.url, name).run("pwd").strip()
    assert Path(pwd) == (server.root / expected).resolve()


def test_absolute_cwd_inside_the_root_is_taken(server: LiveServer, terminals: Callable[..., dict[str, str]]) -> None:
    name = terminals(cwd=str(server.root / "sub dir"))["name"]
    assert Path(TerminalSocket(server.url, name).run("pwd").strip()) == (server.root / "sub dir").resolve()


def test_post_body_is_checked(server: LiveServer) -> None:
    """The reference answers 500 for these two."""
    for body, message in (([1], "The body must be a JSON object"), ({"cwd": 5}, "'cwd' must be a string")):
        response = server.request("POST", "api/terminals", json=body)
        assert response.status_code == 400
        assert response.json() == {"message": message, "reason": None}


def test_unauthenticated_requests_and_sockets_are_refused(server: LiveServer,
                                                          terminals: Callable[..., dict[str, str]]) -> None:
    name = terminals()["name"]
    for method, path in (("GET", "api/terminals"), ("POST", "api/terminals"), ("GET", f"api/terminals/{name}"),
                         ("DELETE", f"api/terminals/{name}")):
        response = requests.request(method, server.url + path, timeout=10)
        assert response.status_code == 403, (method, path)
        assert response.json() == {"message": "Forbidden", "reason": None}
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        TerminalSocket(server.url, name, token=None)
    assert refused.value.status_code == 403
    assert server.request("GET", f"api/terminals/{name}").status_code == 200  # still there


def test_cookie_sockets_from_another_origin_are_refused(server: LiveServer,
                                                        terminals: Callable[..., dict[str, str]]) -> None:
    """Cross-site WebSocket hijacking: a login cookie alone does not open a terminal from a
    page of another origin (a token does, as in the reference)."""
    name = terminals()["name"]
    cookies = requests.get(server.url + f"api/terminals?token={TOKEN}", timeout=10).cookies
    cookie = "; ".join(f"{c.name}={c.value}" for c in cookies)
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        TerminalSocket(server.url, name, token=None, header=[f"Cookie: {cookie}"], origin="http://evil.example")
    assert refused.value.status_code == 403
    same_site = TerminalSocket(server.url, name, token=None, header=[f"Cookie: {cookie}"],
                               origin=f"http://127.0.0.1:{server.port}")
    assert same_site.next() == ["setup", {}]
    other_origin_with_token = TerminalSocket(server.url, name, origin="http://evil.example")
    assert other_origin_with_token.next() == ["setup", {}]


def test_unknown_terminal_socket_is_404_before_the_handshake(server: LiveServer) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        TerminalSocket(server.url, "nope")
    assert refused.value.status_code == 404
    terminals_url = server.url + "terminals/websocket/"
    response = requests.get(terminals_url + "nope", headers={"Authorization": f"token {TOKEN}"}, timeout=10)
    assert response.status_code == 404


def test_socket_url_without_upgrade_is_400(server: LiveServer, terminals: Callable[..., dict[str, str]]) -> None:
    name = terminals()["name"]
    response = server.request("GET", f"terminals/websocket/{name}")
    assert response.status_code == 400
    assert response.text == 'Can "Upgrade" only to "WebSocket".'


def test_terminal_use_is_server_activity(server: LiveServer, terminals: Callable[..., dict[str, str]]) -> None:
    """Contract section 8: ``last_activity`` of /api/status counts terminal activity, and a
    terminal's own ``last_activity`` moves with its input and output."""
    name = terminals()["name"]
    term = TerminalSocket(server.url, name)
    term.run("true")

    def status() -> str:
        return str(server.request("GET", "api/status?no_track_activity=1").json()["last_activity"])

    before, model_before = status(), server.request("GET", f"api/terminals/{name}?no_track_activity=1").json()
    term.type("echo act-$((5*5))\r")
    term.until("act-25")
    assert status() > before
    assert server.request("GET", f"api/terminals/{name}").json()["last_activity"] > model_before["last_activity"]


def test_big_output_and_input_go_through_whole(server: LiveServer, terminals: Callable[..., dict[str, str]]) -> None:
    term = TerminalSocket(server.url, terminals()["name"], timeout=30)
    out = term.run("seq 1 100000 | tail -n 2; seq 1 100000 | wc -l", timeout=30)
    assert out.split() == ["99999", "100000", "100000"]
    target = server.root / "pasted.txt"
    term.type(f"cat > '{target}'\r")
    term.until(r"cat > [^\n]*\n")
    term.type(("x" * 99 + "\r") * 1000)  # a paste far bigger than the pty's buffer
    term.type("\x04")
    wait_for(lambda: target.exists() and target.stat().st_size == 100_000, timeout=20)


def test_stopping_the_server_ends_every_terminal(start_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    """No shell outlives the server: SIGTERM, as the deployment's stop sends it."""
    srv = start_server(env=home(tmp_path))
    sockets = []
    for _ in range(2):
        name = srv.request("POST", "api/terminals").json()["name"]
        sockets.append(TerminalSocket(srv.url, name))
    pids = [shell_pid(term) for term in sockets]
    assert all(alive(pid) for pid in pids)
    assert srv.stop(signal.SIGTERM) == 0
    assert not [pid for pid in pids if alive(pid)]
    assert sockets[0].until_closed()[-1] == ["disconnect", 1]


def test_switched_off_terminals_are_404(start_server: Callable[..., LiveServer]) -> None:
    """``NOTEBOOK_TERMINALS=false``: as the reference with ``terminals_enabled=False``,
    404 everywhere (JSON under /api; the reference sends its HTML page)."""
    srv = start_server(env={"NOTEBOOK_TERMINALS": "false"})
    for method, path in (("GET", "api/terminals"), ("POST", "api/terminals"), ("GET", "api/terminals/1"),
                         ("DELETE", "api/terminals/1")):
        response = srv.request(method, path)
        assert response.status_code == 404, (method, path)
        assert response.json()["reason"] == "disabled"
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        TerminalSocket(srv.url, "1")
    assert refused.value.status_code == 404


def test_idle_sockets_are_pinged(start_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    """As kernel WebSockets (and the reference's), so that proxies keep an idle one open."""
    srv = start_server(env={**home(tmp_path), "NOTEBOOK_WS_PING_INTERVAL": "0.2"})
    term = TerminalSocket(srv.url, srv.request("POST", "api/terminals").json()["name"])
    term.ws.settimeout(5)
    while True:
        frame = term.ws.recv_frame()  # control frames included; pongs go back by themselves
        if frame.opcode == websocket.ABNF.OPCODE_PING:
            break


def test_inactive_terminals_are_culled(start_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    """``NOTEBOOK_TERMINALS_CULL_TIMEOUT`` (jupyter_server_terminals' ``cull_inactive_timeout``),
    checked every ``NOTEBOOK_CULL_INTERVAL``: the idle terminal's shell ends, its socket is told."""
    srv = start_server(env={**home(tmp_path), "NOTEBOOK_TERMINALS_CULL_TIMEOUT": "1", "NOTEBOOK_CULL_INTERVAL": "0.2"})
    name = srv.request("POST", "api/terminals").json()["name"]
    term = TerminalSocket(srv.url, name)
    pid = shell_pid(term)
    assert term.until_closed(timeout=10)[-1] == ["disconnect", 1]
    assert srv.request("GET", f"api/terminals/{name}").status_code == 404
    wait_for(lambda: not alive(pid), timeout=5)
