"""The relay on a real kernel, in this process: what it remembers about requests.

``KernelChannels`` runs on gevent's hub (plain pyzmq sockets watched by descriptor), which
works here without monkey-patching: the test waits with ``gevent.sleep``, so the hub runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import orjson
import pytest

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
