"""`/api/terminals` and the terminal WebSocket `/terminals/websocket/<name>` (contract
sections 2 and 8), as jupyter_server_terminals serves them.

The WebSocket speaks terminado's protocol: JSON arrays in text frames. The server sends
``["setup", {}]`` once connected, then ``["stdout", text]`` (first all the output the
terminal has kept, in one frame), and ``["disconnect", 1]`` before it closes the socket when
the shell has ended; the client sends ``["stdin", text]`` and ``["set_size", rows, cols]``.
Anything else is ignored.

The socket is the transport's ``SimpleSocket`` (simple-websocket, as the kernel WebSocket is
with compression on): this request's greenlet reads what the client sends, a second one
writes the terminal's output, and every write is one ``sendall`` under the socket's lock.
It is pinged by the app's ``Pinger``, as the kernel WebSockets are. It authenticates as
the API does (``security.guard_api``), before the handshake, as does the 404 of an
unknown terminal.

A terminal belongs to the user who started it: another user's is "not found" on every URL
that names it, and not listed (an administrator's view has them all). It starts in the
user's workspace.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent
import orjson
from flask import Blueprint, Response, request, url_for
from flask_sock import Sock

from ..core import errors
from ..core.terminals import Terminals, TerminalClient
from ..extension import state
from ..transport import upgrade
from ..transport.base import Socket
from ..transport.framing import Closed
from . import ownership, security
from .http import json_body, json_response

log = logging.getLogger(__name__)
bp = Blueprint("terminals", __name__, url_prefix="/terminals")
socket_bp = Blueprint("terminal_socket", __name__, url_prefix="/terminals")
sock = Sock()

_SETUP = orjson.dumps(["setup", {}]).decode()
_DISCONNECT = orjson.dumps(["disconnect", 1]).decode()


def _terminals() -> Terminals:
    terminals = state().terminals
    if terminals is None:
        raise errors.NotFound("Terminals are switched off on this server (NOTEBOOK_TERMINALS)",
                              reason="disabled")
    return terminals


# -- REST --------------------------------------------------------------------------------------


@bp.get("")
def list_terminals() -> Response:
    return json_response([terminal.model() for terminal in _terminals().all(ownership.user())])


@bp.post("")
def create_terminal() -> Response:
    """200 (not 201) and no Location, as jupyter_server_terminals answers. The body may
    name the terminal (``name``) and its folder (``cwd``, relative to the root; ignored
    when it is not a folder inside the root)."""
    terminals = _terminals()
    body = json_body() or {}
    if not isinstance(body, dict):
        raise errors.Invalid("The body must be a JSON object")
    name, cwd = body.get("name"), body.get("cwd")
    for field, value in (("name", name), ("cwd", cwd)):
        if value is not None and not isinstance(value, str):
            raise errors.Invalid(f"'{field}' must be a string")
    server_url = url_for("notebook.api.get_version", _external=True).removesuffix("api")
    workspace = ownership.workspace()
    terminal = terminals.create_terminal(name, cwd=cwd, owner=ownership.owner(), root=workspace.root,
                                         env={"JUPYTER_SERVER_URL": server_url,
                                              "JUPYTER_SERVER_ROOT": workspace.os_root})
    return json_response(terminal.model())


@bp.get("/<name>")
def get_terminal(name: str) -> Response:
    return json_response(_terminals().get(name, ownership.user()).model())


@bp.delete("/<name>")
def terminate_terminal(name: str) -> Response:
    terminals = _terminals()
    terminals.get(name, ownership.user())
    terminals.terminate(name)
    return Response(status=204)


# -- the WebSocket -----------------------------------------------------------------------------


@socket_bp.before_request
def check_terminal_socket() -> Response | None:
    """Before the handshake: authentication as for the API (403), then an unknown or
    switched-off terminal is a 404; compression is off unless configured."""
    denied = security.guard_api()
    if denied is not None:
        return denied
    _terminals().get((request.view_args or {}).get("name", ""), ownership.user())
    upgrade.prepare(request.environ, compression=state().settings.ws_compression)
    return None


@socket_bp.get("/websocket/<name>")
def terminal_socket_without_upgrade(name: str) -> Response:
    """The same URL without a WebSocket upgrade: 400, as tornado answers it."""
    raise errors.Invalid('Can "Upgrade" only to "WebSocket".')


@sock.route("/websocket/<name>", bp=socket_bp)  # type: ignore[untyped-decorator]
def terminal_socket(ws: Any, name: str) -> None:
    st = state()
    try:
        terminal = _terminals().get(name, ownership.user())
    except errors.NotFound:  # ended during the handshake
        return
    client = terminal.attach()
    socket = upgrade.accept(ws, lambda data: _handle(client, data), lambda: None)
    writer = None
    try:
        socket.send(_SETUP)
        writer = gevent.spawn(_write_output, socket, client)
        st.pinger.add(socket)
        socket.serve()
    except (Closed, OSError):
        pass
    finally:
        st.pinger.discard(socket)
        client.detach()
        if writer is not None:
            writer.kill(block=False)


def _write_output(socket: Socket, client: TerminalClient) -> None:
    """The terminal's output to the socket until the terminal ends; then close it."""
    try:
        while True:
            text = client.read()
            if text is None:
                socket.send(_DISCONNECT)
                break
            socket.send(orjson.dumps(["stdout", text]).decode())
    except (Closed, OSError):
        pass
    finally:
        socket.close()  # wakes the request's greenlet, waiting in serve()


def _handle(client: TerminalClient, data: str | bytes) -> None:
    """One client message: ``["stdin", text]`` or ``["set_size", rows, cols]``."""
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        log.warning("terminal %s: ignored a message that is not JSON", client.terminal.name)
        return
    if not isinstance(message, list) or not message:
        return
    kind, args = message[0], message[1:]
    if kind == "stdin" and args and isinstance(args[0], str):
        client.write(args[0])
    elif kind == "set_size" and len(args) >= 2 and all(type(n) is int for n in args[:2]):
        try:
            client.set_size(args[0], args[1])
        except errors.Invalid as exc:
            log.warning("terminal %s: %s", client.terminal.name, exc.message)
