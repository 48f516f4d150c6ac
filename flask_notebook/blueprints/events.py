"""`/api/events`: post an event, and the WebSocket `/api/events/subscribe` that streams them.

The subscriber's socket is served by simple-websocket through flask-sock, in the request's
greenlet (events are few: none of the kernel WebSocket's parking or shared frames). It is
authenticated before the handshake like every API request (``security.guard_api``: token,
or login cookie from the same origin), and pinged like the kernel WebSockets.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent
from flask import Blueprint, Response, request
from simple_websocket import ConnectionClosed

from ..core import errors
from ..core.event_schemas import CONTENTS_SERVICE
from ..core.events import Subscription, contents_action
from ..extension import state
from .channels import LockedSocket, PingedSocket, pinger, sock
from .http import json_body

log = logging.getLogger(__name__)
bp = Blueprint("events", __name__, url_prefix="/events")


@bp.post("")
def post_event() -> Response:
    """Check a client's event against the registered schemas and send it to the subscribers."""
    state().events.post(json_body())
    return Response(status=204)


@bp.before_request
def check_subscribe() -> None:
    """permessage-deflate only when configured, as for the kernel WebSocket."""
    if request.endpoint == "notebook.api.events.subscribe" and not state().settings.ws_compression:
        request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)


@bp.get("/subscribe")
def subscribe_without_upgrade() -> Response:
    """The same URL without a WebSocket upgrade: jupyter_server's 400, as JSON."""
    raise errors.Invalid('Can "Upgrade" only to "WebSocket".')


@sock.route("/subscribe", bp=bp)  # type: ignore[untyped-decorator]
def subscribe(ws: Any) -> None:
    """One text frame per event until either side closes; what the client sends is ignored."""
    st = state()
    locked = ws.sock = LockedSocket(ws.sock)  # each frame one sendall, the reader's pongs included
    pinged = PingedSocket(ws, locked)
    subscription = st.events.subscribe()
    reader = gevent.spawn(_read_until_closed, ws, subscription)
    pinger.add(pinged, st.settings.ws_ping_interval)
    try:
        for frames in subscription:
            for frame in frames:
                ws.send(frame)  # a slow client holds up only this greenlet; its queue is bounded
    except (ConnectionClosed, OSError):  # the client is gone
        pass
    finally:
        subscription.close()
        pinger.discard(pinged)
        reader.kill(block=False)


def _read_until_closed(ws: Any, subscription: Subscription) -> None:
    """Discard the client's frames; end the subscription when the socket closes (the client
    left, or missed a ping)."""
    try:
        while True:
            ws.receive()
    except ConnectionClosed:
        pass
    finally:
        subscription.close()


def emit_contents(action: str, path: str, source_path: str | None = None) -> None:
    """A ``contents_service`` event, from a contents view whose operation succeeded.

    Emitted by the views rather than ``core.contents``, whose operations run in worker
    threads (``offload``), where the subscribers' queues may not be touched. One event per
    operation: jupyter_server's manager also emits a ``get`` after each save, rename and copy
    (it builds its answer with ``get``), which is left out here.
    """
    state().events.emit(CONTENTS_SERVICE, contents_action(action, path, source_path))
