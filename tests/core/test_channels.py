"""The relay on a real kernel, in this process: what it remembers about requests.

``KernelChannels`` runs on gevent's hub (plain pyzmq sockets watched by descriptor), which
works here without monkey-patching: the test waits with ``gevent.sleep``, so the hub runs.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import orjson
import pytest
import zmq

from flask_notebook.core.channels import Connection, KernelChannels
from jupyter_client.manager import KernelManager
from flask_notebook.core.messages import V1_PROTOCOL, Msg

SESSION = "client-session"


def until(condition: Callable[[], Any], timeout: float = 30) -> Any:
    """Let the hub run until `condition()` is truthy; fail after `timeout` seconds."""
    with gevent.Timeout(timeout, AssertionError(f"condition not met within {timeout} s")):
        while True:
            result = condition()
            if result:
                return result
            gevent.sleep(0.01)


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[KernelChannels]:
    km = KernelManager(connection_file=str(tmp_path / "kernel-t.json"), ip="127.0.0.1", autorestart=False)
    km.start_kernel(cwd=str(tmp_path))
    channels = KernelChannels("t", dict(km.get_connection_info(session=False)), on_iopub=lambda msg: None,
                              replay_limit=0, replay_sessions=0)
    try:
        assert channels.ready.wait(60), "the kernel did not answer kernel_info"
        yield channels
    finally:
        channels.close()
        km.shutdown_kernel(now=True)


def connect(relay: KernelChannels) -> list[Msg]:
    """A connection that keeps every message it is sent."""
    received: list[Msg] = []
    relay.attach(Connection(SESSION, V1_PROTOCOL, received.append, lambda: None, queue_limit=1 << 24))
    return received


def execute(relay: KernelChannels, code: str) -> str:
    header = {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "test", "session": SESSION,
              "date": "2026-01-01T00:00:00Z", "version": "5.4"}
    content = {"code": code, "silent": False, "store_history": False, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}
    relay.send(SESSION, "shell", [orjson.dumps(header), b"{}", b"{}", orjson.dumps(content)], header)
    return str(header["msg_id"])


def answered(received: list[Msg], msg_id: str) -> bool:
    """The execute_reply and the idle of `msg_id` have both reached the connection."""
    mine = [m for m in received if m.parent_msg_id == msg_id]
    return any(m.msg_type == "execute_reply" for m in mine) and any(
        m.msg_type == "status" and m.content().get("execution_state") == "idle" for m in mine)


def test_a_request_is_forgotten_once_its_reply_and_its_idle_have_come(relay: KernelChannels) -> None:
    # It used to be remembered until 10,000 newer ones pushed it out: ~1.2 MB per busy
    # kernel, a server's memory growing for the first half hour of steady use.
    received = connect(relay)
    for _ in range(30):
        msg_id = execute(relay, "1+1")
        until(lambda: answered(received, msg_id))
    # (the relay's own kernel_info requests, sent until the kernel answered, are answered too)
    until(lambda: not relay.requesters)


def test_output_a_thread_prints_after_its_cell_ended_still_reaches_the_client(relay: KernelChannels) -> None:
    # The cell's request is forgotten by then: the output goes the way other connections'
    # output goes, by the shared log.
    received = connect(relay)
    msg_id = execute(relay, "import threading, time\n"
                            "threading.Thread(target=lambda: (time.sleep(0.3), print('late', flush=True))).start()")
    until(lambda: answered(received, msg_id))
    until(lambda: msg_id not in relay.requesters)
    until(lambda: any(m.msg_type == "stream" and "late" in m.content().get("text", "") for m in received))


def test_input_requests_still_reach_the_client_that_ran_the_cell(relay: KernelChannels) -> None:
    received = connect(relay)
    header = {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "test", "session": SESSION,
              "date": "2026-01-01T00:00:00Z", "version": "5.4"}
    content = {"code": "x = input('name? ')", "silent": False, "store_history": False, "user_expressions": {},
               "allow_stdin": True, "stop_on_error": True}
    relay.send(SESSION, "shell", [orjson.dumps(header), b"{}", b"{}", orjson.dumps(content)], header)
    request = until(lambda: next((m for m in received if m.msg_type == "input_request"), None))
    assert request.channel == "stdin" and request.parent_msg_id == header["msg_id"]
    reply = {"msg_id": uuid.uuid4().hex, "msg_type": "input_reply", "username": "test", "session": SESSION,
             "date": "2026-01-01T00:00:00Z", "version": "5.4"}
    relay.send(SESSION, "stdin", [orjson.dumps(reply), orjson.dumps(request.header), b"{}",
                                  orjson.dumps({"value": "Ada"})], reply)
    until(lambda: answered(received, str(header["msg_id"])))
    status = next(m for m in received if m.msg_type == "execute_reply").content()["status"]
    assert status == "ok"
    until(lambda: not relay.requesters)


def test_a_kernel_that_answers_before_our_subscription_reaches_it_still_leaves_starting(tmp_path: Path) -> None:
    """A kernel whose first busy/idle went out before the relay's SUB socket was subscribed,
    then welcomed the subscription (JEP 65), must still be seen idle: the registry learns a
    kernel left `starting` from a status message (it stayed `starting` for ever, about one
    kernel start in 30 under load). The peer here speaks just enough of the protocol, on
    real ZMQ sockets, to make that order certain: it answers the first kernel_info_request
    before it binds its iopub port, then welcomes the subscription and answers again."""
    from jupyter_client.session import Session

    key = uuid.uuid4().hex
    session = Session(key=key.encode(), signature_scheme="hmac-sha256")
    ctx = zmq.Context()
    shell, iopub = ctx.socket(zmq.ROUTER), ctx.socket(zmq.XPUB)
    iopub.setsockopt(zmq.XPUB_VERBOSE, 1)
    others = [ctx.socket(zmq.ROUTER) for _ in range(3)]  # control, stdin, hb: never used here
    ports = {name: sock.bind_to_random_port("tcp://127.0.0.1")
             for name, sock in zip(("shell_port", "control_port", "stdin_port", "hb_port"), [shell, *others])}
    iopub_port = _free_port()
    info = {**ports, "iopub_port": iopub_port, "ip": "127.0.0.1", "key": key, "transport": "tcp",
            "signature_scheme": "hmac-sha256"}
    seen: list[Msg] = []
    channels = KernelChannels("t", info, on_iopub=seen.append, replay_limit=0, replay_sessions=0)

    def answer(ident: list[bytes], request: dict[str, Any]) -> None:
        parent = request["header"]
        session.send(iopub, "status", {"execution_state": "busy"}, parent=parent)
        session.send(shell, "kernel_info_reply", {"status": "ok", "protocol_version": "5.4"}, parent=parent,
                     ident=ident)
        session.send(iopub, "status", {"execution_state": "idle"}, parent=parent)

    try:
        raw = until(lambda: _poll(shell))  # the relay's first nudge
        ident, rest = session.feed_identities(raw)
        answer(ident, session.deserialize(rest))  # its statuses go nowhere: iopub is not bound yet
        iopub.bind(f"tcp://127.0.0.1:{iopub_port}")
        until(lambda: _poll(iopub))  # the relay's subscription
        session.send(iopub, "iopub_welcome", {"subscription": ""})
        until(lambda: channels.ready.is_set(), timeout=10)
        # The relay asks again now that nothing published is lost; answer what it asks.
        deadline = time.monotonic() + 10
        while not any(m.msg_type == "status" and m.content().get("execution_state") == "idle" for m in seen):
            assert time.monotonic() < deadline, "no status reached the registry: the kernel stays `starting`"
            raw = _poll(shell)
            if raw:
                ident, rest = session.feed_identities(raw)
                answer(ident, session.deserialize(rest))
            gevent.sleep(0.01)
    finally:
        channels.close()
        for sock in (shell, iopub, *others):
            sock.close(linger=0)
        ctx.term()


def _poll(sock: Any) -> Any:
    """What `sock` holds now (a multipart message), or None, letting the hub run meanwhile."""
    gevent.sleep(0.005)
    try:
        return sock.recv_multipart(zmq.NOBLOCK)
    except zmq.Again:
        return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
