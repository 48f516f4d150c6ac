"""A client WebSocket to a kernel gateway (``core.gatewayclient``'s `OpenWebSocket`): the
handshake and the frames are wsproto's, on the gevent socket the core connected.

`WebSocket.messages` is read by one greenlet (the bridge's upstream one); `send` may be
called from any, one frame per ``sendall`` under a lock, within the deadline the socket had
at the handshake (the gateway's request timeout): a peer that stops reading makes `send`
raise, not hang with the lock held. Pings are answered; a close ends `messages` with [].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gevent
from gevent.lock import Semaphore
from wsproto import ConnectionType, WSConnection
from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection, Event, Ping, RejectConnection,
                            RejectData, Request, TextMessage)
from wsproto.utilities import LocalProtocolError


class Refused(OSError):
    """The server answered the handshake with `status` (and `body`, the start of its answer)."""

    def __init__(self, status: int, body: bytes = b"") -> None:
        super().__init__(f"the handshake was refused with {status}")
        self.status = status
        self.body = body


#: The most of a refusal's body that is kept (an error's JSON is far smaller).
_MAX_REFUSAL = 65536


def handshake(sock: Any, host: str, path: str, headers: list[tuple[str, str]],
              subprotocols: Sequence[str] = ()) -> WebSocket:
    """:raises OSError: the connection failed; `Refused`: the server said no."""
    ws = WSConnection(ConnectionType.CLIENT)
    sock.sendall(ws.send(Request(host=host, target=path, subprotocols=list(subprotocols),
                                 extra_headers=[(k.encode(), v.encode()) for k, v in headers])))
    refused: int | None = None
    body = b""
    while True:
        data = sock.recv(65536)
        if not data:
            if refused is not None:
                raise Refused(refused, body)
            raise OSError("the server closed the connection during the handshake")
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                accepted = WebSocket(sock, ws, send_timeout=sock.gettimeout())
                accepted.subprotocol = event.subprotocol
                return accepted
            if isinstance(event, RejectConnection):
                if not event.has_body:
                    raise Refused(event.status_code)
                refused = event.status_code
            elif isinstance(event, RejectData):
                body = (body + bytes(event.data))[:_MAX_REFUSAL]
                if event.body_finished or refused is None:
                    raise Refused(refused or 502, body)


class WebSocket:
    """A client WebSocket on a gevent socket: `recv` in one greenlet, `send` from any.

    Pings are answered; a close ends `recv` with None.
    """

    def __init__(self, sock: Any, ws: WSConnection, *, send_timeout: float | None = None) -> None:
        self.sock = sock
        self.ws = ws
        self.send_timeout = send_timeout
        self._send_lock = Semaphore()
        self._text: list[str] = []
        self._bytes: list[bytes] = []
        self.closed = False
        #: The subprotocol the server chose, or None.
        self.subprotocol: str | None = None

    def send(self, data: str | bytes) -> None:
        """:raises OSError: the socket is gone."""
        frame = self.ws.send(TextMessage(data=data) if isinstance(data, str) else BytesMessage(data=data))
        self._sendall(frame)

    def _sendall(self, frame: bytes) -> None:
        """:raises OSError: the socket is gone, or the peer took nothing for `send_timeout` seconds
        (the socket is then closed: a frame may be half sent)."""
        with self._send_lock, gevent.Timeout(self.send_timeout, False):
            self.sock.sendall(frame)
            return
        self.close()
        raise TimeoutError(f"the gateway took no data for {self.send_timeout:g} s")

    def events(self) -> list[Event]:
        """The next events (at least one), None-free; [] when the connection has ended."""
        while True:
            events = list(self.ws.events())
            if events:
                return events
            try:
                data = self.sock.recv(262144)
            except OSError:
                data = b""
            if not data:
                self.closed = True
                return []
            self.ws.receive_data(data)

    def messages(self) -> list[str | bytes]:
        """The next complete messages (at least one); [] once the connection has ended."""
        out: list[str | bytes] = []
        while not out:
            events = self.events()
            if not events:
                return []
            for event in events:
                if isinstance(event, TextMessage):
                    self._text.append(event.data)
                    if event.message_finished:
                        out.append("".join(self._text) if len(self._text) > 1 else self._text[0])
                        self._text = []
                elif isinstance(event, BytesMessage):
                    self._bytes.append(bytes(event.data))
                    if event.message_finished:
                        out.append(b"".join(self._bytes))
                        self._bytes = []
                elif isinstance(event, Ping):
                    self._reply(event.response())
                elif isinstance(event, CloseConnection):
                    self._reply(event.response())
                    self.closed = True
                    return out
        return out

    def _reply(self, event: Any) -> None:
        try:
            self._sendall(self.ws.send(event))
        except (OSError, LocalProtocolError):
            pass

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
