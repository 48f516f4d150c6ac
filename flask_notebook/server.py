"""The standalone server: gevent's WSGI server, bounded so that no client can take what the
kernels need.

Every descriptor a connection holds is one a kernel cannot have; a kernel that cannot get
one is a kernel that cannot be started, or restarted. So:

- at most ``max_connections`` connections are served at once (``NOTEBOOK_MAX_CONNECTIONS``,
  by default half of what the open-file limit leaves, see ``limits``). A kernel WebSocket
  holds its slot as long as it is open, parked or not: its descriptor is as real as any.
- a connection past the limit first makes room by closing the connection idle the longest
  (one waiting for a request with nothing of it received, as nginx closes keep-alive
  connections when it runs short); failing that it waits for a slot, at most ``SLOT_WAIT``
  seconds (or the idle timeout, if shorter), then is answered 503. At most
  ``limits.max_waiting`` connections wait so; past them the server stops accepting, and
  the rest wait in the listening socket's backlog, which costs no descriptor.
- a request's head (its request line and headers) must arrive within
  ``NOTEBOOK_HTTP_IDLE_TIMEOUT`` seconds of the moment the server started waiting for it:
  this bounds a connection that sends nothing, half a head, or a byte now and then, and a
  keep-alive connection idle between requests. A request body may pause for as long, per
  read. Writes are not bounded (a slow client downloading a big file is no attack; a
  stuck one is bounded by the limit). Kernel WebSockets are never timed out here: the
  Pinger drops dead peers.
- when descriptors do run out (``accept`` fails with EMFILE or ENFILE, or the system is out
  of socket memory), a spare descriptor
  kept for the purpose is let go to accept and answer one connection at a time with 503,
  and accepting backs off (10 ms, doubling, at most 1 s: what gevent's server does, without
  a traceback each time) until descriptors are free again. A request that fails to open a
  file meanwhile is answered 503 by the API's error handler.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import re
import socket
import time
from typing import Any, NoReturn

import gevent
from gevent import monkey
from gevent.lock import Semaphore
from gevent.pywsgi import WSGIHandler, WSGIServer
from gevent.socket import socket as GeventSocket
from werkzeug.exceptions import RequestTimeout

from . import limits
from .transport import upgrade

log = logging.getLogger(__name__)

_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&\s\"]*")

#: The longest a connection past the limit waits for a slot before its 503.
SLOT_WAIT = 5.0
#: What ``accept`` fails with when descriptors (or kernel memory for sockets) run out.
_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: ``os.close`` at once: gevent's (once patched) puts off closing anything but a regular file to
#: the loop's next turn, which would let ``accept`` take the spare's number in between.
_close_now = monkey.get_original("os", "close")


def _response(status: str, message: str, reason: str) -> bytes:
    """A whole HTTP response with a JSON error body, for the server's own answers."""
    body = json.dumps({"message": message, "reason": reason}).encode()
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n")
    if status.startswith("503"):
        head += "Retry-After: 1\r\n"
    return (head + "\r\n").encode() + body


class _Connection(GeventSocket):  # type: ignore[misc]
    """An accepted socket that gives its slot back when it is closed, whoever closes it: its
    handler, the server, or a parked WebSocket long after its request ended."""

    __slots__ = ("slots", "holds_slot", "waiting")

    def __init__(self, sock: GeventSocket, slots: Semaphore) -> None:
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self.slots = slots
        self.holds_slot = False
        self.waiting = False  # accepted past the limit: waits for a slot before it is served

    def close(self) -> None:
        super().close()
        if self.holds_slot:
            self.holds_slot = False
            self.slots.release()


class _HeadTimedOut(BaseException):
    """A request's head did not arrive in time. A BaseException, as gevent's Timeout is, so
    that pywsgi's ``except Exception`` (which answers 400, and prints a traceback for what is
    not a ValueError) lets it through to ``Handler.handle_one_request``."""


class _TimedReader(io.RawIOBase):
    """The handler's socket as its ``rfile`` reads it, each read bounded in time: by what is
    left of the head's deadline while the head is read, else by the idle timeout. After a
    timeout it reads as closed, so that nothing more is read from the connection."""

    def __init__(self, sock: Any, handler: Handler) -> None:
        super().__init__()
        self._sock = sock
        self._handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        handler = self._handler
        if handler.timed_out:
            return 0
        deadline = handler.head_deadline
        timeout = handler.server.idle_timeout if deadline is None else deadline - time.monotonic()
        received = None
        if timeout > 0:
            with gevent.Timeout(timeout, False):
                received = self._sock.recv_into(buffer)
        if received is None:
            handler.read_timed_out()
        if received and deadline is not None:
            handler.head_received()
        return int(received)


