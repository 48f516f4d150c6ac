"""A server WebSocket after its handshake, read and written by us (RFC 6455 frames: ``framing``).

flask-sock and simple-websocket do the handshake; from then on this socket reads and writes
the connection itself, for three reasons:

- an idle WebSocket can be *parked*: no greenlet at all, only a watcher on its descriptor
  that starts one when the client sends something (``park``). A greenlet per socket (two,
  with simple-websocket's reader) and the request objects it keeps alive cost more memory
  than everything else an idle kernel WebSocket needs;
- every write is a whole ``sendall`` under one lock, and a write that would wait can be
  declined instead (``try_send_frame``), so fan-out never blocks a reader;
- messages the server sends to many sockets are framed once (``framing.shared_frame``), and
  the same bytes go to every connection.

No extensions are negotiated here: a server configured for permessage-deflate is served by
``simple.SimpleSocket`` instead.
"""

from __future__ import annotations

import logging
import socket
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import gevent
from gevent.lock import Semaphore
from gevent.ssl import SSLSocket
from greenlet import getcurrent, greenlet  # type: ignore[import-untyped]  # (no stubs)

from .framing import (BINARY, CLOSE, INVALID_DATA, NORMAL, PING, PONG, SERVER_ERROR, TEXT, Closed, FrameParser,
                      ProtocolError, Shareable, close_payload, frame, shared_frame)

log = logging.getLogger(__name__)

_RECV_SIZE = 65536


class _Readers:
    """The greenlets that read parked sockets, kept for reuse.

    A parked socket's watcher switches straight into an idle reader (from the hub, as
    gevent's own waiters are woken). A new greenlet per incoming message would cost its
    creation, a fresh Python frame stack (an mmap and its page faults) and a turn of the
    event loop before it runs: about a tenth of a millisecond on every client request. A
    reader that waits (a kernel still starting) is simply not idle meanwhile: the next
    socket gets another, so one slow socket never holds up the others.
    """

    #: Idle readers kept; more are made when as many handle messages at once.
    MAX_IDLE = 8

    def __init__(self) -> None:
        self.idle: list[Any] = []

    def read(self, sock: ServerSocket) -> None:
        """Read `sock` now (called in the hub, by its watcher)."""
        reader = self.idle.pop() if self.idle else greenlet(self._run, gevent.get_hub())
        reader.switch(sock)

    def _run(self, sock: ServerSocket) -> None:
        hub = gevent.get_hub()
        while True:
            try:
                sock._read_parked()
            except Exception:  # a bug: keep serving the other sockets
                log.exception("error reading a kernel WebSocket")
            if len(self.idle) >= self.MAX_IDLE:
                return  # back to the hub, which called `read`
            self.idle.append(getcurrent())
            sock = hub.switch()  # until `read` hands over the next socket


#: Each hub's readers (a greenlet can only be switched to in its own thread). Shared by every
#: app in the process, which is safe: a reader carries no setting of its own, it only runs the
#: callbacks of the socket it is handed.
_hub_readers: weakref.WeakKeyDictionary[Any, _Readers] = weakref.WeakKeyDictionary()


def _readers_here() -> _Readers:
    """The current hub's readers."""
    hub = gevent.get_hub()
    readers = _hub_readers.get(hub)
    if readers is None:
        readers = _hub_readers[hub] = _Readers()
    return readers


