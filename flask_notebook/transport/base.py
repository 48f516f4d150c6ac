"""The one interface of a WebSocket after its handshake, whoever frames it.

Two classes implement it: ``server_socket.ServerSocket`` (our framing: parked while idle,
frames shared across connections, writes that need not wait) and ``simple.SimpleSocket``
(simple-websocket and wsproto throughout: permessage-deflate). ``upgrade.accept`` picks one;
the relay (``relay.attach``), the pinger and the views see only this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from .framing import NORMAL, Shareable


class Socket(Protocol):
    """A server WebSocket. It was made with `on_message(payload)`, called with each message
    (``str`` for text, ``bytes`` for binary), and `on_close()`, called once when it closes."""

    #: The subprotocol the handshake chose, or None.
    protocol: str | None
    #: Whether ``try_send_messages`` can ever write: False where every write may wait.
    nonblocking: bool
    #: Whether the peer answered the last ping (the pinger's bookkeeping).
    pong_received: bool

    @property
    def connected(self) -> bool: ...

    def serve(self, park: Callable[[], None] | None = None) -> None:
        """Read until the socket closes, in this greenlet; or call `park` (our server's way to
        keep the connection open after its request ends) and read with no greenlet while idle,
        returning at once, where the socket can be parked."""
        ...

    def send(self, data: bytes | str) -> None:
        """One whole message, before any other write starts; waits for room.

        :raises Closed: the socket is closed.
        """
        ...

    def send_message(self, msg: Shareable) -> None:
        """``send`` of a message many sockets send (a kernel's), framed once for all of them
        where the framing allows (not under compression).

        :raises Closed: the socket is closed.
        """
        ...

    def try_send_message(self, msg: Shareable) -> bool:
        """``send_message`` only if the socket takes it without waiting. False, with nothing
        written, when it would wait.

        :raises Closed: the socket is closed.
        """
        ...

    def try_send_messages(self, msgs: Sequence[Shareable]) -> bool:
        """``try_send_message`` of them all, in one write."""
        ...

    def ping(self) -> bool:
        """A ping, never waiting. False, with nothing sent, while a write is under way."""
        ...

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Send a close frame (normal closure by default) and end the connection."""
        ...

    def abort(self) -> None:
        """End the connection under a write that does not end (the peer stopped reading)."""
        ...
