"""Benchmark the kernel WebSocket relay: flask-notebook, jupyter_server and a direct ZMQ client.

One run starts both servers and kernels of our own (jupyter_client's KernelManager in this
process, talked to with plain pyzmq: the floor, with no server in between), and measures,
interleaved round by round:

1. the round trip of an `execute_request` for `1+1`, until its iopub `status: idle` (on new
   kernels every round);
2. the server's CPU time per 1,000 relayed iopub messages (a cell printing N lines, each
   flushed: one stream message per line), and messages lost;
3. how fast 2,000 `display_data` messages reach the client (on new kernels every round);
4. the time from starting a kernel until it answers `kernel_info` through a fresh WebSocket;
5. the same from a second flask-notebook with a warm kernel pool (`--kernel-pool python3=2`),
   against jupyter_server's cold start.

The clients are this process, without gevent: websocket-client for the servers, pyzmq for the
floor. What matters are the ratios, not absolute times (a shared 2-core machine).

    .venv/bin/python bench/kernels.py --jupyter-python .venv-bench/bin/python

See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from typing import Any

import orjson
import websocket  # websocket-client
import zmq
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session

import run  # bench/run.py: servers, their clean-up, the environment header
from run import HOST, BenchError, Server

RESULTS = os.path.join(run.HERE, "results-kernels-latest.txt")
V1 = "v1.kernel.websocket.jupyter.org"
DELIM = b"<IDS|MSG>"
PROTOCOL_VERSION = "5.4"
CLK_TCK = os.sysconf("SC_CLK_TCK")

#: Every wait has a deadline (seconds).
OPEN_TIMEOUT = 60.0
ROUND_TRIP_TIMEOUT = 30.0
KERNEL_READY_TIMEOUT = 60.0
HTTP_TIMEOUT = 60.0
#: The floor's DEALER retries connecting to a kernel that is not listening yet every this many
#: ms (zmq's default is 100); our relay uses 20 ms, so the floor is not handicapped by it.
RECONNECT_IVL_MS = 20
#: How long the servers' idle CPU use is measured (metric 2's baseline).
IDLE_SECONDS = 5.0

EXECUTE_1P1 = {"code": "1+1", "silent": False, "store_history": False, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}

FLOOR = "direct ZMQ (floor)"
OURS_V1 = "flask-notebook v1"
OURS_LEGACY = "flask-notebook legacy"
#: bench/bare_relay.py: the least a relay on our stack does (see bench/relay_floor.py).
BARE = "bare relay v1"
JS_V1 = "jupyter_server v1"
JS_LEGACY = "jupyter_server legacy"
OURS = "flask-notebook"
OURS_POOL = "flask-notebook, pool"
JS = "jupyter_server"
POOL_SIZE = 2
#: How long a pool may take to refill between rounds (outside the timing).
POOL_REFILL_TIMEOUT = 120.0

JS_EXTRA_ARGS = (
    # Relay everything: jupyter_server drops iopub messages beyond 1000/s by default.
    "--ZMQChannelsWebsocketConnection.iopub_msg_rate_limit=0",
    "--ZMQChannelsWebsocketConnection.iopub_data_rate_limit=0",
)
RATE_LIMIT_NOTICE = "IOPub message rate exceeded"
OUR_SHED_NOTICE = "[flask-notebook]"


class Timeout(BenchError):
    pass


# -- messages (client side) ------------------------------------------------------------------


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_header(msg_type: str, session: str) -> dict[str, Any]:
    return {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "bench", "session": session,
            "date": _now_iso(), "version": PROTOCOL_VERSION}


class In:
    """A message received: channel, type and parent id parsed; the content parsed on demand."""

    __slots__ = ("channel", "msg_type", "parent_id", "_content")

    def __init__(self, channel: str, msg_type: str, parent_id: str | None, content: bytes | dict[str, Any]) -> None:
        self.channel = channel
        self.msg_type = msg_type
        self.parent_id = parent_id
        self._content = content

    def content(self) -> dict[str, Any]:
        if isinstance(self._content, (bytes, memoryview)):
            self._content = orjson.loads(self._content)
        return self._content  # type: ignore[return-value]


def _from_parts(channel: str, header: bytes, parent: bytes, content: bytes) -> In:
    h = orjson.loads(header)
    p = orjson.loads(parent)
    return In(channel, h.get("msg_type", ""), p.get("msg_id"), content)


class Client:
    """One connection to one kernel's channels."""

    name: str

    def prepare(self, channel: str, msg_type: str, content: dict[str, Any]) -> tuple[str, Any]:
        """(msg_id, what `send` sends): the encoding is done before any clock starts."""
        raise NotImplementedError

    def send(self, prepared: Any) -> None:
        raise NotImplementedError

    def recv(self, deadline: float) -> In:
        """The next message from any channel. :raises Timeout: nothing by `deadline` (monotonic)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def request(self, channel: str, msg_type: str, content: dict[str, Any]) -> str:
        msg_id, prepared = self.prepare(channel, msg_type, content)
        self.send(prepared)
        return msg_id

    def wait_ready(self, timeout: float = KERNEL_READY_TIMEOUT) -> None:
        """kernel_info until both its reply and an iopub message for it arrive (a SUB socket,
        ours or a server's, may join after the kernel published: then ask again)."""
        deadline = time.monotonic() + timeout
        while True:
            msg_id = self.request("shell", "kernel_info_request", {})
            got_reply = got_iopub = False
            retry = min(deadline, time.monotonic() + 2.0)
            try:
                while not (got_reply and got_iopub):
                    m = self.recv(retry)
                    if m.parent_id == msg_id:
                        got_reply |= m.msg_type == "kernel_info_reply"
                        got_iopub |= m.channel == "iopub"
            except Timeout:
                if time.monotonic() >= deadline:
                    raise Timeout(f"{self.name}: the kernel did not answer kernel_info within {timeout:.0f} s") from None
                continue
            # Let the rest of that exchange (status idle) pass before measuring anything.
            drain(self, 0.2)
            return


def keepalive(clients: Any) -> None:
    """Read whatever waits on idle connections: that answers the servers' pings (both drop a
    client that misses a pong: ours after 25-50 s, jupyter_server after 30-60 s), so a
    connection can sit out other configurations' measurements. Called between measurements."""
    for client in clients:
        if isinstance(client, WsClient):
            drain(client, 0.005)


def drain(client: Client, quiet: float) -> int:
    """Read and drop messages until none came for `quiet` seconds. Returns how many."""
    n = 0
    while True:
        try:
            client.recv(time.monotonic() + quiet)
            n += 1
        except Timeout:
            return n


class ZmqClient(Client):
    """The floor: plain pyzmq straight to the kernel, signed with jupyter_client's Session."""

    def __init__(self, name: str, info: dict[str, Any], *, iopub: bool = True) -> None:
        self.name = name
        self.context: Any = zmq.Context.instance()
        key = info["key"].encode() if isinstance(info["key"], str) else info["key"]
        self.session = Session(key=key, signature_scheme=info.get("signature_scheme", "hmac-sha256"),
                               username="bench")
        self.session_id = uuid.uuid4().hex

        def url(port_key: str) -> str:
            if info["transport"] == "ipc":
                return f"ipc://{info['ip']}-{info[port_key]}"
            return f"tcp://{info['ip']}:{info[port_key]}"

        self.shell = self.context.socket(zmq.DEALER)
        self.shell.linger = 0
        self.shell.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
        self.shell.setsockopt(zmq.IDENTITY, self.session_id.encode())
        self.shell.connect(url("shell_port"))
        self.socks: list[tuple[Any, str]] = [(self.shell, "shell")]
        self.iopub = None
        if iopub:
            self.iopub = self.context.socket(zmq.SUB)
            self.iopub.linger = 0
            self.iopub.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
            self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
            self.iopub.setsockopt(zmq.RCVHWM, 0)  # as our relay: never drop on the reader's side
            self.iopub.connect(url("iopub_port"))
            self.socks.append((self.iopub, "iopub"))
        self.poller = zmq.Poller()
        for sock, _ in self.socks:
            self.poller.register(sock, zmq.POLLIN)

    def prepare(self, channel: str, msg_type: str, content: dict[str, Any]) -> tuple[str, Any]:
        assert channel == "shell"
        header = new_header(msg_type, self.session_id)
        return header["msg_id"], [orjson.dumps(header), b"{}", b"{}", orjson.dumps(content)]

    def send(self, prepared: Any) -> None:
        self.session.send_raw(self.shell, prepared)

    def recv(self, deadline: float) -> In:
        while True:
            for sock, channel in self.socks:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    continue
                i = frames.index(DELIM)
                return _from_parts(channel, frames[i + 2], frames[i + 3], frames[i + 5])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout(f"{self.name}: no message in time")
            self.poller.poll(max(1, int(remaining * 1000)))

    def close(self) -> None:
        for sock, _ in self.socks:
            sock.close(linger=0)


class WsClient(Client):
    """websocket-client on a server's `/api/kernels/<id>/channels`, v1 or legacy protocol."""

    def __init__(self, name: str, server: Server, kernel_id: str, protocol: str | None,
                 timeout: float = OPEN_TIMEOUT) -> None:
        self.name = name
        self.protocol = protocol
        self.session_id = uuid.uuid4().hex
        url = f"ws://{HOST}:{server.port}/api/kernels/{kernel_id}/channels?session_id={self.session_id}"
        try:
            self.ws = websocket.create_connection(
                url, header=[f"Authorization: token {server.token}"],
                subprotocols=[protocol] if protocol else None, timeout=timeout,
                skip_utf8_validation=True, enable_multithread=False,
            )
        except (websocket.WebSocketException, OSError) as exc:
            raise BenchError(f"{name}: cannot open the kernel WebSocket: {exc}") from exc
        got = self.ws.getsubprotocol()
        if got != protocol:
            self.ws.close()
            raise BenchError(f"{name}: asked for subprotocol {protocol!r}, the server chose {got!r}")
        self._timeout: float | None = timeout

    def prepare(self, channel: str, msg_type: str, content: dict[str, Any]) -> tuple[str, Any]:
        header = new_header(msg_type, self.session_id)
        if self.protocol == V1:
            parts = [orjson.dumps(header), b"{}", b"{}", orjson.dumps(content)]
            n = len(parts) + 2
            offsets = [8 * (n + 1), 8 * (n + 1) + len(channel)]
            for part in parts:
                offsets.append(offsets[-1] + len(part))
            data = b"".join([struct.pack(f"<{n + 1}Q", n, *offsets), channel.encode(), *parts])
            return header["msg_id"], (data, websocket.ABNF.OPCODE_BINARY)
        msg = {"header": header, "parent_header": {}, "metadata": {}, "content": content, "buffers": [],
               "channel": channel}
        return header["msg_id"], (orjson.dumps(msg).decode(), websocket.ABNF.OPCODE_TEXT)

    def send(self, prepared: Any) -> None:
        data, opcode = prepared
        try:
            self.ws.send(data, opcode)
        except (websocket.WebSocketException, OSError) as exc:
            raise BenchError(f"{self.name}: the WebSocket failed: {exc!r}") from exc

    def recv(self, deadline: float) -> In:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout(f"{self.name}: no message in time")
            # The socket's timeout is set only when it has to change: at most 5 s, never past the deadline.
            if self._timeout is None or remaining < self._timeout or self._timeout < min(remaining, 5.0):
                self._timeout = min(remaining, 5.0)
                self.ws.settimeout(self._timeout)
            try:
                opcode, data = self.ws.recv_data()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError) as exc:
                raise BenchError(f"{self.name}: the WebSocket failed: {exc!r}") from exc
            if opcode == websocket.ABNF.OPCODE_BINARY and self.protocol == V1:
                (n,) = struct.unpack_from("<Q", data)
                off = struct.unpack_from(f"<{n}Q", data, 8)
                return _from_parts(data[off[0]:off[1]].decode(), data[off[1]:off[2]], data[off[2]:off[3]],
                                   data[off[4]:off[5]])
            if opcode == websocket.ABNF.OPCODE_TEXT and self.protocol is None:
                msg = orjson.loads(data)
                return In(msg.get("channel", ""), msg["header"].get("msg_type", ""),
                          (msg.get("parent_header") or {}).get("msg_id"), msg.get("content") or {})
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise BenchError(f"{self.name}: the server closed the WebSocket")
            raise BenchError(f"{self.name}: unexpected frame (opcode {opcode}) on the {self.protocol or 'legacy'} protocol")

    def close(self) -> None:
        try:
            self.ws.close(timeout=2)
        except Exception:
            pass


