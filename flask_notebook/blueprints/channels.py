"""The kernel WebSocket, `/api/kernels/<id>/channels?session_id=...` (contract section 9).

flask-sock routes the request and simple-websocket does the handshake; the socket and
everything after it belong to the transport (``flask_notebook.transport``), and the messages
to the kernel's relay (``core.channels``). What is done here: an unknown kernel is a 404
before the handshake, compression is settled (``upgrade.prepare``), and the socket is
attached to the kernel's relay (``relay.attach``).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, g, request
from flask_sock import Sock

from ..core import errors
from ..core.kernelrecords import HeldElsewhere
from ..extension import state
from ..transport import relay, upgrade
from . import audit, forward, ownership
from .kernels import bp

sock = Sock()


@bp.before_request
def check_channels() -> Response | None:
    """Before the handshake: an unknown kernel (or another user's) is a 404; a session id
    that is another user's on this kernel is a 409 (``KernelChannels.session_taken``: their
    replay is theirs); compression is off unless wanted."""
    if request.endpoint != "notebook.api.kernels.channels":
        return None
    view_args = request.view_args or {}
    try:
        kernel = ownership.kernel(view_args.get("kernel_id", ""))
    except HeldElsewhere as exc:  # replicas: piped to the kernel's holder, which checks the rest
        try:
            g.notebook_upstream = forward.open_upstream(exc)
        except forward.Refused as refused:
            return refused.response
        upgrade.prepare(request.environ, compression=state().settings.ws_compression, own_reader=True)
        return None
    session_id = request.args.get("session_id")
    if session_id and kernel.channels is not None and kernel.channels.session_taken(session_id, ownership.owner()):
        raise errors.Conflict("This session_id is in use by another user on this kernel; connect with one "
                              "of your own", reason="session in use")
    upgrade.prepare(request.environ, compression=state().settings.ws_compression, own_reader=True)
    return None


@bp.get("/<kernel_id>/channels")
def channels_without_upgrade(kernel_id: str) -> Response:
    """The same URL without a WebSocket upgrade, as jupyter_server answers it."""
    ownership.kernel(kernel_id)
    raise errors.Invalid('Can "Upgrade" only to "WebSocket".')


@sock.route("/<kernel_id>/channels", bp=bp)  # type: ignore[untyped-decorator]
def channels(ws: Any, kernel_id: str) -> None:
    st = state()
    upstream = g.pop("notebook_upstream", None)
    if upstream is not None:
        forward.pipe(ws, upstream)
        return
    try:
        kernel = ownership.kernel(kernel_id)
    except errors.NotFound:  # shut down during the handshake
        return
    kernel_relay = kernel.channels
    if kernel_relay is None or kernel_relay.closed:
        return
    relay.attach(kernel_relay, ws, session_id=request.args.get("session_id") or uuid.uuid4().hex,
                 pinger=st.pinger, queue_limit=st.settings.ws_queue_limit,
                 ready_timeout=st.settings.kernel_info_timeout,
                 max_message_size=st.settings.ws_max_message_size or 2**63,
                 park=request.environ.get(upgrade.PARK), owner=ownership.owner(),
                 on_execute=audit.websocket_executions(kernel_id))
