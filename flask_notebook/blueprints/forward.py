"""Replicas: a request for a gateway kernel (or a run) that another replica holds goes to that
replica.

A gateway kernel has one holder among the replicas: the one whose record names it
(``NOTEBOOK_REPLICA_URL`` is its address). ``KernelRegistry.claim`` raises `HeldElsewhere`
for a kernel held elsewhere, and the request is forwarded as the client sent it: its
method, path, query, body and headers (credentials, ``Host``, ``Origin``, the proxy's
``X-Forwarded-*``), so that the holder authenticates and authorizes it exactly as this
replica would, plus `VIA`, naming this replica. A WebSocket is piped to a WebSocket opened
to the holder with the same handshake. So the kernel keeps one connection to the gateway,
and if its holder dies the gateway keeps what the kernel sends for that connection's
session, which the replica that takes the kernel over replays to every client.

A request that carries `VIA` is served where it arrives, never forwarded again (a loop
cannot form); a client that sends `VIA` itself only gets its kernel served by a replica
that is not its holder, with a connection of its own to the gateway.
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import gevent
import orjson
from flask import Response, g, request, url_for
from gevent import socket as gsocket
from gevent import ssl as gssl
from gevent.event import Event

from ..core.kernelrecords import HOLDER_CONNECT_TIMEOUT, HeldElsewhere, Listed
from ..core.kernels import FORWARD
from ..extension import state
from ..transport import upgrade, wsclient
from ..transport.framing import GOING_AWAY
from .errors import error_response

log = logging.getLogger(__name__)

#: Names the replica that forwarded a request; the receiver serves it, never forwards it.
VIA = "X-Notebook-Forwarded-By"
#: Headers of one connection, not of the request (RFC 9110 section 7.6.1), and the length,
#: which the forwarded body sets again.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                         "te", "trailer", "transfer-encoding", "upgrade", "content-length"})
#: The WebSocket handshake's own headers, which the handshake to the holder makes afresh.
_HANDSHAKE = frozenset({"host", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
                        "sec-websocket-protocol", "sec-websocket-accept"})
#: Headers of the client's that a listing asked of a holder goes without: its answer is read
#: here, whole and uncompressed (`held_models`).
_NOT_FOR_LISTING = frozenset({"accept", "accept-encoding", "if-none-match", "if-modified-since", "range"})
#: Seconds a message to the holder may wait for it to read, before the pipe is closed.
UPSTREAM_SEND_TIMEOUT = 30.0


def before_request() -> None:
    """A request another replica forwarded here is served here (`VIA`)."""
    if VIA in request.headers:
        g.notebook_forward_reset = FORWARD.set(False)


def teardown_request(_exc: BaseException | None = None) -> None:
    token = g.pop("notebook_forward_reset", None)
    if token is not None:
        FORWARD.reset(token)
    upstream = g.pop("notebook_upstream", None)  # opened, but the client's handshake failed
    if upstream is not None:
        upstream.close()


#: Seconds a holder has to list its kernels for another replica's listing (`held_models`).
LIST_TIMEOUT = 5.0


def held_models(listed: Iterable[Listed]) -> dict[str, dict[str, Any]]:
    """The models of `listed` kernels (held by other replicas) as their holders give them:
    each holder is asked once, all at the same time, for its kernel list, as this request's
    client (``GET /api/kernels``, with `VIA`). A holder that does not answer within
    `LIST_TIMEOUT` seconds leaves its kernels as their records tell (``"unknown"``). None is
    asked for a request another replica forwarded: its listing is its own."""
    wanted: dict[str, set[str]] = {}
    for item in listed:
        if item.url:
            wanted.setdefault(item.url, set()).add(item.id)
    if not wanted or VIA in request.headers:
        return {}
    path = _raw_path(url_for("notebook.api.kernels.list_kernels")[len(request.script_root):])
    headers = dict(_headers(_HOP_BY_HOP | _HANDSHAKE | _NOT_FOR_LISTING))
    headers.update({"Host": request.headers.get("Host", ""), "Accept": "application/json"})

    def ask(url: str, ids: set[str]) -> dict[str, dict[str, Any]]:
        conn = _Connection(url)
        try:
            conn.request("GET", path, headers=headers)
            answer = conn.getresponse()
            models = orjson.loads(answer.read()) if answer.status == 200 else []
        except (OSError, http.client.HTTPException, orjson.JSONDecodeError) as exc:  # a line, not a greenlet's traceback
            log.warning("the kernel list of the replica at %s could not be read: %s", url, exc)
            return {}
        finally:
            conn.close()
        return {m["id"]: m for m in models if isinstance(m, dict) and m.get("id") in ids} \
            if isinstance(models, list) else {}

    asked = [gevent.spawn(ask, url, ids) for url, ids in wanted.items()]
    gevent.joinall(asked, timeout=LIST_TIMEOUT)
    found: dict[str, dict[str, Any]] = {}
    for job in asked:
        if job.successful() and job.value:
            found.update(job.value)
        elif not job.ready():
            job.kill(block=False)
    return found


def forwarded() -> bool:
    """Whether this request's answer is the holder's (``audit`` leaves the line to it)."""
    return bool(g.get("notebook_forwarded"))


def _target() -> str:
    """The path and query the client asked this server for, before any proxy fix: the holder
    is configured as this replica is, and makes the same of them."""
    environ = request.environ
    query = environ.get("QUERY_STRING") or ""
    return _raw_path(environ.get("PATH_INFO") or "") + (f"?{query}" if query else "")


def _raw_path(path: str) -> str:
    """`path` (below the application's root, as WSGI's ``PATH_INFO`` gives it) as this server
    was asked for it: under the ``SCRIPT_NAME`` it had before any proxy fix, quoted."""
    environ = request.environ
    script = (environ.get("werkzeug.proxy_fix.orig") or environ).get("SCRIPT_NAME") or ""
    return quote((script + path).encode("latin-1"), safe="/:@!$&'()*+,;=-._~%")


def _headers(skip: frozenset[str]) -> list[tuple[str, str]]:
    mine = state().settings.replica_id or "replica"
    return [(name, value) for name, value in request.headers.items()
            if name.lower() not in skip and name.lower() != VIA.lower()] + [(VIA, mine)]


def _connect(url: str) -> Any:
    """A socket connected to the replica at `url` (TLS for https).

    :raises OSError: it did not accept within ``HOLDER_CONNECT_TIMEOUT``.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    sock = gsocket.create_connection((host, parts.port or (443 if parts.scheme == "https" else 80)),
                                     timeout=HOLDER_CONNECT_TIMEOUT)
    sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
    if parts.scheme == "https":
        sock = gssl.create_default_context().wrap_socket(sock, server_hostname=host)
    return sock