# -- kernels -----------------------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    kids = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if int(fields[1]) == pid:
            kids.add(int(name))
    return kids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] != b"Z"


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of one process (not its children), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


class Kernels:
    """Every kernel process this run starts, directly or through a server: remembered in the
    benchmark's pid file (run.py ends leftovers by id at the next start), ended at the end."""

    def __init__(self, work: str) -> None:
        self.work = work
        self.pids: set[int] = set()
        self.direct: list[KernelManager] = []

    def track_children(self, server: Server) -> None:
        assert server.proc is not None
        for pid in _children(server.proc.pid) - self.pids:
            self.pids.add(pid)
            run._remember_pid(pid)

    def track(self, pid: int) -> None:
        self.pids.add(pid)
        run._remember_pid(pid)

    def forget_dead(self) -> None:
        for pid in [p for p in self.pids if not _alive(p)]:
            self.pids.discard(pid)
            run._forget_pid(pid)

    # REST

    def start_rest(self, server: Server) -> str:
        r = server.session.post(f"{server.base}/api/kernels", json={"name": "python3"}, timeout=HTTP_TIMEOUT)
        if r.status_code != 201:
            raise BenchError(f"{server.name}: POST /api/kernels answered {r.status_code}: {r.text[:300]}")
        kernel_id = str(r.json()["id"])
        self.track_children(server)
        return kernel_id

    def stop_rest(self, server: Server, kernel_id: str) -> None:
        r = server.session.delete(f"{server.base}/api/kernels/{kernel_id}", timeout=HTTP_TIMEOUT)
        if r.status_code != 204:
            raise BenchError(f"{server.name}: DELETE /api/kernels/{kernel_id} answered {r.status_code}: {r.text[:300]}")

    # direct

    def start_direct(self, *, track: bool = True) -> KernelManager:
        km = KernelManager(kernel_name="python3",
                           connection_file=os.path.join(self.work, "direct", f"kernel-{uuid.uuid4()}.json"))
        self.direct.append(km)
        # The kernel's own output (a warning about TCP without encryption) goes to a log.
        with open(os.path.join(self.work, "direct.log"), "ab") as log:
            km.start_kernel(cwd=self.work, stdout=log, stderr=subprocess.STDOUT)
        if track:
            self.track_direct(km)
        return km

    def track_direct(self, km: KernelManager) -> None:
        process = getattr(km.provisioner, "process", None)
        if process is not None:
            self.track(process.pid)

    def stop_direct(self, km: KernelManager) -> None:
        try:
            km.shutdown_kernel(now=False)
        finally:
            if km in self.direct:
                self.direct.remove(km)

    def end_all(self) -> None:
        """Whatever is left, whatever happened: direct kernels, then any process still alive."""
        for km in list(self.direct):
            try:
                km.shutdown_kernel(now=True)
            except Exception as exc:
                print(f"bench: ending a direct kernel: {exc}", file=sys.stderr)
        self.direct.clear()
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in self.pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in list(self.pids):
            if _alive(pid) and _is_ours(pid):
                print(f"bench: ending leftover kernel process {pid}", file=sys.stderr)
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(pid, sig)
                    except (ProcessLookupError, PermissionError):
                        break
                    end = time.monotonic() + 2
                    while _alive(pid) and time.monotonic() < end:
                        time.sleep(0.05)
                    if not _alive(pid):
                        break
            self.pids.discard(pid)
            run._forget_pid(pid)


