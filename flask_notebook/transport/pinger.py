"""Pings: one greenlet per app pings every WebSocket of that app, instead of a timer per socket."""

from __future__ import annotations

import logging
from typing import Any

import gevent

from .base import Socket
from .framing import POLICY

log = logging.getLogger(__name__)


class Pinger:
    """Pings each socket `interval` seconds apart (``NOTEBOOK_WS_PING_INTERVAL``; 0: never) and
    closes those that did not answer the previous ping.

    One per app (``NotebookState.pinger``), so two apps in one process ping at their own
    intervals. Its greenlet runs while it has sockets, and ends with the last.

    A socket still busy with one write is not pinged (its pong could not come back behind
    the write); one busy for ``STUCK_ROUNDS`` rounds in a row has a peer that stopped
    reading while staying connected, and is aborted: it would hold its greenlet, its
    descriptor and its queue for good.
    """

    STUCK_ROUNDS = 3

    def __init__(self, interval: float = 0) -> None:
        self.interval = interval
        self.sockets: dict[Socket, int] = {}  # socket -> rounds found busy in a row
        self._greenlet: Any = None

    def add(self, ws: Socket) -> None:
        """Ping `ws` from now on, until it closes or is ``discard``-ed."""
        if self.interval <= 0:
            return
        self.sockets[ws] = 0
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def discard(self, ws: Socket) -> None:
        self.sockets.pop(ws, None)

    def _run(self) -> None:
        interval = self.interval
        try:
            while self.sockets:
                gevent.sleep(interval)
                for ws in list(self.sockets):
                    if not ws.connected:
                        self.sockets.pop(ws, None)
                    elif not ws.pong_received:
                        log.info("closing a WebSocket that did not answer a ping within %s s", interval)
                        self.sockets.pop(ws, None)
                        ws.close(POLICY, "Ping/Pong timeout")
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