class _Connection(http.client.HTTPConnection):
    """An HTTP connection on a socket `_connect` made."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        super().__init__(parts.hostname or "", parts.port)
        self._url = url

    def connect(self) -> None:
        self.sock = _connect(self._url)
        self.sock.settimeout(None)  # a synchronous execution answers when its code is done


def _unavailable(exc: HeldElsewhere, why: object) -> Response:
    log.warning("%s: the request could not be forwarded: %s", exc, why)
    response = error_response(503, f"The server holding {exc.thing} did not answer; try again",
                              reason="replica unavailable")
    response.headers["Retry-After"] = "1"
    return response


def handle_held_elsewhere(exc: HeldElsewhere) -> Response:
    """Forward the request to the replica holding its kernel, and stream back its answer."""
    body = request.get_data(cache=True)
    conn = _Connection(exc.url)
    try:
        conn.putrequest(request.method, _target(), skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", request.headers.get("Host", ""))
        for name, value in _headers(_HOP_BY_HOP | {"host"}):
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        answer = conn.getresponse()
    except (OSError, http.client.HTTPException) as err:
        conn.close()
        return _unavailable(exc, err)
    g.notebook_forwarded = True
    headers = [(name, value) for name, value in answer.getheaders() if name.lower() not in _HOP_BY_HOP]
    length = answer.getheader("Content-Length")
    if length is not None:
        headers.append(("Content-Length", length))

    def stream() -> Iterator[bytes]:
        try:
            while chunk := answer.read1(65536):
                yield chunk
        except (OSError, http.client.HTTPException) as err:
            log.warning("%s: its answer was cut off: %s", exc, err)
        finally:
            conn.close()

    return Response(stream(), status=answer.status, headers=headers)


def _refusal(exc: HeldElsewhere, err: wsclient.Refused) -> Response:
    """The holder's refusal of the WebSocket, as it gave it (its JSON error), or a message
    naming its status."""
    try:
        answer = orjson.loads(err.body)
    except orjson.JSONDecodeError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("message"), str):
        reason = answer.get("reason")
        return error_response(err.status, answer["message"], reason=reason if isinstance(reason, str) else None)
    return error_response(err.status, f"The server holding {exc.thing} refused the WebSocket "
                                      f"({err.status})")


class Refused(Exception):
    """The holder's WebSocket could not be opened: `response` is the client's answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def open_upstream(exc: HeldElsewhere) -> wsclient.WebSocket:
    """Before this replica's handshake with the client: the same handshake with the holder.

    :raises Refused: with a 503 (`_unavailable`) when it does not answer, or the holder's
        own refusal (a 404, a 403, a 409), which is the client's answer too.
    """
    protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    try:
        sock = _connect(exc.url)
    except OSError as err:
        raise Refused(_unavailable(exc, err)) from None
    try:
        ws = wsclient.handshake(sock, request.headers.get("Host", ""), _target(), _headers(_HOP_BY_HOP | _HANDSHAKE),
                                subprotocols=protocols)
    except wsclient.Refused as err:  # the holder's answer (a 404, a 403, a 409) is the client's
        sock.close()
        raise Refused(_refusal(exc, err)) from None
    except OSError as err:
        sock.close()
        raise Refused(_unavailable(exc, err)) from None
    sock.settimeout(None)
    ws.send_timeout = UPSTREAM_SEND_TIMEOUT
    return ws


