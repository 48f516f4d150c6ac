"""The kernel WebSocket, `/api/kernels/<id>/channels?session_id=...` (contract section 9).

flask-sock (simple-websocket) under gevent, with four of its defaults mended here:

- every write is one ``sendall`` under a per-socket lock: simple-websocket sends with a
  single ``send`` (a big frame is cut short under gevent) and its own greenlet writes pings,
  pongs and close frames with no lock (``_LockedSocket``);
- TCP_NODELAY, without which each round trip waits ~40 ms for a delayed ACK;
- permessage-deflate is refused unless configured (it would be accepted whenever offered);
- one bare greenlet per socket instead of a patched thread (``GreenThread``);
- kernel messages are written as prebuilt frames shared by every connection (fan-out is one
  ``sendall`` per connection), not framed by wsproto once per connection.

The relay itself is ``core.channels``; this module only adapts a socket to it.
"""

from __future__ import annotations

import logging
import socket
import uuid
from typing import Any

import gevent
from flask import Response, request
from flask_sock import Sock
from gevent.lock import Semaphore
from simple_websocket import ConnectionClosed
from wsproto.events import Ping

from ..core import errors, messages
from ..core.channels import Connection
from ..extension import state
from .kernels import bp

log = logging.getLogger(__name__)
sock = Sock()


class GreenThread:
    """What simple-websocket needs of a thread class, as one bare greenlet."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.name = "websocket-reader"

    def start(self) -> None:
        gevent.spawn_raw(self._target)


class _LockedSocket:
    """Every write a whole ``sendall``, one writer at a time."""

    __slots__ = ("_sock", "_lock")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = Semaphore()

    def send(self, data: bytes) -> int:
        with self._lock:
            self._sock.sendall(data)
        return len(data)

    sendall = send

    def send_frame(self, ws: Any, frame: bytes) -> None:
        """A frame made by ``messages.ws_frame``, the same bytes for every connection.

        wsproto keeps no state for whole, uncompressed data frames a server sends, so they
        may bypass it; checked under the lock, so nothing follows the close frame that
        simple-websocket sends when the client closes.
        """
        with self._lock:
            if not ws.connected:
                raise ConnectionClosed(ws.close_reason, ws.close_message)
            self._sock.sendall(frame)

    def try_send_frame(self, ws: Any, frame: bytes) -> bool:
        """``send_frame`` without waiting: False, with nothing written, when the socket is
        busy or full. A frame the socket takes only part of is finished by a greenlet that
        holds the lock until it is done, so frames never interleave."""
        if self._lock.locked():
            return False
        self._lock.acquire()
        try:
            if not ws.connected:
                raise ConnectionClosed(ws.close_reason, ws.close_message)
            # The OS socket under gevent's: gevent's own send would wait on EAGAIN.
            sent = getattr(self._sock, "_sock", self._sock).send(frame, socket.MSG_DONTWAIT)
        except BlockingIOError:
            self._lock.release()
            return False
        except BaseException:
            self._lock.release()
            raise
        if sent == len(frame):
            self._lock.release()
        else:
            gevent.spawn_raw(self._finish, frame[sent:])
        return True

    def _finish(self, rest: bytes) -> None:
        try:
            self._sock.sendall(rest)
        except OSError:
            pass  # the connection is gone; its reader notices
        finally:
            self._lock.release()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@bp.before_request
def check_channels() -> None:
    """Before the handshake: an unknown kernel is a 404; compression is off unless wanted."""
    if request.endpoint != "notebook.api.kernels.channels":
        return
    view_args = request.view_args or {}
    state().kernels.get(view_args.get("kernel_id", ""))
    if not state().config["NOTEBOOK_WS_COMPRESSION"]:
        # simple-websocket rebuilds the handshake from the environ, and accepts deflate
        # whenever the client offers it.
        request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)


@bp.get("/<kernel_id>/channels")
def channels_without_upgrade(kernel_id: str) -> Response:
    """The same URL without a WebSocket upgrade, as jupyter_server answers it."""
    state().kernels.get(kernel_id)
    raise errors.Invalid('Can "Upgrade" only to "WebSocket".')


class Pinger:
    """One greenlet pings every kernel WebSocket each `interval` seconds and drops those that
    did not answer the previous ping, instead of simple-websocket's per-socket selector
    (which costs each idle socket a few KiB). Pongs are noted by simple-websocket itself."""

    def __init__(self) -> None:
        self.sockets: dict[Any, _LockedSocket] = {}
        self._greenlet: Any = None

    def add(self, ws: Any, locked: _LockedSocket, interval: float) -> None:
        """Ping `ws` every `interval` seconds (the first socket's interval, while any is open)."""
        if interval <= 0:
            return
        self.sockets[ws] = locked
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run, interval)

    def discard(self, ws: Any) -> None:
        self.sockets.pop(ws, None)

    def _run(self, interval: float) -> None:
        try:
            while self.sockets:
                gevent.sleep(interval)
                for ws, locked in list(self.sockets.items()):
                    if not ws.connected:
                        self.sockets.pop(ws, None)
                    elif not ws.pong_received:
                        log.info("closing a kernel WebSocket that did not answer a ping within %s s", interval)
                        self.sockets.pop(ws, None)
                        _close(ws, 1008, "Ping/Pong timeout")
                    else:
                        ws.pong_received = False
                        try:
                            locked.send(ws.ws.send(Ping()))
                        except Exception:  # gone: its handler notices
                            self.sockets.pop(ws, None)
        finally:
            self._greenlet = None