class Handler(WSGIHandler):  # type: ignore[misc]
    """Hands a WebSocket its connection's own socket, as gunicorn does, instead of a copy,
    lets a kernel WebSocket outlive its request, and bounds how long reads may wait.

    Under gevent's server simple-websocket otherwise ``dup``s the socket: two descriptors
    per WebSocket, which halves how many fit under the open-file limit. Exposed as
    ``gunicorn.socket``, the socket is used as is, and flask-sock then ends the request by
    raising StopIteration (its signal to gunicorn that the connection was taken over).

    A kernel WebSocket calls ``upgrade.PARK`` to keep its socket when the request ends: the
    socket is then not closed here nor by the server, and this greenlet, the request and its
    environ are freed while the WebSocket stays open (``transport.server_socket``).
    """

    parked = False
    reads_done = False
    timed_out = False
    in_application = False
    #: While a request's head is read: when it must have arrived (``time.monotonic``).
    head_deadline: float | None = None
    #: Whether any of the head being read has arrived (a timeout then is worth a 408).
    head_started = False
    socket: Any
    environ: Any
    rfile: Any
    server: Server

    def __init__(self, sock: Any, address: Any, server: Server) -> None:
        super().__init__(sock, address, server)
        self.rfile.close()  # pywsgi's own, which would wait forever
        self.rfile = io.BufferedReader(_TimedReader(sock, self))

    # -- time limits ----------------------------------------------------------------------

    def read_requestline(self) -> str:
        self.head_deadline = time.monotonic() + self.server.idle_timeout
        self.head_started = False
        self.server.idle[self] = None  # nothing of this request yet: may be closed to make room
        try:
            line: str = super().read_requestline()
        finally:
            self.server.idle.pop(self, None)
        self.head_started = bool(line)
        return line

    def head_received(self) -> None:
        if not self.head_started:
            self.head_started = True
            self.server.idle.pop(self, None)

    def read_timed_out(self) -> NoReturn:
        self.timed_out = True
        self.close_connection = True
        if self.head_deadline is not None:
            raise _HeadTimedOut()
        message = (f"No data came from the client for {self.server.idle_timeout:g} s while the request body "
                   "was read (NOTEBOOK_HTTP_IDLE_TIMEOUT)")
        if self.in_application:  # the app reading the body: answered 408 (JSON on API URLs)
            raise RequestTimeout(message)
        # pywsgi reading what the app left of the body: a socket error ends the connection quietly.
        raise TimeoutError(errno.ETIMEDOUT, message)

    def handle_one_request(self) -> Any:
        try:
            return super().handle_one_request()
        except _HeadTimedOut:
            # A connection idle between requests (or that never sent one) is closed without
            # a word, as tornado and nginx close theirs; half a request gets a 408.
            if self.head_started:
                try:
                    self.socket.sendall(_response(
                        "408 Request Timeout", f"The request did not arrive whole within "
                        f"{self.server.idle_timeout:g} s (NOTEBOOK_HTTP_IDLE_TIMEOUT)", "request timeout"))
                except OSError:
                    pass
            return None

    def reclaim(self) -> None:
        """Close this idle connection to make room (its blocked read then ends as at EOF)."""
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- WebSockets -----------------------------------------------------------------------

    def get_environ(self) -> dict[str, Any]:
        self.head_deadline = None  # the head is in: from here on, reads wait per read
        environ: dict[str, Any] = super().get_environ()
        upgrade.handoff(environ, self.socket, self._park)
        return environ

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        """An upgrade that is answered over HTTP after all (refused, or no WebSocket there)
        ends its connection, since its read buffer is gone, and so does a request whose body
        stopped coming: say so, or the client would send its next request on it. (A
        WebSocket's 101 is written by simple-websocket itself.)"""
        if self.reads_done or self.timed_out:
            headers = [*headers, ("Connection", "close")]
        return super().start_response(status, headers, exc_info)

    def _park(self) -> None:
        self.parked = True
        self.server.parked.add(self.socket)

    def run_application(self) -> None:
        if upgrade.handed_off(self.environ) and not _has_body(self.environ):
            # The WebSocket reads the socket itself: free the 8 KiB read buffer now, not
            # when the WebSocket ends (the handshake has been read whole). Not when a body
            # follows: that is no handshake, and pywsgi reads what is left of the body after
            # the response (on a closed file it fails, and the connection with it).
            self.rfile.close()
            self.reads_done = True
        self.in_application = True
        try:
            super().run_application()
        except StopIteration:  # the WebSocket is over or parked: write nothing
            self.close_connection = True
        finally:
            self.in_application = False
        if self.parked:
            self.environ = None
            self.socket = None  # not closed (nor read from) when this handler ends