def _is_ours(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return run.ROOT_PREFIX.encode() in f.read()
    except OSError:
        return False


def open_bare_relay(kernels: Kernels, work: str, connection_file: str, label: str
                    ) -> tuple[subprocess.Popen[bytes], WsClient]:
    """bench/bare_relay.py on a kernel's connection file, and a v1 client connected to it."""
    port_file = os.path.join(work, f"bare-{os.path.basename(connection_file)}.port")
    proc = subprocess.Popen([sys.executable, os.path.join(run.HERE, "bare_relay.py"), connection_file, port_file],
                            start_new_session=True)
    kernels.track(proc.pid)  # (its command line names the run's directory: ended with the kernels)
    deadline = time.monotonic() + OPEN_TIMEOUT
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise BenchError(f"the bare relay did not start within {OPEN_TIMEOUT:.0f} s (exit {proc.poll()})")
        time.sleep(0.02)
    with open(port_file) as f:
        port = int(f.read())
    # It takes any path and no token: only the server's port and token are a WsClient's business.
    relay: Any = types.SimpleNamespace(port=port, token="-")
    return proc, WsClient(label, relay, "-", V1)


# -- the measurements -------------------------------------------------------------------------


def _collect(client: Client, msg_id: str, deadline: float,
             on_msg: Callable[[In, float], None] | None = None) -> tuple[float, In]:
    """Read until the execute_reply and the iopub `status: idle` of `msg_id` are in.
    Returns (perf_counter at the idle, the reply)."""
    reply: In | None = None
    idle_at: float | None = None
    while reply is None or idle_at is None:
        m = client.recv(deadline)
        if m.parent_id != msg_id:
            continue
        if m.channel == "iopub":
            if m.msg_type == "status":
                if m.content().get("execution_state") == "idle":
                    idle_at = time.perf_counter()
            elif on_msg is not None:
                on_msg(m, time.perf_counter())
        elif m.channel == "shell" and m.msg_type == "execute_reply":
            reply = m
    return idle_at, reply


def _check_reply(client: Client, reply: In) -> None:
    status = reply.content().get("status")
    if status != "ok":
        raise BenchError(f"{client.name}: execute_reply status {status!r}: {reply.content()}")


def round_trips(client: Client, count: int) -> list[float]:
    """`count` execute round trips of `1+1`, each timed from sending to its status idle (ms)."""
    times = []
    prepared = [client.prepare("shell", "execute_request", EXECUTE_1P1) for _ in range(count)]
    gc.disable()
    try:
        for msg_id, data in prepared:
            deadline = time.monotonic() + ROUND_TRIP_TIMEOUT
            start = time.perf_counter()
            client.send(data)
            idle_at, reply = _collect(client, msg_id, deadline)
            times.append((idle_at - start) * 1000.0)
            _check_reply(client, reply)
    finally:
        gc.enable()
    return times


@dataclass
class Flood:
    cpu_ms_per_1000: float
    messages: int
    lines_lost: int
    notices: int
    seconds: float


def flood(client: Client, lines: int, server_pid: int) -> Flood:
    """A cell printing `lines` lines, each flushed (one stream message each): the server
    process's CPU time over the whole cell, per 1,000 messages the client received."""
    code = f"for i in range({lines}):\n    print(i, flush=True)\n"
    msg_id, data = client.prepare("shell", "execute_request", {**EXECUTE_1P1, "code": code})
    streams: list[In] = []
    timeout = 60.0 + lines / 100.0
    deadline = time.monotonic() + timeout
    cpu0 = cpu_seconds(server_pid)
    start = time.perf_counter()
    client.send(data)
    try:
        _, reply = _collect(client, msg_id, deadline, lambda m, t: streams.append(m))
    except Timeout:
        raise Timeout(f"{client.name}: the {lines}-line cell did not finish within {timeout:.0f} s "
                      f"({len(streams)} output messages arrived)") from None
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(server_pid) - cpu0
    _check_reply(client, reply)
    received = len(streams) + 3  # the outputs, busy, idle, the reply
    seen: set[int] = set()
    notices = 0
    for m in streams:
        if m.msg_type != "stream":
            continue
        text = m.content().get("text", "")
        if RATE_LIMIT_NOTICE in text or OUR_SHED_NOTICE in text:
            notices += 1
            continue
        for line in text.splitlines():
            if line.isdigit():
                seen.add(int(line))
    lost = lines - len(seen & set(range(lines)))
    return Flood(cpu * 1000.0 / received * 1000.0, received, lost, notices, elapsed)


@dataclass
class Burst:
    rate: float  # display_data messages per second reaching the client
    received: int


def displays(client: Client, count: int) -> Burst:
    """A cell calling display() `count` times: display_data messages per second, from sending
    the request to the last one's arrival."""
    code = f"from IPython.display import display\nfor i in range({count}):\n    display(i)\n"
    msg_id, data = client.prepare("shell", "execute_request", {**EXECUTE_1P1, "code": code})
    got = [0]
    last = [0.0]

    def on_msg(m: In, t: float) -> None:
        if m.msg_type == "display_data":
            got[0] += 1
            last[0] = t

    deadline = time.monotonic() + 60.0 + count / 50.0
    gc.disable()
    try:
        start = time.perf_counter()
        client.send(data)
        _, reply = _collect(client, msg_id, deadline, on_msg)
    finally:
        gc.enable()
    _check_reply(client, reply)
    if got[0] == 0:
        raise BenchError(f"{client.name}: no display_data arrived")
    return Burst(got[0] / (last[0] - start), got[0])


def kernel_ready_rest(kernels: Kernels, server: Server, name: str) -> float:
    """POST /api/kernels, open the WebSocket at once, kernel_info until the reply (ms).
    The kernel is shut down after, outside the timing."""
    kernel_id = None
    client = None
    try:
        start = time.perf_counter()
        r = server.session.post(f"{server.base}/api/kernels", json={"name": "python3"}, timeout=HTTP_TIMEOUT)
        if r.status_code != 201:
            raise BenchError(f"{server.name}: POST /api/kernels answered {r.status_code}: {r.text[:300]}")
        kernel_id = r.json()["id"]
        client = WsClient(name, server, kernel_id, V1, timeout=KERNEL_READY_TIMEOUT)
        _kernel_info(client, time.monotonic() + KERNEL_READY_TIMEOUT)
        elapsed = (time.perf_counter() - start) * 1000.0
    finally:
        if client is not None:
            client.close()
        if kernel_id is not None:
            kernels.track_children(server)
            kernels.stop_rest(server, kernel_id)
    return elapsed


def kernel_ready_direct(kernels: Kernels) -> float:
    """KernelManager.start_kernel(), then kernel_info over plain zmq until the reply (ms)."""
    km = None
    client = None
    try:
        start = time.perf_counter()
        km = kernels.start_direct(track=False)  # tracked below, outside the timing
        client = ZmqClient(FLOOR, dict(km.get_connection_info(session=False)), iopub=False)
        _kernel_info(client, time.monotonic() + KERNEL_READY_TIMEOUT)
        elapsed = (time.perf_counter() - start) * 1000.0
    finally:
        if client is not None:
            client.close()
        if km is not None:
            kernels.track_direct(km)
            kernels.stop_direct(km)
    return elapsed


def pool_server(root: str, work: str) -> Server:
    """A second flask-notebook that keeps POOL_SIZE python3 kernels warm."""
    server = run.ours_server(root, work)
    server.name = OURS_POOL
    server.argv = [*server.argv, "--kernel-pool", f"python3={POOL_SIZE}"]
    server.env = run.server_env(work, "ours-pool")
    server.log_path = os.path.join(work, "ours-pool.log")
    return server


def wait_pool_full(server: Server) -> None:
    """Until the pool holds POOL_SIZE ready kernels again (not timed)."""
    deadline = time.monotonic() + POOL_REFILL_TIMEOUT
    while True:
        r = server.session.get(f"{server.base}/api/kernel_pool", timeout=HTTP_TIMEOUT)
        if r.status_code != 200:
            raise BenchError(f"{server.name}: GET /api/kernel_pool answered {r.status_code}: {r.text[:300]}")
        status = r.json().get("python3") or {}
        if status.get("ready") == POOL_SIZE and status.get("starting") == 0:
            return
        if time.monotonic() > deadline:
            raise Timeout(f"{server.name}: the kernel pool was not full within {POOL_REFILL_TIMEOUT:.0f} s: {status}")
        time.sleep(0.1)


def _kernel_info(client: Client, deadline: float) -> None:
    msg_id = client.request("shell", "kernel_info_request", {})
    while True:
        try:
            m = client.recv(deadline)
        except Timeout:
            raise Timeout(f"{client.name}: no kernel_info_reply within {KERNEL_READY_TIMEOUT:.0f} s "
                          "of starting the kernel") from None
        if m.channel == "shell" and m.msg_type == "kernel_info_reply" and m.parent_id == msg_id:
            return


# -- rounds -----------------------------------------------------------------------------------


def rotated(items: list[Any], i: int) -> list[Any]:
    """Round i starts with a different item each time, so no one always follows another's load."""
    k = i % len(items) if items else 0
    return items[k:] + items[:k]


def progress(text: str) -> None:
    print(text, end="", flush=True, file=sys.stderr)


@dataclass
class Section:
    """One metric's results: per configuration, one value per round."""
    title: str
    per_round: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rows: list[tuple[str, str, float | None, str | None]] = field(default_factory=list)
    # rows: (label, against, target, direction "<=" or ">=")


@dataclass
class Options:
    rounds_rtt: int
    rtt_warmup: int
    rtt_count: int
    rounds_flood: int
    lines: int
    rounds_display: int
    display_reps: int
    displays: int
    rounds_ready: int
    rounds_pool: int


# Round-trip, display and kernel-ready rounds vary by ±10-30% (the kernel process's own
# speed): 15 rounds still left their median ratios several per cent apart from run to run,
# as wide as the margins.
FULL = Options(rounds_rtt=25, rtt_warmup=20, rtt_count=100, rounds_flood=3, lines=20_000,
               rounds_display=25, display_reps=2, displays=2000, rounds_ready=25, rounds_pool=7)
QUICK = Options(rounds_rtt=5, rtt_warmup=20, rtt_count=100, rounds_flood=1, lines=10_000,
                rounds_display=3, display_reps=2, displays=2000, rounds_ready=3, rounds_pool=3)

METRIC_KEYS = ("rtt", "cpu", "display", "ready", "pool")


# -- report -----------------------------------------------------------------------------------


def fmt(x: float) -> str:
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.1f}"
    return f"{x:.2f}"


