"""The relay between one kernel's ZMQ channels and all of its WebSocket connections.

Per kernel, not per connection: one SUB socket on iopub, and one DEALER on each of shell,
control and stdin, shared by every WebSocket of that kernel (a WebSocket then costs its TCP
socket and a little memory, where jupyter_server opens four ZMQ sockets per WebSocket).

- iopub goes at once to the connection whose request caused it, and to the others (the
  onlookers) from a shared log, every 50 ms, in one write each (``_Flusher``); every
  connection still sees the kernel's messages in the kernel's order;
- replies on shell and control are routed back by their parent's msg_id to the connection
  that sent the request (remembered until both its reply and its idle status have come, at
  most 10,000 at once); stdin requests (``input()``) the same way, by the execute request
  that caused them. Shell and stdin share one ZMQ identity, which ipykernel requires;
- each connection has an outbound queue bounded in bytes: written at once when the socket
  takes it, else by a writer greenlet, so the ZMQ readers never wait for a slow browser.
  Only pure output (stream and display data) is ever shed, and a notice takes its place in
  the stream;
- a connection that goes away leaves an offline buffer under its ``session_id``, bounded in
  bytes; a reconnect with that id gets what it missed, exactly once (contract 9.5).

Everything runs in greenlets on gevent's hub. The ZMQ sockets are plain pyzmq sockets that
never block: a reader greenlet per socket waits on the socket's file descriptor and then
drains every waiting message (``_read``), and sends never wait (no send high-water mark).
zmq.green would do the same with several Python calls, an event object and a timer per
message part, which made up a third of the relay's CPU time. Nothing here calls
jupyter_client's synchronous kernel API (``kernels.py`` owns that).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import gevent
import zmq
from gevent.event import Event
from jupyter_client.session import Session

from . import messages
from .messages import Msg
from .metrics import RelayStats, ShedCount
from .paths import iso_utc

log = logging.getLogger(__name__)

#: The requester of the relay's own requests (the readiness nudge).
_INTERNAL = ""
#: Who sent each client request, until its reply and its idle have both come; past this many
#: (a kernel that never says idle, say), the oldest are forgotten.
_MAX_REQUESTS = 10_000
_NUDGE_INTERVAL = 0.25
_NUDGE_RESEND = 2.0
#: Messages a reader dispatches before it lets other greenlets run.
_DRAIN_BATCH = 256
#: While a kernel is in the middle of a burst of output (its last two iopub messages were
#: streams or displays), its reader waits before it looks again, instead of waking for every
#: message: a burst then costs a wakeup and a write per interval, not per message. The wait
#: starts at `_COALESCE` and doubles while the burst goes on, up to `_COALESCE_MAX` (about a
#: screen frame). The first output of a cell, replies, and a cell with a single output are
#: never held back; what follows a burst (the idle status) may wait as long as the last
#: interval: 5 ms after a short burst, 20 ms after a long one. Measured in
#: bench/kernels.py: a fixed 5 ms halved the server's CPU in the flood, and growing to 20 ms
#: cut it by another quarter; it also let the kernel emit display_data 3-4% faster than a
#: fixed 5 ms did (in three interleaved runs of 12-20 kernels each): the reader wakes a
#: quarter as often on the CPUs the kernel's threads share.
_COALESCE = 0.005
_COALESCE_MAX = 0.020
# Plain ints: pyzmq's enum constants cost an enum operation at every use.
_NOBLOCK, _SNDMORE = int(zmq.NOBLOCK), int(zmq.SNDMORE)
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)
#: pyzmq's socket methods without its Python wrappers (which check arguments we never pass).
_zmq_send = zmq.backend.Socket.send
PROTOCOL_VERSION = "5.4"

#: One ZMQ context for the process, as pyzmq recommends; it carries no setting of any app.
_context: Any = None
#: What ``_recv`` returns for a kernel message it could not parse (and logged).
_MALFORMED = Msg("", [], {}, {})


def zmq_context() -> Any:
    global _context
    if _context is None:
        _context = zmq.Context()
    return _context


def server_message(session_id: str, msg_type: str, content: dict[str, Any],
                   parent: dict[str, Any] | None = None, channel: str = "iopub") -> Msg:
    """A message the server makes: a complete header whose session is the client's (contract 9.8)."""
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "flask-notebook",
              "session": session_id, "date": iso_utc(time.time()), "version": PROTOCOL_VERSION}
    return messages.make(channel, header, parent or {}, content)


#: Seconds a relay keeps what a gateway replays for a connection that went away
#: (``KernelChannels.expect_orphans``) for its clients to reconnect.
ORPHAN_WINDOW = 60.0
#: How many other replicas' client sessions a relay remembers (``KernelChannels.foreign``).
_FOREIGN = 1024