def _has_body(environ: dict[str, Any]) -> bool:
    return environ.get("CONTENT_LENGTH") not in (None, "", "0") or "chunked" in environ.get(
        "HTTP_TRANSFER_ENCODING", "").lower()


class Server(WSGIServer):  # type: ignore[misc]
    """gevent's WSGI server with Nagle's algorithm off (a response written in more than one
    piece otherwise waits ~40 ms for the client's delayed ACK; tornado sets this too),
    parked WebSockets left open when their request ends, and the bounds of the module
    docstring.

    :param max_connections: connections served at once.
    :param idle_timeout: seconds a request's head may take, or a read of its body wait.
    :param nofile: the open-file limit, for the log.
    """

    handler_class = Handler

    def __init__(self, *args: Any, max_connections: int, idle_timeout: float, nofile: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parked: set[Any] = set()
        self.max_connections = max_connections
        self.max_waiting = limits.max_waiting(max_connections)
        self.idle_timeout = idle_timeout
        self.nofile = nofile
        self.waiting = 0
        self.slots = Semaphore(max_connections)
        #: Handlers waiting for a request with nothing of it received, the longest idle first.
        self.idle: dict[Handler, None] = {}
        self._spare: int | None = None
        self._accept_delay = 0.0
        self._exhausted = False
        self._warned = False
        self._last_warning = self._last_refusal_log = -60.0
        self._busy = _response("503 Service Unavailable", f"The server has too many open connections "
                               f"(NOTEBOOK_MAX_CONNECTIONS={max_connections}); try again shortly",
                               "too many connections")
        self._out_of_files = _response("503 Service Unavailable", "The server has run out of file descriptors "
                                       f"(open file limit {nofile}); try again shortly", "too many open files")

    @property
    def connections(self) -> int:
        """Connections being served (parked WebSockets included)."""
        return self.max_connections - int(self.slots.counter)

    def init_socket(self) -> None:
        super().init_socket()
        if self._spare is None:
            self._spare = os.open(os.devnull, os.O_RDONLY)

    def close(self) -> None:
        super().close()
        if self._spare is not None:
            _close_now(self._spare)
            self._spare = None

    # -- accepting ------------------------------------------------------------------------

    def full(self) -> bool:
        """Checked by gevent before each ``accept``: when True it stops accepting until
        ``start_accepting`` (called when a waiting connection is served or answered)."""
        return self.waiting >= self.max_waiting

    def do_read(self) -> tuple[Any, Any] | None:
        try:
            accepted = super().do_read()
        except OSError as exc:
            if exc.errno not in _OUT_OF_DESCRIPTORS:
                raise
            self._out_of_descriptors()
            return None
        if accepted is None:
            return None
        if self._exhausted:
            self._exhausted = False
            self._accept_delay = 0.0
            if self._warned:
                self._warned = False
                log.warning("file descriptors are available again: connections are served as before")
        conn = _Connection(accepted[0], self.slots)
        # Newcomers queue behind those already waiting, never ahead of them.
        if not self.waiting and self.slots.acquire(blocking=False):
            conn.holds_slot = True
        else:
            conn.waiting = True
            self.waiting += 1
        return conn, accepted[1]

    def _resume(self) -> None:
        if self.started:
            self.start_accepting()

    def _out_of_descriptors(self) -> None:
        """``accept`` failed for want of descriptors: answer one connection with the spare, if
        it is free, and back off."""
        now = time.monotonic()
        if not self._exhausted:
            self._exhausted = True
            if now - self._last_warning > 10:  # not at every flap
                self._last_warning = now
                self._warned = True
                log.warning("out of file descriptors (open file limit %d, %d connections open): new "
                            "connections are answered 503 until some are closed", self.nofile, self.connections)
        if self._spare is not None:
            _close_now(self._spare)
            self._spare = None
            try:
                accepted = super().do_read()
            except OSError:
                accepted = None
            if accepted is not None:
                gevent.spawn(self._refuse_with_spare, accepted[0])
                return
            self._restore_spare()
        self.stop_accepting()
        self._accept_delay = min(1.0, max(0.01, self._accept_delay * 2))
        gevent.spawn_later(self._accept_delay, self._resume)

    def _refuse_with_spare(self, sock: Any) -> None:
        try:
            self._refuse(sock, self._out_of_files)
        finally:
            # Closed at once, and the spare taken back in the same breath: gevent's ``close``
            # may leave the descriptor open until the loop's next turn, and ``accept`` would
            # then take it for a connection, leaving no spare for the next refusal.
            _close_now(sock.detach())
            self._restore_spare()

    def _restore_spare(self) -> None:
        if self._spare is None and not self.closed:
            try:
                self._spare = os.open(os.devnull, os.O_RDONLY)
            except OSError:  # still none free: the next failed accept tries again
                pass

    def _refuse(self, sock: Any, response: bytes) -> None:
        """Answer `response` (a 503) and end the connection. What the client sends is read
        until it closes, for a second at most: closing with unread bytes would reset the
        connection, and the client could lose the answer. Under TLS the connection is just
        closed: the answer would take a handshake."""
        if self.ssl_args:
            return
        try:
            sock.sendall(response)
            sock.shutdown(socket.SHUT_WR)
            with gevent.Timeout(1, False):
                while sock.recv(65536):
                    pass
        except OSError:
            pass

    def _admit(self, conn: _Connection) -> bool:
        """Whether `conn` may be served: at once if it holds a slot, else once one frees up,
        for ``SLOT_WAIT`` seconds at most; then it has been answered 503."""
        if not conn.waiting:
            return True
        try:
            got = self.slots.acquire(blocking=False)  # one may have come free since
            if not got:
                self._reclaim_idle()
                got = self.slots.acquire(timeout=min(SLOT_WAIT, self.idle_timeout))
        finally:
            conn.waiting = False
            self.waiting -= 1
            self._resume()
        if got:
            conn.holds_slot = True
            return True
        now = time.monotonic()
        if now - self._last_refusal_log > 10:
            self._last_refusal_log = now
            log.warning("connections past the limit are answered 503: %d open (NOTEBOOK_MAX_CONNECTIONS=%d)",
                        self.connections, self.max_connections)
        self._refuse(conn, self._busy)
        return False

    def _reclaim_idle(self) -> None:
        """Close the connection idle the longest, if any, so that a newcomer need not wait."""
        for handler in self.idle:
            del self.idle[handler]
            handler.reclaim()
            return

    # -- serving --------------------------------------------------------------------------

    def handle(self, sock: Any, address: Any) -> None:
        if isinstance(sock, _Connection) and not self._admit(sock):
            return
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not TCP (a Unix socket)
            pass
        super().handle(sock, address)

    def wrap_socket_and_handle(self, client_socket: Any, address: Any) -> Any:
        """TLS: the handshake comes after admission, and within the idle timeout."""
        if isinstance(client_socket, _Connection) and not self._admit(client_socket):
            return None
        client_socket.settimeout(self.idle_timeout)
        try:
            ssl_socket = self.wrap_socket(client_socket, **self.ssl_args)
        except OSError:  # no handshake in time, or a failed one (plain HTTP on a TLS port, say)
            return None
        with ssl_socket:
            ssl_socket.settimeout(None)
            return self.handle(ssl_socket, address)

    def do_close(self, sock: Any, *args: Any) -> None:
        if sock in self.parked:
            self.parked.discard(sock)  # the WebSocket owns it now
        else:
            super().do_close(sock, *args)


class AccessLog:
    """gevent's access log, with tokens in query strings replaced: tokens never reach logs."""

    def __init__(self) -> None:
        self._log = logging.getLogger("flask_notebook.access")

    def write(self, line: str) -> None:
        self._log.info("%s", _TOKEN_IN_URL.sub(r"\1[redacted]", line.rstrip()))
