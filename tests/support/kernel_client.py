"""A small kernel WebSocket client for the tests: both protocols, every wait with a deadline.

Written against the contract (section 9), independently of the server's own framing code.
"""

from __future__ import annotations

import json
import struct
import time
import uuid
from collections.abc import Callable
from typing import Any

import websocket

V1 = "v1.kernel.websocket.jupyter.org"


def pack_v1(channel: str, parts: list[bytes]) -> bytes:
    n = len(parts) + 2
    offsets = [8 * (n + 1), 8 * (n + 1) + len(channel.encode())]
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    return struct.pack(f"<{n + 1}Q", n, *offsets) + channel.encode() + b"".join(parts)


def unpack_v1(data: bytes) -> dict[str, Any]:
    (n,) = struct.unpack_from("<Q", data)
    offsets = struct.unpack_from(f"<{n}Q", data, 8)
    channel = data[offsets[0]:offsets[1]].decode()
    parts = [data[a:b] for a, b in zip(offsets[1:], offsets[2:])]
    msg = {key: json.loads(part) for key, part in zip(("header", "parent_header", "metadata", "content"), parts)}
    msg.update(channel=channel, buffers=parts[4:], msg_type=msg["header"]["msg_type"])
    return msg


def unpack_legacy(data: bytes | str) -> dict[str, Any]:
    if isinstance(data, str):
        msg: dict[str, Any] = json.loads(data)
        assert msg["buffers"] == []
        return msg
    (nbufs,) = struct.unpack_from(">I", data)
    offsets = [*struct.unpack_from(f">{nbufs}I", data, 4), len(data)]
    pieces = [data[a:b] for a, b in zip(offsets, offsets[1:])]
    msg = json.loads(pieces[0])
    assert "buffers" not in msg
    msg["buffers"] = pieces[1:]
    return msg


class Closed(Exception):
    """The server closed the WebSocket (its close frame arrived)."""


