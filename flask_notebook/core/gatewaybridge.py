"""One gateway kernel's channels as local ZMQ sockets: the relay (``channels.KernelChannels``)
talks to a kernel on a Jupyter Gateway exactly as to a local one.

Per kernel: ROUTER sockets for shell, control and stdin, a PUB socket for iopub and a ROUTER
for the heartbeat, bound on loopback with a key of this server's; and one WebSocket to the
gateway's ``/api/kernels/<id>/channels`` (the legacy JSON protocol, which is what Enterprise
Gateway 3 speaks). One greenlet per direction does the work: the upstream greenlet reads the
WebSocket, each ZMQ reader (shell is the busy one) forwards what the relay sends.

- Up: a message from the relay is checked (its HMAC, with this server's key: anything else
  on loopback cannot talk to the kernel through us), its header parsed for routing, and its
  parts spliced as they are into the gateway's JSON (``messages.encode_legacy``): the content
  is never parsed.
- Down: the gateway's JSON is parsed once, and its four parts serialised and signed. Replies
  (and stdin requests) go back to the ROUTER identity that sent their parent request, iopub
  goes to every subscriber.

Messages the relay sends before the WebSocket is open (the relay's first ``kernel_info``) wait
for it, a bounded number. When the WebSocket drops, ``on_down`` is called (the provisioner
then asks the gateway whether the kernel still exists) and it reconnects, backing off.

The WebSocket names a session (``?session_id=``) that is the same every time this replica
connects to this kernel (`session_id`): a gateway (jupyter_server's kernel handler) keeps what
the kernel sends while its last connection is away for the next connection of the same session,
and replays it then, so a dropped connection loses nothing. A replica that adopts the kernel of
a replica that died connects first with the dead one's session (`drain_session`), when no one
is connected to the kernel: the gateway then replays to it what the dead replica's clients
missed (``on_drain`` is told first), and keeps that session for its later connections (the
kernel's record names it for the next holder).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import gevent
import orjson
import zmq

from . import messages
from .channels import zmq_context
from .gatewayclient import GatewayClient, UpstreamSocket

log = logging.getLogger(__name__)

_NOBLOCK, _EVENTS, _POLLIN = int(zmq.NOBLOCK), int(zmq.EVENTS), int(zmq.POLLIN)
#: Requests whose reply has not come yet, remembered for routing; past this many, the oldest go.
_MAX_ROUTES = 10_000
#: Messages kept while the WebSocket is not open.
_MAX_PENDING = 1000
_RECONNECT = (0.25, 5.0)


def session_id(replica: str, remote_id: str) -> str:
    """The gateway session of `replica`'s connection to the kernel `remote_id`: stable, so
    that the gateway keeps for it what the kernel sends while it is away."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"flask-notebook:{replica}/{remote_id}").hex