#: What a client that reconnects through another replica (the one it used died, say) is told,
#: once, on its kernel's stream: this replica never had its messages, so it replays nothing
#: (rather than guess, and duplicate what the client already has).
MOVED_NOTICE = ("[flask-notebook] Reconnected through another server replica: output the kernel sent while "
                "this client was away, and replies to requests it sent before, are not replayed here.\n")


class Gap:
    """Where shed messages were: becomes one stderr notice in the stream when delivered."""

    __slots__ = ("count", "size", "parent", "why")

    def __init__(self, why: str) -> None:
        self.count = 0
        self.size = 0
        self.parent: dict[str, Any] = {}
        self.why = why

    def notice(self, session_id: str) -> Msg:
        text = (f"[flask-notebook] {self.count} output message{'s' if self.count != 1 else ''} "
                f"({_human(self.size)}) dropped here: {self.why}.\n")
        return server_message(session_id, "stream", {"name": "stderr", "text": text}, self.parent)


def _human(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


class Outbox:
    """Messages on their way to one client, bounded in bytes.

    Past the bound, pure output is shed and counted in a ``Gap``; everything else is kept,
    so replies and status messages are never lost.
    """

    __slots__ = ("items", "size", "limit", "why", "shed")

    def __init__(self, limit: int, why: str) -> None:
        self.items: deque[Msg | Gap] = deque()
        self.size = 0
        self.limit = limit
        self.why = why
        #: Where what it sheds is counted (metrics), if anywhere.
        self.shed: ShedCount | None = None

    def put(self, msg: Msg) -> None:
        if msg.sheddable and self.size + msg.size > self.limit:
            if self.shed is not None:
                self.shed.messages += 1
                self.shed.bytes += msg.size
            gap = self.items[-1] if self.items and isinstance(self.items[-1], Gap) else None
            if gap is None:
                gap = Gap(self.why)
                self.items.append(gap)
            gap.count += 1
            gap.size += msg.size
            gap.parent = msg.parent
            return
        self.items.append(msg)
        self.size += msg.size

    def pop(self) -> Msg | Gap:
        item = self.items.popleft()
        if isinstance(item, Msg):
            self.size -= item.size
        return item


class _Cork:
    """While a reader dispatches a batch of kernel messages, what would be written to a
    waiting client at once is queued instead, and each connection then gets the whole batch
    in one write: a burst of output costs a system call per burst, not per message."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: dict[Connection, None] = {}

    def __enter__(self) -> None:
        self.depth += 1

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1
        while not self.depth and self.pending:
            conn = next(iter(self.pending))
            del self.pending[conn]
            conn.flush_quick()


#: One for the process, shared by the relays of every app in it: it carries no setting, only
#: the depth of the batches being dispatched (a batch left open while another reader runs only
#: puts off those writes to the end of the outer batch).
_cork = _Cork()


class Connection:
    """One WebSocket's side of the relay. `send` writes one message; `close` ends the socket.

    `try_send` writes a message only if the socket takes it without waiting (False: nothing
    was written); `try_send_all` does the same for several messages in one write.
    """

    def __init__(self, session_id: str, protocol: str | None, send: Callable[[Msg], None],
                 close: Callable[[], None], *, queue_limit: int,
                 try_send: Callable[[Msg], bool] | None = None,
                 try_send_all: Callable[[list[Msg]], bool] | None = None, owner: str | None = None) -> None:
        self.session_id = session_id
        #: The user whose connection it is: its session id is theirs on this kernel.
        self.owner = owner
        self.protocol = protocol
        self._send = send
        self._try_send = try_send
        self._try_send_all = try_send_all
        self._close = close
        self.outbox = Outbox(queue_limit, "this connection fell too far behind the kernel's output "
                                          "(NOTEBOOK_WS_QUEUE_LIMIT)")
        self._writer: Any = None
        self.inflight: Msg | Gap | None = None
        self.closed = False
        #: The sequence number of the next kernel broadcast this connection is to get.
        self.cursor = 0

    def deliver(self, msg: Msg | Gap) -> None:
        """Queue a message and write it as soon as the socket takes it. After the socket
        failed, messages still queue: ``detach`` moves them to the offline buffer, so a
        reconnecting client gets them."""
        quick = self._try_send is not None and self._writer is None and not self.closed
        if quick and not _cork.depth and not self.outbox.items and isinstance(msg, Msg):
            # The common case, a client waiting for its answer: written here and now, with
            # no writer greenlet to start and switch to.
            try:
                if self._try_send(msg):  # type: ignore[misc]
                    return
            except Exception as exc:
                log.debug("websocket write failed: %r", exc)
                self.close()
                quick = False
        if isinstance(msg, Gap):
            self.outbox.items.append(msg)
        else:
            self.outbox.put(msg)
        if self.closed or self._writer is not None or self in _cork.pending:
            return
        if quick and _cork.depth:
            _cork.pending[self] = None  # a reader is dispatching a batch: written at its end
        else:
            self._writer = gevent.spawn_raw(self._write)

    def flush_quick(self) -> None:
        """Write what is queued without waiting; a socket that would block gets a writer."""
        outbox = self.outbox
        if self._try_send is None:  # every write may wait: the writer's
            if outbox.items and self._writer is None and not self.closed:
                self._writer = gevent.spawn_raw(self._write)
            return
        try:
            while outbox.items and self._writer is None and not self.closed:
                batch = self._batch()
                if self._try_send_all is not None and len(batch) > 1:
                    sent = self._try_send_all(batch)
                else:
                    del batch[1:]
                    sent = self._try_send(batch[0])
                if not sent:
                    self._writer = gevent.spawn_raw(self._write)
                    return
                for _ in batch:
                    outbox.pop()
        except Exception as exc:
            log.debug("websocket write failed: %r", exc)
            self.close()

    def _batch(self, max_bytes: int = 256 * 1024, max_count: int = 256) -> list[Msg]:
        """The first queued messages, as many as make one reasonable write."""
        batch: list[Msg] = []
        size = 0
        for item in self.outbox.items:
            msg = item.notice(self.session_id) if isinstance(item, Gap) else item
            batch.append(msg)
            size += msg.size
            if size >= max_bytes or len(batch) >= max_count:
                break
        return batch

    def _write(self) -> None:
        outbox = self.outbox
        try:
            while outbox.items and not self.closed:
                item = self.inflight = outbox.pop()
                msg = item.notice(self.session_id) if isinstance(item, Gap) else item
                self._send(msg)
                self.inflight = None
        except Exception as exc:  # the socket is gone: the handler's receive loop notices too
            log.debug("websocket write failed: %r", exc)
            if self.inflight is not None:  # not delivered: it goes first to the reconnect
                outbox.items.appendleft(self.inflight)
                if isinstance(self.inflight, Msg):
                    outbox.size += self.inflight.size
            self.close()
        finally:
            self.inflight = None
            self._writer = None

    def unsent(self) -> list[Msg | Gap]:
        """What this (closed) connection never wrote, in order, including a write in progress,
        which a closed socket cannot complete. Empties the queue."""
        items: list[Msg | Gap] = [self.inflight] if self.inflight is not None else []
        self.inflight = None
        items.extend(self.outbox.items)
        self.outbox.items.clear()
        self.outbox.size = 0
        return items

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self._close()
            except Exception:  # already closed
                pass


class _Flusher:
    """Hands kernels' iopub to their onlookers: every `INTERVAL` seconds, each onlooker gets
    what it has not had yet in one write, a batch of connections at a time when the hub has
    nothing else to do.

    Output a client did not ask for (another tab on the same kernel, say) waits up to
    `INTERVAL`, unnoticeable to a person watching. In exchange the client that is waiting
    for an answer never waits while a message is queued for a thousand onlookers, and a
    thousand onlookers cost one write each per interval, not one per message.
    """

    INTERVAL = 0.05
    BATCH = 4

    def __init__(self) -> None:
        self.pending: dict[KernelChannels, None] = {}
        self._greenlet: Any = None

    def add(self, relay: KernelChannels) -> None:
        self.pending[relay] = None
        if self._greenlet is None:
            self._greenlet = gevent.spawn_raw(self._run)

    def _run(self) -> None:
        try:
            while self.pending:
                gevent.sleep(self.INTERVAL)
                due, self.pending = self.pending, {}
                for relay in due:
                    conns = list(relay.connections.values())
                    for i in range(0, len(conns), self.BATCH):
                        gevent.idle()
                        for conn in conns[i:i + self.BATCH]:
                            if relay.connections.get(conn.session_id) is conn:
                                relay.fan_in(conn)
                                conn.flush_quick()
                    relay.trim()
        finally:
            self._greenlet = None


#: One greenlet for the process, shared by the relays of every app in it: it carries no
#: setting of any app (its interval and batch are constants of the design, not configuration),
#: so two apps cannot see each other's values here.
_flusher = _Flusher()


def _key_bytes(key: str | bytes) -> bytes:
    """A connection file's signing key, as ``Session`` takes it."""
    return key.encode() if isinstance(key, str) else key


class KernelChannels:
    """The shared ZMQ sockets of one kernel, and the connections they serve."""

    def __init__(self, kernel_id: str, info: dict[str, Any], *, on_iopub: Callable[[Msg], None],
                 replay_limit: int, replay_sessions: int, stats: RelayStats | None = None) -> None:
        self.kernel_id = kernel_id
        #: The app's relay counts (``core.metrics``), or None. Two dicts, looked up once here.
        self.stats = stats
        self._received = stats.received if stats is not None else None
        self._sent = stats.sent if stats is not None else None
        self.on_iopub = on_iopub
        self.replay_limit = replay_limit
        self.replay_sessions = replay_sessions
        self.connections: dict[str, Connection] = {}
        self.offline: OrderedDict[str, Outbox] = OrderedDict()
        #: Whose each session id (connected, or with a replay buffer) is: another user's
        #: connection may neither take its place nor get its replay (``session_taken``).
        self.session_owners: dict[str, str | None] = {}
        #: Request msg_id -> the session that sent it: replies (and ``input()`` requests) go
        #: back to it, and its iopub reaches it before the onlookers'. Forgotten when both
        #: the reply and the idle status have come (``_settle``). (Kept until 10,000 newer
        #: ones pushed them out, they took ~125 bytes each: a server relaying for 20 busy
        #: kernels grew by 1 MiB a minute for its first 25 minutes; bench/load.py --soak.)
        self.requesters: OrderedDict[str, str] = OrderedDict()
        #: Requests whose reply or idle has come, but not both yet.
        self._half_done: set[str] = set()
        #: iopub not yet handed to every connection, numbered from `_log_base`: each
        #: connection's `cursor` says where it is (``fan_in``).
        self._log: list[Msg] = []
        self._log_base = 0
        self.ready = Event()
        self.closed = False
        self._info: dict[str, Any] = {}
        self._sockets: dict[str, Any] = {}
        self._readers: list[Any] = []
        self._nudger: Any = None
        self._nudge_reply = Event()
        self._status_seen = False  # a status message came since the last nudge began
        self._iopub_seen = Event()
        self._welcome = Event()
        self._mid_output = self._last_sheddable = False
        #: The relay's own kernel_info requests on control (``probe``), by msg_id.
        self._probes: dict[str, Event] = {}
        #: The content of the kernel's last ``kernel_info_reply`` to the relay's own requests
        #: (its ``language_info``: what a run writes into its notebook), or None before one.
        self.kernel_info: dict[str, Any] | None = None
        self._info_seen = Event()
        #: Replicas (a gateway kernel, which other replicas serve too): the client sessions
        #: whose requests' output this relay saw on iopub while they were not connected here
        #: (they are another replica's clients), most recent last, at most `_FOREIGN`. One of
        #: them that connects here is told that nothing it missed is replayed (``attach``).
        self.foreign: OrderedDict[str, None] | None = None
        #: What a gateway replays for the connection of a server that went away (this
        #: replica's predecessor, or a replica that died), kept for that server's clients:
        #: they reconnect here and get it as their replay (``expect_orphans``). None: not
        #: keeping; `_orphan_sessions` are the clients it is for.
        self._orphans: list[Msg] | None = None
        self._orphan_sessions: set[str] = set()
        self._orphan_bytes = 0
        self._orphans_until = 0.0
        self.session = Session(key=_key_bytes(info["key"]),
                               signature_scheme=info.get("signature_scheme", "hmac-sha256"),
                               username="flask-notebook")
        self._connect(info)

    # -- sockets ------------------------------------------------------------------------

    def _connect(self, info: dict[str, Any]) -> None:
        self._info = {k: info[k] for k in ("transport", "ip", "shell_port", "iopub_port", "stdin_port",
                                           "control_port")}
        ctx = zmq_context()
        identity = uuid.uuid4().hex.encode()  # shell and stdin must share it, or input() never arrives

        def url(port_key: str) -> str:
            if info["transport"] == "ipc":
                return f"ipc://{info['ip']}-{info[port_key]}"
            return f"tcp://{info['ip']}:{info[port_key]}"

        for channel, kind in (("shell", zmq.DEALER), ("control", zmq.DEALER), ("stdin", zmq.DEALER),
                              ("iopub", zmq.SUB)):
            sock = ctx.socket(kind)
            sock.linger = 0
            if info.get("curve_publickey"):  # a kernel with CurveZMQ transport encryption
                sock.curve_secretkey = info["curve_secretkey"].encode()
                sock.curve_publickey = info["curve_publickey"].encode()
                sock.curve_serverkey = info["curve_publickey"].encode()
            sock.setsockopt(zmq.RECONNECT_IVL, 20)  # a starting kernel binds a moment after we connect
            if kind == zmq.DEALER:
                sock.setsockopt(zmq.SNDHWM, 0)  # a send queues, never waits: it runs on the hub's thread
                sock.setsockopt(zmq.IDENTITY, identity if channel != "control" else uuid.uuid4().hex.encode())
            else:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
                sock.setsockopt(zmq.RCVHWM, 0)  # drained at once into per-connection queues
            sock.connect(url(f"{channel}_port"))
            self._sockets[channel] = sock
            self._readers.append(gevent.spawn(self._read, channel, sock))
        self.nudge()

    def _disconnect(self) -> None:
        # The readers stop watching the descriptors before the sockets close them: a watcher
        # left on a closed descriptor could be handed the next socket that reuses its number.
        gevent.killall(self._readers, block=True, timeout=5)
        self._readers = []
        for sock in self._sockets.values():
            sock.close(linger=0)
        self._sockets = {}

    def moved(self, info: dict[str, Any]) -> bool:
        """Reconnect when an autorestart gave the kernel new ports, or a new key (a remote
        provisioner's launcher makes a new connection file, key included, on each launch).
        True when it did."""
        current = {k: info[k] for k in self._info}
        key = _key_bytes(info["key"])
        if (current == self._info and key == self.session.key) or self.closed:
            return False
        self._disconnect()
        self.requesters.clear()
        self._half_done.clear()
        self.session.key = key
        self._connect(info)
        return True

    def close(self) -> None:
        """Stop relaying (the kernel is gone). WebSockets stay open, as in jupyter_server."""
        self.closed = True
        if self._nudger is not None:
            self._nudger.kill(block=False)
        self.ready.set()  # whoever waits for the kernel finds the relay closed, now
        self._disconnect()
        for conn in list(self.connections.values()):
            self.fan_in(conn)  # what the kernel said last still reaches its clients
            conn.flush_quick()
        self.offline.clear()
        self.requesters.clear()
        self._half_done.clear()

    def hang_up(self) -> None:
        """Stop relaying and close every WebSocket, after what the kernel said last: the
        server is stopping. (A server that waits for its connections, gunicorn's worker,
        would otherwise wait for each browser to go away.)"""
        self.close()
        for conn in list(self.connections.values()):
            conn.close()

    # -- readiness --------------------------------------------------------------------

    def nudge(self) -> None:
        """Ask for kernel_info until the kernel answers and iopub delivers, or an XPUB kernel
        welcomes our subscription: then `ready` is set.

        Messages sent to a kernel before our SUB socket has joined would be lost for every
        client; the nudge is done once per kernel start, not once per WebSocket.
        """
        self.ready.clear()
        # Here, not in the greenlet: a welcome that comes before it runs still counts.
        self._nudge_reply.clear()
        self._iopub_seen.clear()
        self._status_seen = False
        self._welcome.clear()
        if self._nudger is not None:
            self._nudger.kill(block=False)
        self._nudger = gevent.spawn(self._nudge)

    def _nudge(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            # The request waits in the DEALER until the kernel binds; ask again only when an
            # answer is overdue, or when the reply came but iopub has not spoken yet. A kernel
            # whose iopub is an XPUB (JEP 65) says when our subscription reached it: then
            # nothing it publishes is lost to us, and no reply is needed.
            self._send_internal("kernel_info_request")
            gevent.wait([self._nudge_reply, self._welcome], timeout=_NUDGE_RESEND, count=1)
            if self._welcome.is_set() or (self._nudge_reply.is_set() and self._iopub_seen.wait(_NUDGE_INTERVAL)):
                if self._welcome.is_set() and not self._status_seen:
                    # The kernel may have answered before our subscription reached it, its
                    # busy and idle lost: the registry would see it `starting` for ever. Now
                    # that nothing it publishes is lost, ask once more.
                    self._send_internal("kernel_info_request")
                self.ready.set()
                return
        if not self.closed:
            log.warning("kernel %s did not answer kernel_info within %s s", self.kernel_id, timeout)
            self.ready.set()  # let clients talk to it anyway: they will see what they see

    def wait_kernel_info(self, timeout: float) -> dict[str, Any] | None:
        """The kernel's ``kernel_info_reply`` content, waiting up to `timeout` seconds for the
        nudge's reply (a kernel whose XPUB welcomed us is ready before it has answered)."""
        self._info_seen.wait(timeout)
        return self.kernel_info

    def _welcomed(self) -> None:
        """An ``iopub_welcome`` (JEP 65): the kernel's XPUB saw our SUB socket subscribe.

        It answers the relay's subscription, which no client made (they subscribe to nothing:
        the relay does, once per kernel start), so it is not relayed, replayed or counted as
        activity. jupyter_server, with a SUB socket per WebSocket, swallows the welcome in its
        connection nudge, but relays the one that follows a restart (2.21.1, checked live).
        """
        self._welcome.set()
        self._iopub_seen.set()

    def _send_internal(self, msg_type: str) -> None:
        msg = self.session.msg(msg_type, {})
        self._remember(msg["header"]["msg_id"], _INTERNAL)
        sock = self._sockets.get("shell")
        if sock is not None:
            self.session.send(sock, msg)
            self._after_send("shell", sock)

    def probe(self, timeout: float) -> bool:
        """Whether the kernel answers a ``kernel_info_request`` on its control channel within
        `timeout` seconds. Its status messages on iopub reach the kernel's clients, as those of
        any client's control request do."""
        sock = self._sockets.get("control")
        if sock is None or self.closed:
            return False
        msg = self.session.msg("kernel_info_request", {})
        msg_id = msg["header"]["msg_id"]
        answered = self._probes[msg_id] = Event()
        self._remember(msg_id, _INTERNAL)
        try:
            self.session.send(sock, msg)
            self._after_send("control", sock)
            return bool(answered.wait(timeout))
        finally:
            self._probes.pop(msg_id, None)

    # -- kernel -> clients ------------------------------------------------------------------

    def _read(self, channel: str, sock: Any) -> None:
        hub = gevent.get_hub()
        watcher = hub.loop.io(sock.get(zmq.FD), 1)
        burst = False
        hold = _COALESCE
        try:
            while True:
                if self._drain(channel, sock, burst=burst):
                    burst = True
                    gevent.sleep(0)  # a flood: let the writers and other kernels run
                elif self._mid_output and channel == "iopub":
                    self._mid_output = False
                    burst = True
                    gevent.sleep(hold)
                    hold = min(hold * 2, _COALESCE_MAX)
                else:
                    burst = False
                    hold = _COALESCE
                    # ZMQ's descriptor signals that something changed, not that a message
                    # waits, and only once: wait only when the socket was found empty.
                    hub.wait(watcher)
        except zmq.ZMQError:  # closed under us
            return
        finally:
            watcher.close()

    def _drain(self, channel: str, sock: Any, *, burst: bool = False) -> bool:
        """Dispatch the messages waiting on `sock`, a batch at most. True when more may wait.

        Outside a `burst`, the first message goes to its client at once: usually it is the
        only one (a status, a reply), and its client should not wait for more to be read.
        What follows it, and everything in a burst, is corked into one write per connection.
        """
        recv, get = sock.recv, sock.get
        if not burst:
            # Asked with ZMQ_EVENTS, where one message or none is likely: a recv that finds
            # nothing would cost the same system call plus pyzmq's exception, dearer than
            # the rest of the check. (EVENTS processes the socket's commands, after which its
            # descriptor signals again, as a failed recv does.)
            if not get(_EVENTS) & _POLLIN:
                return False
            try:
                first = self._recv(channel, recv)
            except zmq.Again:  # (not after POLLIN; but an Again must not end the reader)
                return False
            if first is not _MALFORMED:
                self._dispatch(first)
            if not get(_EVENTS) & _POLLIN:
                return False
        # More: read until a recv finds nothing (no system call per message, as EVENTS has).
        with _cork:
            try:
                for _ in range(_DRAIN_BATCH):
                    msg = self._recv(channel, recv)
                    if msg is not _MALFORMED:
                        self._dispatch(msg)
            except zmq.Again:
                return False
        return True

    def _recv(self, channel: str, recv: Any) -> Msg:
        """The message waiting on a socket (``_MALFORMED`` if it is not one).

        :raises zmq.Again: none waits.
        """
        # As zmq.Frame objects: a frame says itself whether more follow, where asking the
        # socket (ZMQ_RCVMORE) costs pyzmq an enum conversion per frame.
        frame = recv(_NOBLOCK, False)
        frames = [frame.bytes]
        while frame.more:
            frame = recv(_NOBLOCK, False)
            frames.append(frame.bytes)
        try:
            return messages.from_zmq(channel, frames)
        except messages.Malformed as exc:
            log.warning("dropped a malformed %s message from kernel %s: %s", channel, self.kernel_id, exc)
            return _MALFORMED

    def _after_send(self, channel: str, sock: Any) -> None:
        """A send may consume the descriptor's signal for a reply that arrived meanwhile, and
        the reader would not wake for it: take what is waiting now."""
        try:
            while self._drain(channel, sock):
                pass
        except zmq.ZMQError:
            pass

    def _dispatch(self, msg: Msg) -> None:
        if self._received is not None:
            self._received[msg.channel] += 1
        if msg.channel == "iopub":
            if msg.parent_msg_id is None and msg.msg_type == "iopub_welcome":
                self._welcomed()
                return
            # The client waiting for this gets it first, now; the others from the flusher,
            # soon. The bookkeeping follows (nothing can observe it in between).
            connections = self.connections
            first = connections.get(self.requesters.get(msg.parent_msg_id or "", "")) if connections else None
            if first is not None:
                self.fan_in(first)
                first.deliver(msg)
            if not self._iopub_seen.is_set():
                self._iopub_seen.set()
            status = msg.msg_type == "status"
            if status:
                self._status_seen = True
            if self.foreign is not None:
                self._note_foreign(msg)
            sheddable = msg.sheddable
            self._mid_output = sheddable and self._last_sheddable  # two outputs in a row: a burst
            self._last_sheddable = sheddable
            self.on_iopub(msg)
            if first is not None:
                first.cursor += 1
            if len(connections) > (first is not None):  # onlookers: they get it from the log
                self._log.append(msg)
                _flusher.add(self)
            elif self._log:  # older messages still wait there for someone: keep the order
                self._log.append(msg)
                self.trim()
            else:  # nobody else to keep it for (``first``, if any, is up to date)
                self._log_base += 1
            for outbox in self.offline.values():
                outbox.put(msg)
            if self._orphans is not None:
                self._keep_orphan(msg)
            parent_id = msg.parent_msg_id
            if status and parent_id is not None and parent_id in self.requesters \
                    and msg.content().get("execution_state") == "idle":
                self._settle(parent_id)
            return
        parent_id = msg.parent_msg_id or ""
        target = self.requesters.get(parent_id)
        if target is None and self._orphans is not None:
            # A reply to a request the old server relayed: its client, if it is back, else kept.
            session = msg.parent.get("session")
            if isinstance(session, str) and session in self.connections:
                conn = self.connections[session]
                self.fan_in(conn)
                conn.deliver(msg)
            else:
                self._keep_orphan(msg)
            return
        if target is None:
            log.debug("no route for a %s %s", msg.channel, msg.msg_type)
            return
        if target == _INTERNAL:
            if msg.msg_type == "kernel_info_reply":
                content = msg.content()
                if isinstance(content, dict):
                    self.kernel_info = content
                    self._info_seen.set()
                self._nudge_reply.set()
                probe = self._probes.get(msg.parent_msg_id or "")
                if probe is not None:
                    probe.set()
        elif target in self.connections:
            conn = self.connections[target]
            self.fan_in(conn)
            conn.deliver(msg)
        elif target in self.offline:
            self.offline[target].put(msg)
        if msg.channel != "stdin":  # (an input request comes while its execute request runs)
            self._settle(parent_id)

    def expect_orphans(self, window: float = ORPHAN_WINDOW) -> None:
        """A gateway is about to replay what it kept for the connection of a server that went
        away: keep it, for `window` seconds and up to the replay limit, for that server's
        clients (the sessions the replayed requests came from), to replay when they connect."""
        self._orphans = []
        self._orphan_sessions = set()
        self._orphan_bytes = 0
        self._orphans_until = time.monotonic() + window
        gevent.spawn_later(window, self._orphans_expired)

    def _orphans_expired(self) -> bool:
        """Whether the window is over; what was kept for clients that did not come back then
        goes."""
        if self._orphans is None or time.monotonic() < self._orphans_until:
            return self._orphans is None
        self._forget_orphans()
        return True

    def _forget_orphans(self) -> None:
        self._orphans, self._orphan_sessions, self._orphan_bytes = None, set(), 0

    def _keep_orphan(self, msg: Msg) -> None:
        if self._orphans_expired():
            return
        if self._orphan_bytes + msg.size > self.replay_limit:
            self._forget_orphans()  # too much: as without
            return
        assert self._orphans is not None
        self._orphans.append(msg)
        self._orphan_bytes += msg.size
        session = msg.parent.get("session")
        if isinstance(session, str) and session not in self.connections:
            self._orphan_sessions.add(session)

    def _replay_orphans(self, conn: Connection) -> bool:
        """Give `conn` what the old server's connection missed, if it was one of its clients."""
        if self._orphans is None or conn.session_id not in self._orphan_sessions:
            return False
        self._orphan_sessions.discard(conn.session_id)
        if self._orphans_expired():
            return False
        assert self._orphans is not None
        for msg in self._orphans:
            if msg.channel == "iopub" or msg.parent.get("session") == conn.session_id:
                conn.deliver(msg)
        return True

    def _note_foreign(self, msg: Msg) -> None:
        session_id = msg.parent.get("session")
        if isinstance(session_id, str) and session_id not in self.connections and session_id not in self.offline:
            foreign = self.foreign
            assert foreign is not None
            foreign[session_id] = None
            foreign.move_to_end(session_id)
            if len(foreign) > _FOREIGN:
                foreign.popitem(last=False)

    def _settle(self, msg_id: str) -> None:
        """The reply or the idle of a request came: once both have, nothing more is routed
        by it, and it is forgotten. (Output a kernel's thread prints later, with that request
        as its parent, still reaches every connection, from the shared log.)"""
        if msg_id in self._half_done:
            self._half_done.discard(msg_id)
            self.requesters.pop(msg_id, None)
        else:
            self._half_done.add(msg_id)

    def fan_in(self, conn: Connection) -> None:
        """Queue for `conn` the iopub it has not had yet, in order."""
        start = conn.cursor - self._log_base
        if start < len(self._log):
            for msg in self._log[start:]:
                conn.outbox.put(msg)
            conn.cursor = self._log_base + len(self._log)

    def trim(self) -> None:
        """Forget the iopub every connection has had."""
        end = self._log_base + len(self._log)
        low = min((conn.cursor for conn in self.connections.values()), default=end)
        if low > self._log_base:
            del self._log[:low - self._log_base]
            self._log_base = low

    def broadcast(self, make: Callable[[str], Msg]) -> None:
        """A server-made message, one per connection (each carries its own session id)."""
        for session_id, conn in list(self.connections.items()):
            self.fan_in(conn)
            conn.deliver(make(session_id))
        for session_id, outbox in self.offline.items():
            outbox.put(make(session_id))

    # -- clients -> kernel --------------------------------------------------------------------

    def send(self, session_id: str, channel: str, parts: list[bytes], header: dict[str, Any]) -> None:
        """Sign and send a client's message. Unknown channels are dropped, as jupyter_server does."""
        if channel not in ("shell", "control", "stdin") or self.closed:
            return
        msg_id = header.get("msg_id")
        if channel != "stdin" and isinstance(msg_id, str):
            self._remember(msg_id, session_id)
        sock = self._sockets.get(channel)
        if sock is not None:
            if self._sent is not None:
                self._sent[channel] += 1
            # jupyter_client's ``Session.send_raw``, without pyzmq's per-frame wrappers.
            frames = [messages.DELIM, self.session.sign(parts[:4]), *parts]  # buffers unsigned
            last = frames.pop()
            for frame in frames:
                _zmq_send(sock, frame, _SNDMORE)
            _zmq_send(sock, last, 0)
            self._after_send(channel, sock)

    def _remember(self, msg_id: str, session_id: str) -> None:
        self.requesters[msg_id] = session_id
        self._half_done.discard(msg_id)  # (a client that reuses a msg_id asks anew)
        if len(self.requesters) > _MAX_REQUESTS:
            oldest, _ = self.requesters.popitem(last=False)
            self._half_done.discard(oldest)

    # -- connections ----------------------------------------------------------------------

    def session_taken(self, session_id: str, owner: str | None) -> bool:
        """Whether `session_id` is another user's on this kernel: connected, or kept for a
        reconnect. (An administrator may connect to a user's kernel, with a session id of
        their own.)"""
        return (session_id in self.connections or session_id in self.offline) and \
            self.session_owners.get(session_id) != owner

    def attach(self, conn: Connection) -> bool:
        """Add a connection; replaces one with the same session id, and replays what it missed.
        False, and nothing done, when that session id is another user's (``session_taken``)."""
        if self.session_taken(conn.session_id, conn.owner):
            return False
        self.session_owners[conn.session_id] = conn.owner
        if self.stats is not None:
            conn.outbox.shed = self.stats.connection_shed
        old = self.connections.pop(conn.session_id, None)
        if old is not None:  # the same client, back before its old socket was noticed gone
            self.fan_in(old)
            old.close()  # no longer attached: its detach does nothing
            for item in old.unsent():
                conn.deliver(item)
        missed = self.offline.pop(conn.session_id, None)
        while missed is not None and missed.items:
            conn.deliver(missed.pop())
        if old is None and missed is None and self._replay_orphans(conn):
            if self.foreign is not None:
                self.foreign.pop(conn.session_id, None)
        elif old is None and missed is None and self.foreign is not None and conn.session_id in self.foreign:
            del self.foreign[conn.session_id]  # told once
            conn.deliver(server_message(conn.session_id, "stream", {"name": "stderr", "text": MOVED_NOTICE}))
        conn.cursor = self._log_base + len(self._log)
        self.connections[conn.session_id] = conn
        return True

    def detach(self, conn: Connection, *, replay: bool = True) -> None:
        """Forget a closed connection; keep what it misses from now on, for a reconnect
        (unless not `replay`: a server-side client that will not come back)."""
        if self.connections.get(conn.session_id) is not conn:
            return  # replaced by a newer socket with the same session id
        self.fan_in(conn)
        del self.connections[conn.session_id]
        self.trim()
        conn.closed = True
        if self.closed or self.replay_limit <= 0 or not replay:
            self.session_owners.pop(conn.session_id, None)
            return
        outbox = Outbox(self.replay_limit, "the replay buffer filled while this client was away "
                                           "(NOTEBOOK_WS_REPLAY_LIMIT)")
        if self.stats is not None:
            outbox.shed = self.stats.replay_shed
        # Messages accepted but not yet written are what the client missed first.
        for item in conn.unsent():
            if isinstance(item, Gap):
                outbox.items.append(item)
            else:
                outbox.put(item)
        self.offline[conn.session_id] = outbox
        while len(self.offline) > self.replay_sessions:
            forgotten, _ = self.offline.popitem(last=False)
            if self.stats is not None:
                self.stats.replay_dropped += 1
            if forgotten not in self.connections:
                self.session_owners.pop(forgotten, None)