class ServerSocket:
    """One WebSocket over an accepted socket, from the end of its handshake.

    `on_message(payload)` gets each text (as ``str``) or binary (as ``bytes``) message;
    `on_close()` is called once, whoever closes. Reads happen in ``serve`` (blocking the
    calling greenlet until the connection ends) or, when parked, in a reader greenlet
    handed the socket when data arrives (``_Readers``).
    """

    __slots__ = ("sock", "protocol", "connected", "pong_received", "_parser", "_lock", "_on_message", "_on_close",
                 "_watcher", "_raw", "_readers")

    #: Writes that would wait can be declined (``try_send_messages``).
    nonblocking = True

    def __init__(self, sock: Any, on_message: Callable[[bytes | str], None], on_close: Callable[[], None], *,
                 max_message_size: int, protocol: str | None = None) -> None:
        self.sock = sock
        self.protocol = protocol
        self.connected = True
        self.pong_received = True
        self._parser = FrameParser(max_message_size)
        self._lock = Semaphore()
        self._on_message = on_message
        self._on_close = on_close
        self._watcher: Any = None
        # The OS socket under gevent's, for writes and reads that must not wait; none under
        # TLS, whose bytes only the SSL object may write.
        self._raw: Any = None if isinstance(sock, SSLSocket) else getattr(sock, "_sock", sock)

    @property
    def parkable(self) -> bool:
        return self._raw is not None

    # -- reading ------------------------------------------------------------------------

    def serve(self, park: Callable[[], None] | None = None) -> None:
        """Read until the connection ends, in this greenlet. Given `park` (our server's way to
        end the request and keep its connection open) and a `parkable` socket, call it and
        read with no greenlet instead (``park``): then this returns at once."""
        if park is not None and self.parkable:
            park()
            self.park()
            return
        try:
            while self.connected:
                try:
                    data = self.sock.recv(_RECV_SIZE)
                except OSError:
                    data = b""
                if not data or not self._received(data):
                    break
        finally:
            self.close()

    def park(self) -> None:
        """Read with no greenlet while idle: a watcher starts one when data arrives.
        Only for a `parkable` socket."""
        self._readers = _readers_here()
        self._watcher = gevent.get_hub().loop.io(self.sock.fileno(), 1)
        self._watcher.start(self._readable)

    def _readable(self) -> None:  # in the hub: hand the socket to a reader greenlet
        self._watcher.stop()
        self._readers.read(self)

    def _read_parked(self) -> None:
        """Read what the client sent, then watch the socket again (or close it). Never raises."""
        while self.connected:
            try:
                data = self._raw.recv(_RECV_SIZE, socket.MSG_DONTWAIT)
            except BlockingIOError:
                self._watcher.start(self._readable)
                return
            except OSError:
                data = b""
            try:
                go_on = bool(data) and self._received(data)
            except Exception:
                # Nobody else would notice: this greenlet is the socket's only reader.
                log.exception("closing a kernel WebSocket after an error handling its message")
                self.close(SERVER_ERROR, "server error")
                return
            if not go_on:
                self.close()
                return

    def _received(self, data: bytes) -> bool:
        """Handle bytes from the client. False when the connection should end."""
        try:
            for opcode, payload in self._parser.feed(data):
                if opcode == BINARY:
                    self._on_message(payload)
                elif opcode == TEXT:
                    try:
                        text = payload.decode()
                    except UnicodeDecodeError:
                        raise ProtocolError(INVALID_DATA, "a text message that is not UTF-8") from None
                    self._on_message(text)
                elif opcode == PING:
                    self._control(PONG, payload)
                elif opcode == PONG:
                    self.pong_received = True
                else:  # CLOSE: answer with the client's code, then end
                    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else NORMAL
                    self.close(code if 1000 <= code < 5000 and code not in (1004, 1005, 1006, 1015) else NORMAL)
                    return False
                if not self.connected:
                    return False
        except ProtocolError as exc:
            log.info("closing a kernel WebSocket: %s", exc.reason)
            self.close(exc.code, exc.reason)
            return False
        return True

    # -- writing ------------------------------------------------------------------------

    def send(self, data: bytes | str) -> None:
        """One message: binary for bytes, text for str."""
        self.send_frame(frame(data))

    def send_message(self, msg: Shareable) -> None:
        """A message many sockets send (a kernel's), in its frame shared by every connection."""
        self.send_frame(shared_frame(msg, self.protocol))

    def try_send_message(self, msg: Shareable) -> bool:
        """``send_message`` only if the socket takes it without waiting (``try_send_frame``)."""
        return self.try_send_frame(shared_frame(msg, self.protocol))

    def try_send_messages(self, msgs: Sequence[Shareable]) -> bool:
        """``try_send_message`` of them all, in one write."""
        return self.try_send_frame(b"".join([shared_frame(msg, self.protocol) for msg in msgs]))

    def send_frame(self, data: bytes) -> None:
        """A whole frame (or several), written before any other write starts."""
        with self._lock:
            if not self.connected:
                raise Closed()
            self.sock.sendall(data)

    def try_send_frame(self, data: bytes) -> bool:
        """``send_frame`` without waiting: False, with nothing written, when the socket is
        busy or full. What the socket takes only part of is finished by a greenlet that
        holds the lock until it is done, so frames never interleave."""
        if self._lock.locked():
            return False
        if not self.connected:
            raise Closed()
        self._lock.acquire()
        if self._raw is None:  # TLS: a greenlet writes it
            gevent.spawn_raw(self._finish, memoryview(data))
            return True
        try:
            sent = self._raw.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            self._lock.release()
            return False
        except BaseException:
            self._lock.release()
            raise
        if sent == len(data):
            self._lock.release()
        else:
            gevent.spawn_raw(self._finish, memoryview(data)[sent:])
        return True

    def _finish(self, rest: memoryview) -> None:
        try:
            self.sock.sendall(rest)
        except OSError:
            pass  # the connection is gone; its reader notices
        finally:
            self._lock.release()

    def ping(self) -> bool:
        """A ping, never waiting: one pinger serves every socket. False, sending nothing,
        while the socket is busy with a long write (its pong could not come back meanwhile)."""
        try:
            return bool(self.try_send_frame(frame(b"", PING)))
        except (Closed, OSError):
            self.close()
            return True

    def abort(self) -> None:
        """Close under a write that does not end (the peer stopped reading): ``close``
        closes the descriptor, which ends the writer's wait with an error."""
        self.close()

    def _control(self, opcode: int, payload: bytes) -> None:
        try:
            self.send_frame(frame(payload, opcode))
        except (Closed, OSError):
            self.close()

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Send a close frame (when the socket takes it at once) and close the socket."""
        if not self.connected:
            return
        self.connected = False
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.close()
            self._watcher = None
        try:
            if self._raw is not None and not self._lock.locked():
                self._raw.send(frame(close_payload(code, reason), CLOSE), socket.MSG_DONTWAIT)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        self._on_close()