class Bridge:
    """The local end of one gateway kernel. `info` is its connection info (jupyter_client's)."""

    def __init__(self, client: GatewayClient, remote_id: str, *, key: bytes, signature_scheme: str = "hmac-sha256",
                 on_down: Callable[[], None] | None = None, ip: str = "127.0.0.1", session: str | None = None,
                 drain_session: str | None = None, on_drain: Callable[[], None] | None = None,
                 on_open: Callable[[], None] | None = None) -> None:
        self.client = client
        self.remote_id = remote_id
        self.on_down = on_down
        self.session = session
        self._drain_session = drain_session
        self.on_drain = on_drain
        #: Told when the WebSocket is first open; `opened` says it was.
        self.on_open = on_open
        self.opened = False
        self.closed = False
        self.ws: UpstreamSocket | None = None
        self._pending: list[str | bytes] = []
        self._routes: OrderedDict[str, bytes] = OrderedDict()
        self._last: dict[str, bytes] = {}
        digest = signature_scheme.split("-", 1)[-1]
        self._auth = hmac.new(key, digestmod=getattr(hashlib, digest)) if key else None
        ctx = zmq_context()
        self._sockets: dict[str, Any] = {}
        self.info: dict[str, Any] = {"transport": "tcp", "ip": ip, "key": key,
                                     "signature_scheme": signature_scheme}
        try:
            for channel, kind in (("shell", zmq.ROUTER), ("control", zmq.ROUTER), ("stdin", zmq.ROUTER),
                                  ("iopub", zmq.PUB), ("hb", zmq.ROUTER)):
                sock = ctx.socket(kind)
                sock.linger = 0
                sock.setsockopt(zmq.SNDHWM, 0)
                sock.setsockopt(zmq.RCVHWM, 0)
                self.info[f"{channel}_port"] = sock.bind_to_random_port(f"tcp://{ip}")
                self._sockets[channel] = sock
        except zmq.ZMQError:
            self._close_sockets()
            raise
        self._greenlets = [gevent.spawn(self._read, channel, self._sockets[channel])
                           for channel in ("shell", "control", "stdin", "hb")]
        self._greenlets.append(gevent.spawn(self._upstream))

    # -- signatures -----------------------------------------------------------------------

    def _sign(self, parts: list[bytes]) -> bytes:
        if self._auth is None:
            return b""
        h = self._auth.copy()
        for part in parts[:4]:
            h.update(part)
        return h.hexdigest().encode()

    # -- the relay -> the gateway ---------------------------------------------------------------

    def _read(self, channel: str, sock: Any) -> None:
        hub = gevent.get_hub()
        watcher = hub.loop.io(sock.getsockopt(zmq.FD), 1)
        try:
            while True:
                self._drain(channel, sock)
                hub.wait(watcher)
        except zmq.ZMQError:  # closed under us
            return
        finally:
            watcher.close()

    def _drain(self, channel: str, sock: Any) -> None:
        get, recv = sock.getsockopt, sock.recv_multipart
        while get(_EVENTS) & _POLLIN:
            frames = recv(_NOBLOCK)
            if channel == "hb":
                if self.ws is not None:  # the kernel is as reachable as its gateway
                    sock.send_multipart(frames)
                continue
            self._up(channel, frames)

    def _up(self, channel: str, frames: list[bytes]) -> None:
        try:
            at = frames.index(messages.DELIM)
        except ValueError:
            log.warning("dropped a %s message without a delimiter for gateway kernel %s", channel, self.remote_id)
            return
        parts = frames[at + 2:]
        if len(parts) < 4 or (self._auth is not None and not hmac.compare_digest(frames[at + 1], self._sign(parts))):
            log.warning("dropped a %s message with a bad signature for gateway kernel %s", channel, self.remote_id)
            return
        try:
            header = orjson.loads(parts[0])
        except orjson.JSONDecodeError:
            return
        if at:
            identity = frames[0]
            self._last[channel] = identity
            msg_id = header.get("msg_id") if isinstance(header, dict) else None
            if isinstance(msg_id, str) and channel != "stdin":
                self._routes[msg_id] = identity
                if len(self._routes) > _MAX_ROUTES:
                    self._routes.popitem(last=False)
        self._send(messages.encode_legacy(channel, parts, header if isinstance(header, dict) else {}))

    def _send(self, data: str | bytes) -> None:
        ws = self.ws
        if ws is None:
            if len(self._pending) < _MAX_PENDING:
                self._pending.append(data)
            return
        try:
            ws.send(data)
        except OSError:
            ws.close()  # the upstream greenlet sees it and reconnects

    # -- the gateway -> the relay ---------------------------------------------------------------

    def _upstream(self) -> None:
        path = self.client.path("api", "kernels", self.remote_id, "channels")
        delay = _RECONNECT[0]
        while not self.closed:
            session = self._first_session()
            try:
                ws = self.client.websocket(f"{path}?session_id={session}" if session else path)
            except Exception as exc:
                log.warning("gateway kernel %s: the channels WebSocket failed: %s", self.remote_id, exc)
                self._down()
                gevent.sleep(delay)
                delay = min(delay * 2, _RECONNECT[1])
                continue
            delay = _RECONNECT[0]
            self.ws = ws
            if not self.opened:
                self.opened = True
                if self.on_open is not None:
                    self.on_open()
            pending, self._pending = self._pending, []
            for data in pending:
                self._send(data)
            try:
                while True:
                    batch = ws.messages()
                    if not batch:
                        break
                    for data in batch:
                        self._down_message(data)
            finally:
                self.ws = None
                ws.close()
            if not self.closed:
                log.warning("gateway kernel %s: the channels WebSocket closed; reconnecting", self.remote_id)
                self._down()

    def _first_session(self) -> str | None:
        """The session to connect as: the dead replica's once (`drain_session`), if nobody is
        connected to the kernel (a replica that is merely reconnecting would have its session
        taken, and what the gateway kept for it), else this replica's own."""
        drain, self._drain_session = self._drain_session, None
        if drain is None:
            return self.session
        try:
            model = self.client.request("GET", self.client.path("api", "kernels", self.remote_id),
                                        timeout=min(self.client.request_timeout, 10.0))
        except Exception as exc:
            log.info("gateway kernel %s: what another replica's clients missed is not replayed (%s)", self.remote_id, exc)
            return self.session
        if not isinstance(model, dict) or model.get("connections") != 0:
            return self.session
        log.info("gateway kernel %s: taking over the session of the replica that held it, for its replay", self.remote_id)
        if self.on_drain is not None:
            self.on_drain()
        # Kept from now on: if this connection drops, what the gateway keeps is for this
        # session, and the kernel's record names it for whoever holds the kernel next.
        self.session = drain
        return drain

    def _down(self) -> None:
        if self.on_down is not None and not self.closed:
            self.on_down()

    def _down_message(self, data: str | bytes) -> None:
        try:
            if isinstance(data, bytes):
                channel, parts, header = messages.decode_legacy(data)
                parent = orjson.loads(parts[1])
            else:
                msg = orjson.loads(data)
                header, parent = msg["header"], msg.get("parent_header") or {}
                channel = msg.get("channel")
                parts = [orjson.dumps(header), orjson.dumps(parent), orjson.dumps(msg.get("metadata") or {}),
                         orjson.dumps(msg.get("content") or {})]
        except (messages.Malformed, orjson.JSONDecodeError, orjson.JSONEncodeError, KeyError, TypeError,
                AttributeError):
            log.warning("dropped a malformed message from gateway kernel %s", self.remote_id)
            return
        sock = self._sockets.get(channel) if isinstance(channel, str) else None
        if sock is None or channel == "hb":
            return
        frames = [messages.DELIM, self._sign(parts), *parts]
        if channel == "iopub":
            sock.send_multipart(frames)
            return
        parent_id = parent.get("msg_id") if isinstance(parent, dict) else None
        identity = self._routes.get(parent_id) if isinstance(parent_id, str) else None
        if identity is None:
            identity = self._last.get("shell" if channel == "stdin" else channel)
        if identity is None:
            return
        if channel != "stdin" and isinstance(header, dict) and str(header.get("msg_type", "")).endswith("_reply"):
            self._routes.pop(parent_id or "", None)
        try:
            sock.send_multipart([identity, *frames])
        except zmq.ZMQError:
            return
        # A send may consume the descriptor's signal for a message that arrived meanwhile.
        self._drain(channel, sock)

    # -- end ------------------------------------------------------------------------------

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        current = gevent.getcurrent()
        gevent.killall([g for g in self._greenlets if g is not current], block=True, timeout=5)
        if self.ws is not None:
            self.ws.close()
        self._close_sockets()

    def _close_sockets(self) -> None:
        for sock in self._sockets.values():
            sock.close(linger=0)
        self._sockets = {}