def pipe(ws: Any, upstream: wsclient.WebSocket) -> None:
    """Serve flask-sock's `ws` (handshake done) as a pipe to `upstream`, the holder's socket,
    message for message, until either closes: the client is then closed as going away, and
    reconnects (to whichever replica holds the kernel by then)."""
    st = state()
    closed = Event()

    def on_message(data: bytes | str) -> None:
        try:
            upstream.send(data)
        except OSError:
            closed.set()

    def on_close() -> None:
        closed.set()

    socket = upgrade.accept(ws, on_message, on_close, max_message_size=st.settings.ws_max_message_size or 2**63)
    if socket.protocol != upstream.subprotocol:  # both replicas choose alike: a mixed version
        log.warning("forwarded WebSocket: the holder chose the subprotocol %r, this replica %r",
                    upstream.subprotocol, socket.protocol)
        upstream.close()
        socket.close(GOING_AWAY, "the replicas disagree on the subprotocol")
        return

    def down() -> None:
        try:
            while batch := upstream.messages():
                for data in batch:
                    socket.send(data)
        except Exception as err:  # the client is gone: closed below
            log.debug("forwarded WebSocket: %s", err)
        closed.set()

    reader = gevent.spawn(down)
    st.pinger.add(socket)
    serving = gevent.spawn(socket.serve)
    try:
        closed.wait()
    finally:
        st.pinger.discard(socket)
        upstream.close()
        socket.close(GOING_AWAY, "the server holding the kernel went away")
        gevent.killall([reader, serving], block=False)


