"""`/api/events`: post an event, and the WebSocket `/api/events/subscribe` that streams them.

The subscriber's socket is the transport's ``SimpleSocket`` (simple-websocket through
flask-sock), written by the request's greenlet (events are few: none of the kernel
WebSocket's parking or shared frames). It is
authenticated before the handshake like every API request (``security.guard_api``: token,
or login cookie from the same origin), and pinged like the kernel WebSockets.

A user hears about their own kernels, their own posts and their own workspace's contents,
and what is for everyone; an administrator hears everything (``core.events.owner_audience``).
"""

from __future__ import annotations

import logging
from typing import Any

import gevent
from flask import Blueprint, Response, g, request

from ..core import errors
from ..core.event_schemas import CONTENTS_SERVICE
from ..core.events import contents_action
from ..extension import state
from ..transport import upgrade
from ..transport.framing import Closed
from . import ownership
from .channels import sock
from .http import json_body

log = logging.getLogger(__name__)
bp = Blueprint("events", __name__, url_prefix="/events")


@bp.post("")
def post_event() -> Response:
    """Check a client's event against the registered schemas and send it to the subscribers
    who hear the poster's own events: on a server with several users, a user's post is no
    message to the others (nor a way to make them believe a kernel of theirs did something)."""
    state().events.post(json_body(), ownership.audience())
    return Response(status=204)


@bp.before_request
def check_subscribe() -> None:
    """Whose events the subscriber hears (before the handshake: a user who can have no
    workspace is refused with a 403); permessage-deflate only when configured, as for the
    kernel WebSocket."""
    if request.endpoint == "notebook.api.events.subscribe":
        user = ownership.user()
        g.notebook_audiences = None if user.admin else frozenset({ownership.audience(),
                                                                  ownership.contents_audience()})
        upgrade.prepare(request.environ, compression=state().settings.ws_compression)


@bp.get("/subscribe")
def subscribe_without_upgrade() -> Response:
    """The same URL without a WebSocket upgrade: jupyter_server's 400, as JSON."""
    raise errors.Invalid('Can "Upgrade" only to "WebSocket".')


@sock.route("/subscribe", bp=bp)  # type: ignore[untyped-decorator]
def subscribe(ws: Any) -> None:
    """One text frame per event until either side closes; what the client sends is ignored."""
    st = state()
    subscription = st.events.subscribe(audiences=g.notebook_audiences)
    # The client's frames are discarded; the subscription ends when the socket closes (the
    # client left, or missed a ping).
    socket = upgrade.accept(ws, _ignore, subscription.close)
    reader = gevent.spawn(socket.serve)
    st.pinger.add(socket)
    try:
        for frames in subscription:
            for frame in frames:
                socket.send(frame)  # a slow client holds up only this greenlet; its queue is bounded
    except (Closed, OSError):  # the client is gone
        pass
    finally:
        subscription.close()
        st.pinger.discard(socket)
        reader.kill(block=False)


def _ignore(data: bytes | str) -> None:
    pass


def emit_contents(action: str, path: str, source_path: str | None = None) -> None:
    """A ``contents_service`` event, from a contents view whose operation succeeded.

    Emitted by the views rather than ``core.contents``, whose operations run in worker
    threads (``offload``), where the subscribers' queues may not be touched. One event per
    operation: jupyter_server's manager also emits a ``get`` after each save, rename and copy
    (it builds its answer with ``get``), which is left out here.
    """
    state().events.emit(CONTENTS_SERVICE, contents_action(action, path, source_path),
                        ownership.contents_audience())