pinger = Pinger()


def _close(ws: Any, reason: int | None = None, message: str | None = None) -> None:
    try:
        ws.close(reason, message)
    except Exception:  # already closed
        pass
    ws.event.set()  # wake the handler waiting in receive()


@sock.route("/<kernel_id>/channels", bp=bp)  # type: ignore[untyped-decorator]
def channels(ws: Any, kernel_id: str) -> None:
    st = state()
    try:
        kernel = st.kernels.get(kernel_id)
    except errors.NotFound:  # shut down during the handshake
        return
    relay = kernel.channels
    if relay is None or relay.closed:
        return
    try:
        ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # not TCP
        pass
    locked = ws.sock = _LockedSocket(ws.sock)
    session_id = request.args.get("session_id") or uuid.uuid4().hex
    protocol = ws.subprotocol
    try_send = None
    if st.config["NOTEBOOK_WS_COMPRESSION"]:
        def send(msg: messages.Msg) -> None:  # frames go through the compressor
            ws.send(msg.encode(protocol))
    else:
        def send(msg: messages.Msg) -> None:
            locked.send_frame(ws, msg.frame(protocol))

        def try_send(msg: messages.Msg) -> bool:
            return locked.try_send_frame(ws, msg.frame(protocol))
    conn = Connection(session_id, protocol, send, lambda: _close(ws),
                      queue_limit=int(st.config["NOTEBOOK_WS_QUEUE_LIMIT"]), try_send=try_send)
    relay.attach(conn)
    pinger.add(ws, locked, float(st.config["NOTEBOOK_WS_PING_INTERVAL"] or 0))
    decode = _decode_v1 if protocol == messages.V1_PROTOCOL else messages.decode_legacy
    try:
        # Client messages wait until the kernel has answered once and iopub is live.
        relay.ready.wait(float(st.config["NOTEBOOK_KERNEL_INFO_TIMEOUT"]))
        while not conn.closed:
            data = ws.receive()
            if data is None:
                continue
            try:
                channel, parts, header = decode(data)
            except messages.Malformed as exc:
                log.warning("dropped a malformed message on kernel %s: %s", kernel_id, exc)
                continue
            relay.send(session_id, channel, parts, header)
    except ConnectionClosed:
        pass
    finally:
        pinger.discard(ws)
        relay.detach(conn)


def _decode_v1(data: bytes | str) -> tuple[str, list[bytes], dict[str, Any]]:
    if isinstance(data, str):
        raise messages.Malformed("a text frame on the v1 protocol")
    channel, parts = messages.decode_v1(data)
    return channel, parts, messages.header_of(parts)