class KernelClient:
    """One WebSocket to a kernel. `received` keeps everything read, in order."""

    def __init__(self, url: str, kernel_id: str, token: str | None, *, protocol: str | None = V1,
                 session_id: str | None = None, timeout: float = 30, header: list[str] | None = None,
                 sockopt: list[tuple[int, int, int]] | None = None, sslopt: dict[str, Any] | None = None) -> None:
        self.session_id = session_id or uuid.uuid4().hex
        self.protocol = protocol
        ws_url = url.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels?session_id={self.session_id}"
        auth = [f"Authorization: token {token}"] if token else []  # None: a cookie in `header`, say
        kwargs: dict[str, Any] = {"timeout": timeout, "header": [*auth, *(header or [])]}
        if protocol:
            kwargs["subprotocols"] = [protocol]
        if sockopt:
            kwargs["sockopt"] = sockopt
        if sslopt:
            kwargs["sslopt"] = sslopt
        self.ws = websocket.create_connection(ws_url, **kwargs)
        self.received: list[dict[str, Any]] = []
        self.sent: list[str] = []  # msg_ids

    @property
    def negotiated(self) -> str | None:
        return self.ws.getsubprotocol()

    def close(self) -> None:
        try:
            self.ws.close(timeout=5)
        finally:
            self.ws.shutdown()  # close() leaves the socket open once the server has closed

    # -- sending ----------------------------------------------------------------------------

    def send(self, msg_type: str, content: dict[str, Any], channel: str = "shell",
             buffers: list[bytes] | None = None, metadata: dict[str, Any] | None = None,
             subshell_id: str | None = None) -> str:
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": msg_type, "username": "test", "session": self.session_id,
                  "date": "2026-01-01T00:00:00.000000Z", "version": "5.3"}
        if subshell_id is not None:  # a kernel subshell's request (protocol 5.5, JEP 91)
            header["subshell_id"] = subshell_id
        self.sent.append(msg_id)
        if self.negotiated == V1:
            parts = [json.dumps(p).encode() for p in (header, {}, metadata or {}, content)] + list(buffers or [])
            self.ws.send_binary(pack_v1(channel, parts))
        else:
            msg = {"header": header, "parent_header": {}, "metadata": metadata or {}, "content": content,
                   "channel": channel}
            if buffers:
                first = json.dumps(msg).encode()
                pieces = [first, *buffers]
                nbufs = len(pieces)
                offsets = [4 * (nbufs + 1)]
                for piece in pieces[:-1]:
                    offsets.append(offsets[-1] + len(piece))
                self.ws.send_binary(struct.pack(f">{nbufs + 1}I", nbufs, *offsets) + b"".join(pieces))
            else:
                self.ws.send(json.dumps(msg))
        return msg_id

    def execute(self, code: str, *, subshell_id: str | None = None, **content: Any) -> str:
        return self.send("execute_request", {"code": code, "silent": False, "store_history": True,
                                             "user_expressions": {}, "allow_stdin": True, **content},
                         subshell_id=subshell_id)

    def request(self, msg_type: str, content: dict[str, Any] | None = None, channel: str = "control",
                timeout: float = 30) -> dict[str, Any]:
        """Send a request and read until its reply (other messages are kept in `received`)."""
        msg_id = self.send(msg_type, content or {}, channel=channel)
        return self.until(lambda m: m["parent_header"].get("msg_id") == msg_id and m["channel"] != "iopub",
                          timeout)[-1]

    # -- receiving --------------------------------------------------------------------------

    def recv(self, timeout: float = 30) -> dict[str, Any]:
        self.ws.settimeout(timeout)
        opcode, data = self.ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise Closed(data)
        if self.negotiated == V1:
            assert opcode == websocket.ABNF.OPCODE_BINARY, "v1 frames are binary"
            msg = unpack_v1(data)
        else:
            msg = unpack_legacy(data.decode() if opcode == websocket.ABNF.OPCODE_TEXT else data)
        self.received.append(msg)
        return msg

    def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30) -> list[dict[str, Any]]:
        """Read until a message matches; return everything read meanwhile (the match last)."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching message within {timeout} s; last: {seen[-5:]}")
            msg = self.recv(left)
            seen.append(msg)
            if predicate(msg):
                return seen

    def until_idle(self, msg_id: str, timeout: float = 30, *, reply: bool = True) -> list[dict[str, Any]]:
        """Everything up to both the reply to request `msg_id` and its iopub `idle` status
        (they travel on different sockets, so either may come first). Without `reply`, only
        the status: for a client that did not send the request."""
        done: set[str] = set() if reply else {"reply"}

        def finished(m: dict[str, Any]) -> bool:
            if m["parent_header"].get("msg_id") == msg_id:
                if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                    done.add("idle")
                elif m["channel"] in ("shell", "control") and m["msg_type"].endswith("_reply"):
                    done.add("reply")
            return done == {"idle", "reply"}

        return self.until(finished, timeout)

    def start_running(self, code: str, timeout: float = 30) -> str:
        """Execute `code` and return its msg_id once the cell's own code runs, for a test that
        interrupts it. Its `busy` status is not enough: ipykernel publishes it before the code
        runs, and an interrupt sent then may be ignored (SIGINT is ignored until ipykernel sets
        its handler: the code runs on) or drop the request (caught in ipykernel's own code: no
        reply at all), as in a CI run. The cell first prints a line, and this waits for it."""
        msg_id = self.execute("print('running', flush=True)\n" + code)
        self.until(lambda m: m["msg_type"] == "stream" and m["parent_header"].get("msg_id") == msg_id, timeout)
        return msg_id

    def run(self, code: str, timeout: float = 30, subshell_id: str | None = None) -> list[dict[str, Any]]:
        """Execute and return the request's iopub messages and its reply (others are skipped)."""
        msg_id = self.execute(code, subshell_id=subshell_id)
        got_reply = got_idle = False
        mine = []
        deadline = time.monotonic() + timeout
        while not (got_reply and got_idle):
            msg = self.recv(max(0.01, deadline - time.monotonic()))
            if time.monotonic() > deadline:
                raise AssertionError(f"execution of {code!r} did not finish within {timeout} s")
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            mine.append(msg)
            got_reply = got_reply or msg["msg_type"] == "execute_reply"
            got_idle = got_idle or (msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle")
        return mine

    def wait_ready(self, timeout: float = 60) -> dict[str, Any]:
        msg_id = self.send("kernel_info_request", {})
        return self.until(lambda m: m["msg_type"] == "kernel_info_reply" and m["parent_header"]["msg_id"] == msg_id,
                          timeout)[-1]


def replies_to(client: KernelClient, msg_id: str, timeout: float = 20) -> list[dict[str, Any]]:
    """Every message `client` has received, or receives until the reply to `msg_id`, that is
    that request's: a replayed reply may have come before the kernel_info reply that
    ``wait_ready`` reads up to. (Its replies: a list, so that a second one shows.)"""
    def is_reply(m: dict[str, Any]) -> bool:
        return m["channel"] in ("shell", "control") and m["parent_header"].get("msg_id") == msg_id

    if not any(map(is_reply, client.received)):
        client.until(is_reply, timeout=timeout)
    return [m for m in client.received if m["parent_header"].get("msg_id") == msg_id]


def stdout_of(messages: list[dict[str, Any]]) -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream"
                   and m["content"]["name"] == "stdout")


def of_type(messages: list[dict[str, Any]], msg_type: str) -> list[dict[str, Any]]:
    return [m for m in messages if m["msg_type"] == msg_type]