def report_section(sec: Section) -> tuple[list[str], bool]:
    lines = [sec.title]
    head = (f"  {'':<24}{'median':>10} {'[min - max] of rounds':>24}  {'ratio':<30}{'per-round ratios':>19}"
            f"{'target':>9}  result")
    lines += [head, "  " + "-" * (len(head) - 2)]
    ok_all = True
    medians = {k: statistics.median(v) for k, v in sec.per_round.items() if v}
    for label, against, target, direction in sec.rows:
        values = sec.per_round.get(label) or []
        if not values:
            continue
        med = medians[label]
        row = f"  {label:<24}{fmt(med):>10} {f'[{fmt(min(values))} - {fmt(max(values))}]':>24}  "
        if against and against in medians and against != label:
            ratio = med / medians[against]
            per = [a / b for a, b in zip(values, sec.per_round[against])]
            row += f"{f'{ratio:.3f} x {against}':<30}{f'{min(per):.2f} - {max(per):.2f}':>19}"
            if target is not None:
                ok = ratio <= target if direction == "<=" else ratio >= target
                ok_all &= ok
                row += f"{f'{direction} {target:g}':>9}  {'PASS' if ok else 'MISS'}"
        lines.append(row.rstrip())
    lines += [f"  {n}" for n in sec.notes]
    return lines, ok_all


