"""The kernel WebSocket, `/api/kernels/<id>/channels?session_id=...` (contract section 9).

flask-sock routes the request and simple-websocket does the handshake. After it, the socket
is served by ``core.websocket.ServerSocket`` rather than simple-websocket, whose defaults
would need mending (a big frame cut short by a single ``send`` under gevent, writers that
interleave, a reader greenlet per socket). What is done here:

- TCP_NODELAY, without which each round trip waits ~40 ms for a delayed ACK;
- permessage-deflate is refused unless configured; when it is, simple-websocket serves the
  socket throughout, with every write one ``sendall`` under a per-socket lock;
- under our own server (``cli``) an idle socket is *parked*: no greenlet, no request
  objects, just a watcher on its descriptor. Under gunicorn or TLS the request's greenlet
  reads it until it closes;
- kernel messages are written as prebuilt frames shared by every connection (fan-out is one
  ``sendall`` per connection), not framed once per connection;
- one greenlet pings every socket (``Pinger``).

The relay itself is ``core.channels``; this module only adapts a socket to it.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Callable
from typing import Any

import gevent
from flask import Response, has_request_context, request
from flask_sock import Sock
from gevent.lock import Semaphore
from simple_websocket import ConnectionClosed
from wsproto.events import Ping

from ..core import errors, messages, websocket
from ..core.channels import Connection, KernelChannels
from ..extension import state
from .kernels import bp

log = logging.getLogger(__name__)
sock = Sock()


#: Set by ``check_channels`` on a kernel WebSocket request that ``ServerSocket`` will serve.
_OWN_READER = "flask_notebook.own_reader"
#: Set by our server (``cli``): call it to keep the connection open after the request ends.
PARK = "flask_notebook.park"


class GreenThread:
    """What simple-websocket needs of a thread class, as one bare greenlet. Not started at
    all for a kernel WebSocket that ``ServerSocket`` serves (it would race it for bytes)."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.name = "websocket-reader"
        self.deferred = False

    def start(self) -> None:
        if has_request_context() and request.environ.get(_OWN_READER):
            self.deferred = True
        else:
            gevent.spawn_raw(self._target)


class LockedSocket:
    """simple-websocket's socket (with compression): every write a whole ``sendall``, one
    writer at a time."""

    __slots__ = ("_sock", "_lock")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = Semaphore()

    def send(self, data: bytes) -> int:
        with self._lock:
            self._sock.sendall(data)
        return len(data)

    sendall = send

    @property
    def busy(self) -> bool:
        """A write is under way (perhaps to a client that stopped reading)."""
        return bool(self._lock.locked())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@bp.before_request
def check_channels() -> None:
    """Before the handshake: an unknown kernel is a 404; compression is off unless wanted."""
    if request.endpoint != "notebook.api.kernels.channels":
        return
    view_args = request.view_args or {}
    state().kernels.get_kernel(view_args.get("kernel_id", ""))
    if not state().settings.ws_compression:
        # simple-websocket rebuilds the handshake from the environ, and accepts deflate
        # whenever the client offers it.
        request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        request.environ[_OWN_READER] = True


@bp.get("/<kernel_id>/channels")
def channels_without_upgrade(kernel_id: str) -> Response:
    """The same URL without a WebSocket upgrade, as jupyter_server answers it."""
    state().kernels.get_kernel(kernel_id)
    raise errors.Invalid('Can "Upgrade" only to "WebSocket".')


class PingedSocket:
    """A simple-websocket socket (compression on), as the Pinger sees a ``ServerSocket``."""

    __slots__ = ("ws", "locked")

    def __init__(self, ws: Any, locked: LockedSocket) -> None:
        self.ws = ws
        self.locked = locked

    @property
    def connected(self) -> bool:
        return bool(self.ws.connected)

    @property
    def pong_received(self) -> bool:
        return bool(self.ws.pong_received)

    @pong_received.setter
    def pong_received(self, value: bool) -> None:
        self.ws.pong_received = value

    def ping(self) -> bool:
        """Send a ping; False, sending nothing, while a write is under way (one greenlet
        pings every socket: it never waits behind a long write)."""
        if self.locked.busy:
            return False
        try:
            self.locked.send(self.ws.ws.send(Ping()))
        except Exception:  # gone: its handler notices
            pass
        return True

    def close(self, code: int = websocket.NORMAL, reason: str = "") -> None:
        close_socket(self.ws, code, reason)

    def abort(self) -> None:
        """Close the connection under a write that does not end (the peer stopped reading):
        the writer's wait ends with an error, and the handler's receive wakes."""
        try:
            self.locked._sock.close()
        except OSError:
            pass
        self.ws.connected = False
        self.ws.event.set()


