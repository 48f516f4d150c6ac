"""A WebSocket that simple-websocket (over wsproto) serves throughout, from handshake to close.

Used where our own framing (``server_socket``) cannot or need not be: a socket that
negotiated permessage-deflate (only wsproto's compressor can make its frames), a server
without gevent's threading patched, and the terminals' and events' sockets (few, each read
by its request's greenlet). simple-websocket's reader runs in a bare greenlet
(``upgrade.GreenThread``); what it leaves to mend is done here:

- every write is one ``sendall`` under a per-socket lock (``_LockedSocket``): under gevent a
  plain ``send`` can write part of a big frame, and the reader's pongs would interleave with
  a writer's frames;
- pings come from the app's ``Pinger``, not from a timer per socket.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

from gevent.lock import Semaphore
from simple_websocket import ConnectionClosed
from wsproto.events import Ping
from wsproto.utilities import LocalProtocolError

from .framing import NORMAL, Closed, Shareable


class _LockedSocket:
    """simple-websocket's socket: every write a whole ``sendall``, one writer at a time."""

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

    def shut(self) -> None:
        """Close the descriptor under a write that does not end: the write fails at once."""
        try:
            self._sock.close()
        except OSError:
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class SimpleSocket:
    """flask-sock's simple-websocket ``Server`` (`ws`) as a ``base.Socket``.

    `on_message(payload)` gets each message (``str`` or ``bytes``), in ``serve``;
    `on_close()` is called once, when ``serve`` ends.
    """

    #: Every write may wait: whoever writes to many sockets keeps a writer greenlet for it.
    nonblocking = False

    def __init__(self, ws: Any, on_message: Callable[[bytes | str], None], on_close: Callable[[], None]) -> None:
        self.ws = ws
        self.protocol: str | None = ws.subprotocol
        self._locked = ws.sock = _LockedSocket(ws.sock)
        self._on_message = on_message
        self._on_close = on_close

    @property
    def connected(self) -> bool:
        return bool(self.ws.connected)

    @property
    def pong_received(self) -> bool:
        return bool(self.ws.pong_received)

    @pong_received.setter
    def pong_received(self, value: bool) -> None:
        self.ws.pong_received = value

    def serve(self, park: Callable[[], None] | None = None) -> None:
        """Hand each message to `on_message` until the socket closes, in this greenlet. (Never
        parked: simple-websocket's reader greenlet reads it meanwhile.)"""
        try:
            while True:
                data = self.ws.receive()
                if data is not None:
                    self._on_message(data)
        except ConnectionClosed:
            pass
        finally:
            self._on_close()

    # -- writing ------------------------------------------------------------------------

    def send(self, data: bytes | str) -> None:
        """One message (through the compressor, if one was negotiated); waits for room."""
        try:
            self.ws.send(data)
        except ConnectionClosed:
            raise Closed() from None

    def send_message(self, msg: Shareable) -> None:
        """A message many sockets send, framed (and compressed) for this one alone."""
        self.send(msg.encode(self.protocol))

    def try_send_message(self, msg: Shareable) -> bool:
        """Never written without waiting (``nonblocking`` is False): nothing written."""
        return False

    def try_send_messages(self, msgs: Sequence[Shareable]) -> bool:
        """Never written without waiting (``nonblocking`` is False): nothing written."""
        return False

    def ping(self) -> bool:
        """A ping; False, sending nothing, while a write is under way (one greenlet pings
        every socket: it never waits behind a long write)."""
        if self._locked.busy:
            return False
        try:
            self._locked.send(self.ws.ws.send(Ping()))
        except (OSError, LocalProtocolError):  # gone: its reader notices
            pass
        return True

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Send a close frame and wake ``serve``; nothing happens if it is closed already."""
        try:
            self.ws.close(code, reason)
        except (ConnectionClosed, LocalProtocolError, OSError):  # already closed
            pass
        self.ws.event.set()  # wake the greenlet waiting in receive()

    def abort(self) -> None:
        """Close the connection under a write that does not end (the peer stopped reading):
        the writer's wait ends with an error, and ``serve`` wakes."""
        self._locked.shut()
        self.ws.connected = False
        self.ws.event.set()