# -- main -------------------------------------------------------------------------------------


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jupyter-python", help="python of an environment with jupyter_server "
                        "(without it, flask-notebook is measured against the direct client only)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and lines: about 3-4 minutes")
    parser.add_argument("--rounds", type=int, help="rounds of every metric (default, for rtt/cpu/display/ready/pool: 25/3/25/25/7; --quick 5/1/3/3/3)")
    parser.add_argument("--lines", type=int, help="lines printed by the CPU metric's cell (default 20000, --quick 10000)")
    parser.add_argument("--only", choices=METRIC_KEYS, action="append", help="measure only this metric (repeatable)")
    parser.add_argument("--output", default=RESULTS, help=f"where to write the table (default {os.path.relpath(RESULTS)})")
    args = parser.parse_args(argv)
    opts = QUICK if args.quick else FULL
    if args.rounds is not None:
        if args.rounds < 1:
            parser.error("--rounds must be at least 1")
        opts = Options(**{**opts.__dict__, "rounds_rtt": args.rounds, "rounds_flood": args.rounds,
                          "rounds_display": args.rounds, "rounds_ready": args.rounds,
                          "rounds_pool": args.rounds})
    if args.lines is not None:
        if args.lines < 100:
            parser.error("--lines must be at least 100")
        opts = Options(**{**opts.__dict__, "lines": args.lines})
    wanted = set(args.only or METRIC_KEYS)

    run.kill_leftovers()
    jupyter_version = None
    if args.jupyter_python:
        args.jupyter_python = os.path.abspath(args.jupyter_python)  # the servers start in the repository
        try:
            jupyter_version = run.check_jupyter_python(args.jupyter_python)
        except BenchError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
    else:
        print("no --jupyter-python: measuring flask-notebook against the direct client only", file=sys.stderr)

    root = work = None
    servers: list[Server] = []
    clients: list[Client] = []
    kernels: Kernels | None = None
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        t0 = time.monotonic()
        root = tempfile.mkdtemp(prefix=run.ROOT_PREFIX)
        work = tempfile.mkdtemp(prefix=run.ROOT_PREFIX + "work-")
        # The direct kernels are started from this process: the same clean Jupyter settings as
        # the servers get, in directories of their own.
        direct_env = run.server_env(work, "direct")
        os.environ.clear()
        os.environ.update(direct_env)
        os.makedirs(os.path.join(work, "direct"), exist_ok=True)
        kernels = Kernels(work)

        code_state = run._code_state()
        ours = run.ours_server(root, work)
        servers.append(ours)
        js = None
        if args.jupyter_python:
            js = run.reference_server(root, work, args.jupyter_python, JS_EXTRA_ARGS)
            servers.append(js)
        pooled = None
        if "pool" in wanted:
            pooled = pool_server(root, work)
            servers.append(pooled)
        for server in servers:
            server.start()
        deadline = time.monotonic() + run.START_DEADLINE
        for server in servers:
            server.wait_ready(deadline)
            print(f"{server.name} is up at {server.base}", file=sys.stderr)
        by_name = {s.name: s for s in servers}

        def open_config(label: str, server_name: str | None, protocol: str | None) -> tuple[Client, Callable[[], None]]:
            """A new kernel and one connection to it: (the client, what ends both)."""
            if server_name == BARE:
                direct = kernels.start_direct()
                bare, bare_client = open_bare_relay(kernels, work, direct.connection_file, label)
                clients.append(bare_client)

                def stop_bare() -> None:
                    bare_client.close()
                    bare.kill()
                    bare.wait()
                    kernels.stop_direct(direct)
                return bare_client, stop_bare
            if server_name is None:
                direct = kernels.start_direct()
                zmq_client = ZmqClient(label, dict(direct.get_connection_info(session=False)))
                clients.append(zmq_client)

                def stop_direct() -> None:
                    zmq_client.close()
                    kernels.stop_direct(direct)
                return zmq_client, stop_direct
            server = by_name[server_name]
            kernel_id = kernels.start_rest(server)
            ws_client = WsClient(label, server, kernel_id, protocol)
            clients.append(ws_client)

            def stop_rest() -> None:
                ws_client.close()
                kernels.stop_rest(server, kernel_id)
            return ws_client, stop_rest

        @contextlib.contextmanager
        def new_kernels(specs: list[tuple[str, str | None, str | None]]) -> Iterator[dict[str, Client]]:
            """A new kernel and connection per configuration, ready, for one round; ended after it.

            Identical kernel processes differ in speed by several per cent for their whole
            life (memory layout, hash seed, where their threads run): with one kernel per
            configuration for the whole run, that difference would be in every ratio; with new
            kernels every round it goes into the per-round spread (see bench/README.md).
            """
            fresh: dict[str, Client] = {}
            round_stops: list[Callable[[], None]] = []
            try:
                for label, server_name, protocol in specs:
                    fresh[label], stop = open_config(label, server_name, protocol)
                    round_stops.append(stop)
                for client in fresh.values():
                    client.wait_ready()
                yield fresh
            finally:
                for stop in round_stops:
                    stop()
                kernels.forget_dead()

        v1_specs: list[tuple[str, str | None, str | None]] = [(FLOOR, None, None), (OURS_V1, OURS, V1)]
        if js is not None:
            v1_specs.append((JS_V1, JS, V1))
        # Metric 2 (the servers' CPU, not the kernels' speed): one kernel per server, with one
        # connection kept open throughout, so no connection ever sees another's traffic.
        configs: dict[str, Client] = {}
        stops: list[Callable[[], None]] = []
        if "cpu" in wanted:
            progress("starting kernels and connecting ")
            for label, server_name, protocol in v1_specs[1:]:
                configs[label], stop = open_config(label, server_name, protocol)
                stops.append(stop)
            for client in configs.values():
                client.wait_ready()
                progress(".")
            progress("\n")

        sections: list[Section] = []

        # 1. round trip
        if "rtt" in wanted:
            sec = Section(f"1. execute `1+1` round trip, until its status idle (ms; median of {opts.rounds_rtt} "
                          f"rounds, each the median of {opts.rtt_count} after {opts.rtt_warmup} warm-ups, "
                          f"each round on new kernels)")
            specs = v1_specs[:2] + [(OURS_LEGACY, OURS, None), (BARE, BARE, V1)]
            if js is not None:
                specs += [(JS_V1, JS, V1), (JS_LEGACY, JS, None)]
            labels = [label for label, _, _ in specs]
            sec.per_round = {label: [] for label in labels}
            progress(f"1. round trips: {opts.rounds_rtt} rounds x {len(labels)} configurations ")
            # jupyter_server's configurations take ~8x longer: they go as one block before or after
            # the fast ones (alternately), so the floor and ours are always measured close together.
            fast = [label for label in labels if not label.startswith(JS)]
            slow = [label for label in labels if label.startswith(JS)]
            for i in range(opts.rounds_rtt):
                with new_kernels(specs) as fresh:
                    order = rotated(fast, i) + rotated(slow, i) if i % 2 == 0 or not slow else \
                        rotated(slow, i) + rotated(fast, i)
                    for label in order:
                        client = fresh[label]
                        round_trips(client, opts.rtt_warmup)
                        sec.per_round[label].append(statistics.median(round_trips(client, opts.rtt_count)))
                        keepalive([*fresh.values(), *configs.values()])
                        progress(".")
            progress("\n")
            sec.rows = [(FLOOR, "", None, None), (OURS_V1, FLOOR, 1.10, "<="), (OURS_LEGACY, FLOOR, 1.25, "<="),
                        (BARE, FLOOR, None, None), (JS_V1, FLOOR, None, None), (JS_LEGACY, FLOOR, None, None)]
            sec.notes.append(f"{BARE}: bench/bare_relay.py, a reference, not a server: what any relay on gevent "
                             "and libzmq pays (see bench/relay_floor.py)")
            sections.append(sec)

        # 2. server CPU per 1,000 iopub messages
        if "cpu" in wanted:
            sec = Section(f"2. server CPU per 1,000 relayed iopub messages, v1 (ms of user+sys CPU of the server "
                          f"process; a cell printing {opts.lines:,} flushed lines; median of {opts.rounds_flood} rounds)")
            pairs = [(OURS, OURS_V1)] + ([(JS, JS_V1)] if js is not None else [])
            sec.per_round = {name: [] for name, _ in pairs}
            lost: dict[str, list[int]] = {name: [] for name, _ in pairs}
            notices: dict[str, list[int]] = {name: [] for name, _ in pairs}
            rates: dict[str, list[float]] = {name: [] for name, _ in pairs}
            # What the servers burn doing nothing (pings, timers), over the same few seconds,
            # with the connections open: it is included in the flood's CPU time.
            idle0 = {name: cpu_seconds(by_name[name].proc.pid) for name, _ in pairs}  # type: ignore[union-attr]
            idle_start = time.monotonic()
            time.sleep(IDLE_SECONDS)
            idle_ms = {name: (cpu_seconds(by_name[name].proc.pid) - idle0[name]) * 1000.0  # type: ignore[union-attr]
                       / (time.monotonic() - idle_start) for name, _ in pairs}
            keepalive(configs.values())
            progress(f"2. server CPU: {opts.rounds_flood} rounds ")
            for i in range(opts.rounds_flood):
                for name, label in rotated(pairs, i):
                    server = by_name[name]
                    assert server.proc is not None
                    result = flood(configs[label], opts.lines, server.proc.pid)
                    sec.per_round[name].append(result.cpu_ms_per_1000)
                    lost[name].append(result.lines_lost)
                    notices[name].append(result.notices)
                    rates[name].append(result.messages / result.seconds)
                    keepalive(configs.values())
                    progress(".")
            progress("\n")
            sec.rows = [(JS, "", None, None), (OURS, JS, 0.3, "<=")]
            for name, _ in pairs:
                sec.notes.append(
                    f"{name}: lines lost per round {lost[name]} (of {opts.lines:,}); "
                    f"rate-limit/shedding notices {notices[name]}; "
                    f"messages/s at the client {[round(r) for r in rates[name]]}; "
                    f"idle CPU {idle_ms[name]:.1f} ms/s (over {IDLE_SECONDS:g} s)")
            sections.append(sec)

        # 3. display_data throughput
        if "display" in wanted:
            sec = Section(f"3. {opts.displays:,} display_data messages: messages/s reaching the client "
                          f"(median of {opts.rounds_display} rounds, each the median of {opts.display_reps} cells, "
                          f"each round on new kernels)")
            labels = [label for label, _, _ in v1_specs]
            sec.per_round = {label: [] for label in labels}
            received: dict[str, list[int]] = {label: [] for label in labels}
            progress(f"3. display_data: {opts.rounds_display} rounds ")
            for i in range(opts.rounds_display):
                with new_kernels(v1_specs) as fresh:
                    for label in rotated(labels, i):
                        bursts = [displays(fresh[label], opts.displays) for _ in range(opts.display_reps)]
                        sec.per_round[label].append(statistics.median(b.rate for b in bursts))
                        received[label] += [b.received for b in bursts]
                        keepalive([*fresh.values(), *configs.values()])
                        progress(".")
            progress("\n")
            sec.rows = [(FLOOR, "", None, None), (OURS_V1, FLOOR, 0.95, ">="), (JS_V1, FLOOR, None, None)]
            for label in labels:
                short = [opts.displays - n for n in received[label] if n != opts.displays]
                sec.notes.append(f"{label}: display_data lost: "
                                 + (f"{len(short)} of {len(received[label])} cells short, by {short}" if short
                                    else f"none in {len(received[label])} cells"))
            sections.append(sec)

        configs.clear()
        for stop in stops:
            stop()
        kernels.forget_dead()

        # 4. kernel ready
        if "ready" in wanted:
            sec = Section(f"4. kernel ready: start a kernel until kernel_info_reply over a fresh connection "
                          f"(ms; median of {opts.rounds_ready} rounds)")
            steps: list[tuple[str, Callable[[], float]]] = [
                (FLOOR, lambda: kernel_ready_direct(kernels)),
                (OURS, lambda: kernel_ready_rest(kernels, ours, OURS)),
            ]
            if js is not None:
                steps.append((JS, lambda: kernel_ready_rest(kernels, js, JS)))
            sec.per_round = {name: [] for name, _ in steps}
            progress(f"4. kernel ready: {opts.rounds_ready} rounds ")
            for i in range(opts.rounds_ready):
                for name, step in rotated(steps, i):
                    sec.per_round[name].append(step())
                    kernels.forget_dead()
                    time.sleep(0.3)  # let the last kernel's exit settle
                    progress(".")
            progress("\n")
            sec.rows = [(FLOOR, "", None, None), (OURS, FLOOR, 1.05, "<="), (JS, FLOOR, None, None)]
            sec.notes.append(f"direct: KernelManager.start_kernel() in the benchmark process, then kernel_info "
                             f"over a plain zmq DEALER (reconnect interval {RECONNECT_IVL_MS} ms, as our relay's).")
            sec.notes.append("servers: POST /api/kernels, then the v1 WebSocket opened at once, then kernel_info.")
            sections.append(sec)

        # 5. kernel ready from the warm pool, against jupyter_server's cold start
        if "pool" in wanted and pooled is not None:
            sec = Section(f"5. kernel ready from a warm pool (--kernel-pool python3={POOL_SIZE}): as 4., against "
                          f"jupyter_server's cold start (ms; median of {opts.rounds_pool} rounds)")
            pool_steps: list[tuple[str, Callable[[], float]]] = [
                (OURS_POOL, lambda: kernel_ready_rest(kernels, pooled, OURS_POOL))]
            if js is not None:
                pool_steps.append((JS, lambda: kernel_ready_rest(kernels, js, JS)))
            sec.per_round = {name: [] for name, _ in pool_steps}
            progress(f"5. kernel ready from the pool: {opts.rounds_pool} rounds ")
            for i in range(opts.rounds_pool):
                for name, step in rotated(pool_steps, i):
                    wait_pool_full(pooled)  # each round's kernel comes from a full pool, as at rest
                    time.sleep(0.3)
                    sec.per_round[name].append(step())
                    kernels.track_children(pooled)
                    kernels.forget_dead()
                    progress(".")
            progress("\n")
            sec.rows = [(JS, "", None, None), (OURS_POOL, JS, 0.05, "<=")]
            if js is not None and sec.per_round[OURS_POOL]:
                speedup = statistics.median(sec.per_round[JS]) / statistics.median(sec.per_round[OURS_POOL])
                sec.notes.append(f"the pool is {speedup:.1f}x faster than jupyter_server's cold start "
                                 f"(target: at least 20x, i.e. a ratio <= 0.05)")
            sec.notes.append("the pool refills in the background; each round waits until it is full again, "
                             "outside the timing.")
            sections.append(sec)

        header = ["kernel WebSocket relay benchmark: flask-notebook vs jupyter_server vs a direct ZMQ client"]
        header += run.environment(jupyter_version, args.jupyter_python, code_state)
        header.append(f"client: websocket-client {version('websocket-client')}, pyzmq {zmq.__version__} "
                      f"(libzmq {zmq.zmq_version()}), jupyter_client {version('jupyter_client')}; "
                      f"{'--quick' if args.quick else 'full'} run")
        if js is not None:
            header.append("jupyter_server runs with " + " ".join(JS_EXTRA_ARGS))
        lines = header + [""]
        all_pass = True
        for sec in sections:
            sec_lines, ok = report_section(sec)
            all_pass &= ok
            lines += sec_lines + [""]
        lines.append("ratios are of the medians of the round medians; a round measures every configuration once, "
                     "in rotating order. Absolute times on a busy 2-core machine mean little.")
        lines.append(f"total benchmark time {time.monotonic() - t0:.0f} s")
        table = "\n".join(lines) + "\n"
        run.write_table(table, args.output)
        print("ALL TARGETS PASS" if all_pass else "SOME TARGETS MISSED")
        return 0
    except (BenchError, KeyboardInterrupt) as exc:
        return run.failed(exc, servers)
    finally:
        for client in clients:
            client.close()
        run.clean_up(servers, root, work, kernels=kernels)


if __name__ == "__main__":
    sys.exit(main())