class Pinger:
    """One greenlet pings every kernel WebSocket each `interval` seconds and closes those
    that did not answer the previous ping, instead of a timer per socket.

    A socket still busy with one write is not pinged (its pong could not come back behind
    the write); one busy for ``STUCK_ROUNDS`` rounds in a row has a peer that stopped
    reading while staying connected, and is aborted: it would hold its greenlet, its
    descriptor and its queue for good."""

    STUCK_ROUNDS = 3

    def __init__(self) -> None:
        self.sockets: dict[Any, int] = {}  # socket -> rounds found busy in a row
        self._greenlet: Any = None

    def add(self, ws: websocket.ServerSocket | PingedSocket, interval: float) -> None:
        """Ping `ws` every `interval` seconds (the first socket's interval, while any is open)."""
        if interval <= 0:
            return
        self.sockets[ws] = 0
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run, interval)

    def discard(self, ws: Any) -> None:
        self.sockets.pop(ws, None)

    def _run(self, interval: float) -> None:
        try:
            while self.sockets:
                gevent.sleep(interval)
                for ws in list(self.sockets):
                    if not ws.connected:
                        self.sockets.pop(ws, None)
                    elif not ws.pong_received:
                        log.info("closing a kernel WebSocket that did not answer a ping within %s s", interval)
                        self.sockets.pop(ws, None)
                        ws.close(websocket.POLICY, "Ping/Pong timeout")
                    else:
                        ws.pong_received = False  # before the ping: its pong may come at once
                        if ws.ping():
                            self.sockets[ws] = 0
                        elif self.sockets[ws] + 1 >= self.STUCK_ROUNDS:
                            log.info("aborting a WebSocket whose peer read nothing for %s s",
                                     interval * self.STUCK_ROUNDS)
                            self.sockets.pop(ws, None)
                            ws.abort()
                        else:
                            ws.pong_received = True  # not asked this time
                            self.sockets[ws] += 1
        finally:
            self._greenlet = None


pinger = Pinger()


def close_socket(ws: Any, reason: int | None = None, message: str | None = None) -> None:
    try:
        ws.close(reason, message)
    except Exception:  # already closed
        pass
    ws.event.set()  # wake the handler waiting in receive()


@sock.route("/<kernel_id>/channels", bp=bp)  # type: ignore[untyped-decorator]
def channels(ws: Any, kernel_id: str) -> None:
    st = state()
    try:
        kernel = st.kernels.get_kernel(kernel_id)
    except errors.NotFound:  # shut down during the handshake
        return
    relay = kernel.channels
    if relay is None or relay.closed:
        return
    try:
        ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # not TCP
        pass
    session_id = request.args.get("session_id") or uuid.uuid4().hex
    if isinstance(ws.thread, GreenThread) and ws.thread.deferred:
        _serve(ws, relay, session_id)
    else:
        _serve_compressed(ws, relay, session_id)


def _forward(relay: KernelChannels, session_id: str,
             decode: Callable[[bytes | str], tuple[str, list[bytes], dict[str, Any]]], data: bytes | str) -> None:
    """A client's message to the kernel; a malformed one is dropped and logged."""
    try:
        channel, parts, header = decode(data)
    except messages.Malformed as exc:
        log.warning("dropped a malformed message on kernel %s: %s", relay.kernel_id, exc)
        return
    relay.send(session_id, channel, parts, header)


def _serve(ws: Any, relay: KernelChannels, session_id: str) -> None:
    """The socket served by ``ServerSocket``: parked under our server, else read here."""
    st = state()
    protocol = ws.subprotocol
    decode = _decode_v1 if protocol == messages.V1_PROTOCOL else messages.decode_legacy
    ready_timeout = st.settings.kernel_info_timeout

    def on_message(data: bytes | str) -> None:
        # Client messages wait until the kernel has answered once and iopub is live.
        if not relay.ready.is_set():
            relay.ready.wait(ready_timeout)
        _forward(relay, session_id, decode, data)

    def on_close() -> None:
        pinger.discard(server)
        relay.detach(conn)

    server = websocket.ServerSocket(ws.sock, on_message, on_close,
                                    max_message_size=st.settings.ws_max_message_size or 2**63)
    ws.connected = False  # simple-websocket is done with it: flask-sock's close does nothing

    def send(msg: messages.Msg) -> None:
        try:
            server.send_frame(msg.frame(protocol))
        except websocket.Closed:
            raise ConnectionClosed() from None

    def try_send(msg: messages.Msg) -> bool:
        return server.try_send_frame(msg.frame(protocol))

    def try_send_all(msgs: list[messages.Msg]) -> bool:
        return server.try_send_frame(b"".join([msg.frame(protocol) for msg in msgs]))

    conn = Connection(session_id, protocol, send, server.close,
                      queue_limit=st.settings.ws_queue_limit, try_send=try_send,
                      try_send_all=try_send_all)
    relay.attach(conn)
    pinger.add(server, st.settings.ws_ping_interval)
    park = request.environ.get(PARK)
    if park is not None and server.parkable:
        park()  # the request ends; the connection stays open, with no greenlet
        server.park()
    else:
        server.serve()


def _serve_compressed(ws: Any, relay: KernelChannels, session_id: str) -> None:
    """simple-websocket throughout: for permessage-deflate (or a server without gevent)."""
    st = state()
    locked = ws.sock = LockedSocket(ws.sock)
    protocol = ws.subprotocol

    def send(msg: messages.Msg) -> None:  # frames go through the compressor
        ws.send(msg.encode(protocol))

    conn = Connection(session_id, protocol, send, lambda: close_socket(ws),
                      queue_limit=st.settings.ws_queue_limit)
    relay.attach(conn)
    pinged = PingedSocket(ws, locked)
    pinger.add(pinged, st.settings.ws_ping_interval)
    decode = _decode_v1 if protocol == messages.V1_PROTOCOL else messages.decode_legacy
    try:
        relay.ready.wait(st.settings.kernel_info_timeout)
        while not conn.closed:
            data = ws.receive()
            if data is None:
                continue
            _forward(relay, session_id, decode, data)
    except ConnectionClosed:
        pass
    finally:
        pinger.discard(pinged)
        relay.detach(conn)


def _decode_v1(data: bytes | str) -> tuple[str, list[bytes], dict[str, Any]]:
    if isinstance(data, str):
        raise messages.Malformed("a text frame on the v1 protocol")
    channel, parts = messages.decode_v1(data)
    return channel, parts, messages.header_of(parts)
