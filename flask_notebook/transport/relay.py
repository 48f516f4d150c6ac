"""The seam between a kernel WebSocket and the relay (``core.channels``): ``attach``.

The relay sees a ``core.channels.Connection`` made of the socket's writes (shared frames,
and writes that need not wait, where the socket has them); the socket hands the relay each
message it reads, decoded from the connection's protocol (v1 or legacy JSON). Whether the
socket is ours or simple-websocket's (compression) makes no difference here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson

from ..core import messages
from ..core.channels import Connection, KernelChannels
from .pinger import Pinger
from .upgrade import accept

log = logging.getLogger(__name__)

Decode = Callable[[bytes | str], tuple[str, list[bytes], dict[str, Any]]]
OnExecute = Callable[[str, dict[str, Any]], None]


def attach(relay: KernelChannels, ws: Any, *, session_id: str, pinger: Pinger, queue_limit: int,
           ready_timeout: float, max_message_size: int, park: Callable[[], None] | None = None,
           owner: str | None = None, on_execute: OnExecute | None = None) -> None:
    """Serve flask-sock's `ws` (handshake done) as `relay`'s connection for `session_id`, until
    it closes; or, given `park` and a socket that can be parked, return at once and serve it
    with no greenlet while it is idle.

    :param queue_limit: bytes queued for the socket before output is shed.
    :param ready_timeout: how long a client's message waits for a starting kernel.
    :param max_message_size: the largest message the client may send, in bytes.
    :param owner: the user whose connection it is; a `session_id` that is another user's on
        this kernel (taken since the check before the handshake) closes the socket at once.
    :param on_execute: called with the msg_id and content of each ``execute_request`` the
        client sends, before it goes to the kernel (the audit trail's hook).
    """
    decode = _decode_v1 if ws.subprotocol == messages.V1_PROTOCOL else messages.decode_legacy

    def on_message(data: bytes | str) -> None:
        # Client messages wait until the kernel has answered once and iopub is live.
        if not relay.ready.is_set():
            relay.ready.wait(ready_timeout)
        _forward(relay, session_id, decode, data, on_execute)

    def on_close() -> None:
        pinger.discard(socket)
        relay.detach(conn)

    socket = accept(ws, on_message, on_close, max_message_size=max_message_size)
    nonblocking = socket.nonblocking
    conn = Connection(session_id, socket.protocol, socket.send_message, socket.close, queue_limit=queue_limit,
                      try_send=socket.try_send_message if nonblocking else None,
                      try_send_all=socket.try_send_messages if nonblocking else None, owner=owner)
    if not relay.attach(conn):
        socket.close()
        return
    pinger.add(socket)
    socket.serve(park)


def _forward(relay: KernelChannels, session_id: str, decode: Decode, data: bytes | str,
             on_execute: OnExecute | None = None) -> None:
    """A client's message to the kernel; a malformed one is dropped and logged."""
    try:
        channel, parts, header = decode(data)
    except messages.Malformed as exc:
        log.warning("dropped a malformed message on kernel %s: %s", relay.kernel_id, exc)
        return
    if on_execute is not None and channel == "shell" and header.get("msg_type") == "execute_request":
        _report_execute(on_execute, header, parts)
    relay.send(session_id, channel, parts, header)


def _report_execute(on_execute: OnExecute, header: dict[str, Any], parts: list[bytes]) -> None:
    """Hand `on_execute` the request's content (parsed only here, only for executes)."""
    try:
        content = orjson.loads(parts[3]) if len(parts) > 3 else {}
    except orjson.JSONDecodeError:
        content = {}
    msg_id = header.get("msg_id")
    on_execute(msg_id if isinstance(msg_id, str) else "", content if isinstance(content, dict) else {})


def _decode_v1(data: bytes | str) -> tuple[str, list[bytes], dict[str, Any]]:
    if isinstance(data, str):
        raise messages.Malformed("a text frame on the v1 protocol")
    channel, parts = messages.decode_v1(data)
    return channel, parts, messages.header_of(parts)
