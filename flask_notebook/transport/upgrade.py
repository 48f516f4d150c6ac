"""From an HTTP upgrade request to a ``base.Socket``: the handshake's side of the transport.

The handshake itself (the ``Sec-WebSocket-Accept`` key, the 101 response, subprotocol and
extension negotiation) is wsproto's, driven by simple-websocket, which flask-sock runs in
the view; nothing here writes a handshake byte. What is ours:

- ``handoff``: a WSGI server's side. Our standalone server (``server.Handler``) gives an
  upgrade request its connection's own socket under the key gunicorn uses, so the socket is
  not ``dup``-ed (two descriptors per WebSocket otherwise), and a way to ``PARK`` it: keep it
  open after its request ends, with no greenlet;
- ``prepare``: before the handshake, refuse permessage-deflate unless configured, and mark a
  socket whose bytes we will read ourselves (``OWN_READER``), so that simple-websocket's
  reader is never started for it (``GreenThread``);
- ``accept``: after the handshake, the socket as ``ServerSocket`` (ours) or ``SimpleSocket``
  (simple-websocket's, with compression), with Nagle's algorithm off.

``GreenThread`` is flask-sock's ``thread_class`` under gevent (set in ``extension.py``).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, MutableMapping
from typing import Any

import gevent
from flask import has_request_context, request

from .base import Socket
from .server_socket import ServerSocket
from .simple import SimpleSocket

#: The accepted socket itself, handed to the app by the WSGI server (gunicorn's key, which
#: simple-websocket looks for; our server sets it too).
SOCKET = "gunicorn.socket"
#: Set by our server on an upgrade request: call it to keep the connection open after the
#: request ends (the socket is then parked, ``ServerSocket.park``).
PARK = "flask_notebook.park"
#: Set by ``prepare`` on a request whose WebSocket ``ServerSocket`` will read.
OWN_READER = "flask_notebook.own_reader"


def is_upgrade(environ: MutableMapping[str, Any]) -> bool:
    """Whether the request asks for a WebSocket."""
    return str(environ.get("HTTP_UPGRADE", "")).lower() == "websocket"


def handoff(environ: MutableMapping[str, Any], sock: Any, park: Callable[[], None]) -> bool:
    """For a WSGI server: give an upgrade request its connection's socket and `park`. False
    (and nothing set) for any other request."""
    if not is_upgrade(environ):
        return False
    environ[SOCKET] = sock
    environ[PARK] = park
    return True


def handed_off(environ: MutableMapping[str, Any]) -> bool:
    """Whether ``handoff`` (or gunicorn) gave this request its socket."""
    return SOCKET in environ


def prepare(environ: MutableMapping[str, Any], *, compression: bool, own_reader: bool = False) -> None:
    """Before the handshake: without `compression`, refuse permessage-deflate (simple-websocket
    rebuilds the handshake from the environ, and accepts deflate whenever a client offers it),
    and with `own_reader` let ``accept`` serve the socket with our framing."""
    if compression:
        return
    environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    if own_reader:
        environ[OWN_READER] = True


class GreenThread:
    """What simple-websocket needs of a thread class, as one bare greenlet. Not started at
    all for a socket that ``ServerSocket`` serves (it would race it for bytes)."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.name = "websocket-reader"
        self.deferred = False

    def start(self) -> None:
        if has_request_context() and request.environ.get(OWN_READER):
            self.deferred = True
        else:
            gevent.spawn_raw(self._target)


def accept(ws: Any, on_message: Callable[[bytes | str], None], on_close: Callable[[], None], *,
           max_message_size: int = 2**63) -> Socket:
    """flask-sock's `ws` (handshake done) as our socket: ``ServerSocket`` when ``prepare`` asked
    for it (no compression, under gevent), else ``SimpleSocket``.

    :param max_message_size: the largest message the client may send, in bytes, for
        ``ServerSocket``; simple-websocket has its own from flask-sock's options.
    """
    try:
        ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else ~40 ms per round trip
    except OSError:  # not TCP
        pass
    if isinstance(ws.thread, GreenThread) and ws.thread.deferred:
        server = ServerSocket(ws.sock, on_message, on_close, max_message_size=max_message_size,
                              protocol=ws.subprotocol)
        ws.connected = False  # simple-websocket is done with it: flask-sock's close does nothing
        return server
    return SimpleSocket(ws, on_message, on_close)

