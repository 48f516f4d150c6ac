"""Sustained load: many kernels, each with its own WebSocket client running `1+1` in a closed loop.

For each number of kernels (20, then 50), one server at a time (flask-notebook, then
jupyter_server 2.21 from `--jupyter-python`, each on a fresh server with fresh kernels):
every kernel gets one v1 WebSocket whose client sends an `execute_request` for `1+1`, waits
for its `execute_reply` and its iopub `status: idle`, and sends the next one at once, for
`--duration` seconds after a warm-up. Reported per server: executes per second, latency
(median, p90, p99, max), errors, lost replies (none within the deadline), how evenly the
kernels were served, where the time of the slowest requests went (client to kernel, in the
kernel, kernel to client: from the kernel's own message dates), and the ratios ours/jupyter.

    .venv/bin/python bench/load.py --jupyter-python .venv-bench/bin/python
    .venv/bin/python bench/load.py --soak [--duration 1800]     # ours only, half the rate

`--soak` runs our server at half its closed-loop rate for 30 minutes, sampling its memory,
descriptors and kernels every 30 s. See bench/README.md.

The clients are one process with no threads in the measuring loop: raw non-blocking
sockets on one epoll selector (the handshake is websocket-client's), parsing only the header,
the parent header and, for status and reply, the content of each message.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import heapq
import os
import random
import resource
import selectors
import signal
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

import run  # bench/run.py: servers, their clean-up, the environment header
from kernels import EXECUTE_1P1, JS_EXTRA_ARGS, V1, Kernels, WsClient, _children, cpu_seconds, progress
from run import BenchError, Server

RESULTS = os.path.join(run.HERE, "results-load-latest.txt")
SOAK_RESULTS = os.path.join(run.HERE, "results-soak-latest.txt")
OURS, JS = "flask-notebook", "jupyter_server"

#: A request whose reply and idle have not both come this long after sending is lost.
REQUEST_DEADLINE = 30.0
#: After the measured window: how long to wait for the requests still out.
DRAIN_DEADLINE = REQUEST_DEADLINE
HTTP_TIMEOUT = 60.0
#: Kernels started at once through the REST API.
START_PARALLEL = 4

#: Targets of issue 17, section 6 (ours ÷ jupyter_server).
TARGET_RATE = 1.5
TARGET_P99 = 1.0
#: Soak targets: memory growth, first to last sample after the warm-up.
SOAK_MAX_RSS_GROWTH = 0.05


# -- one WebSocket, driven by the loop ---------------------------------------------------------


class Request:
    """One execute_request: when it went, and what came back (perf_counter seconds; the
    kernel's own dates as it wrote them)."""

    __slots__ = ("kernel", "msg_id", "sent", "busy_date", "idle_date", "idle_at", "reply_at", "ok", "measured")

    def __init__(self, kernel: int, msg_id: str, sent: float, measured: bool) -> None:
        self.kernel = kernel
        self.msg_id = msg_id
        self.sent = sent
        self.busy_date: str | None = None
        self.idle_date: str | None = None
        self.idle_at: float | None = None
        self.reply_at: float | None = None
        self.ok = True
        self.measured = measured

    @property
    def done(self) -> bool:
        return self.idle_at is not None and self.reply_at is not None

    @property
    def finished(self) -> float:
        return max(self.idle_at or 0.0, self.reply_at or 0.0)


def _mask(payload: bytes) -> bytes:
    """A client frame's masking: a random key, then the payload XORed with it."""
    key = os.urandom(4)
    n = len(payload)
    if not n:
        return key
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return key + (int.from_bytes(payload, "big") ^ k).to_bytes(n, "big")


def client_frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + _mask(payload)


class LoadConn:
    """One kernel's v1 WebSocket in the closed loop: a raw non-blocking socket after the
    handshake (websocket-client's, then `wait_ready`)."""

    def __init__(self, index: int, client: WsClient, loop: Loop) -> None:
        self.index = index
        self.client = client
        self.loop = loop
        self.sock: socket.socket = client.ws.sock
        self.sock.setblocking(False)
        self.buf = bytearray()
        self.out = bytearray()
        self.frag: list[bytes] = []
        self.current: Request | None = None
        self.next_prepared = self._prepare()
        self.stopped = False
        self.failed: str | None = None
        #: Statuses other than busy/idle (restarting, dead, starting) seen on this socket.
        self.lifecycle_statuses: list[str] = []

    def _prepare(self) -> tuple[str, bytes]:
        msg_id, (data, opcode) = self.client.prepare("shell", "execute_request", EXECUTE_1P1)
        if isinstance(data, str):  # the legacy protocol: a text frame of JSON
            return msg_id, client_frame(0x1, data.encode())
        return msg_id, client_frame(0x2, data)

    def send_next(self, measured: bool) -> None:
        msg_id, data = self.next_prepared
        self.current = Request(self.index, msg_id, time.perf_counter(), measured)
        self.loop.requests.append(self.current)
        self._write(data)
        self.next_prepared = self._prepare()  # after the send: outside this request's time

    def _write(self, data: bytes) -> None:
        if self.out:
            self.out += data
            return
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self.fail(f"send failed: {exc!r}")
            return
        if sent < len(data):
            self.out += data[sent:]
            self.loop.selector.modify(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self)

    def writable(self) -> None:
        try:
            sent = self.sock.send(self.out)
        except BlockingIOError:
            return
        except OSError as exc:
            self.fail(f"send failed: {exc!r}")
            return
        del self.out[:sent]
        if not self.out:
            self.loop.selector.modify(self.sock, selectors.EVENT_READ, self)

    def fail(self, why: str) -> None:
        if self.failed is None:
            self.failed = why
            self.loop.errors.append(f"kernel {self.index}: {why}")
        try:
            self.loop.selector.unregister(self.sock)
        except (KeyError, ValueError):
            pass

    def readable(self, now: float) -> None:
        try:
            data = self.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError as exc:
            self.fail(f"receive failed: {exc!r}")
            return
        if not data:
            self.fail("the server closed the connection")
            return
        buf = self.buf
        buf += data
        pos = 0
        end = len(buf)
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            n = b1 & 0x7F
            head = 2
            if n == 126:
                if end - pos < 4:
                    break
                n, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif n == 127:
                if end - pos < 10:
                    break
                n, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if end - pos < head + n:
                break
            payload = bytes(buf[pos + head:pos + head + n])
            pos += head + n
            opcode = b0 & 0x0F
            if opcode == 0x9:  # ping: a pong with the same payload
                self._write(client_frame(0xA, payload))
            elif opcode == 0x8:
                self.fail("the server closed the WebSocket")
                return
            elif opcode in (0x1, 0x2, 0x0):
                if not b0 & 0x80:
                    self.frag.append(payload)
                    continue
                if self.frag:
                    payload = b"".join([*self.frag, payload])
                    self.frag = []
                self.message(payload, now)
        del buf[:pos]

    def message(self, data: bytes, now: float) -> None:
        if self.client.protocol == V1:
            (n,) = struct.unpack_from("<Q", data)
            off = struct.unpack_from(f"<{n}Q", data, 8)
            channel = data[off[0]:off[1]].decode()
            parent = orjson.loads(data[off[2]:off[3]])
            header_part, content_part = data[off[1]:off[2]], data[off[4]:off[5]]

            def content() -> dict[str, Any]:
                return orjson.loads(content_part)  # type: ignore[no-any-return]

            def header_of() -> dict[str, Any]:
                return orjson.loads(header_part)  # type: ignore[no-any-return]
        else:  # legacy: one JSON document
            msg = orjson.loads(data)
            channel, parent = msg.get("channel", ""), msg.get("parent_header") or {}

            def content() -> dict[str, Any]:
                return msg.get("content") or {}  # type: ignore[no-any-return]

            def header_of() -> dict[str, Any]:
                return msg.get("header") or {}  # type: ignore[no-any-return]
        req = self.current
        if req is None or parent.get("msg_id") != req.msg_id:
            if channel == "iopub" and header_of().get("msg_type") == "status":
                state = content().get("execution_state")
                if state not in ("busy", "idle"):
                    self.lifecycle_statuses.append(str(state))
            return
        header = header_of()
        msg_type = header.get("msg_type")
        if channel == "iopub":
            if msg_type == "status":
                state = content().get("execution_state")
                if state == "busy":
                    req.busy_date = header.get("date")
                elif state == "idle":
                    req.idle_date = header.get("date")
                    req.idle_at = now
        elif channel == "shell" and msg_type == "execute_reply":
            req.reply_at = now
            if content().get("status") != "ok":
                req.ok = False
        if req.done:
            self.current = None
            self.loop.completed(self, req, now)

    def close(self) -> None:
        try:
            self.loop.selector.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.client.close()


class Loop:
    """All the clients on one selector: closed loop (each sends its next request as soon as
    the last is complete) or paced (each sends at most every `interval` seconds)."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.conns: list[LoadConn] = []
        self.requests: list[Request] = []
        self.errors: list[str] = []
        self.lost: list[Request] = []
        self.sending = False
        self.measuring = False
        self.interval: float | None = None
        self._due: list[tuple[float, int]] = []  # (when, conn index) for paced sends

    def add(self, conn: LoadConn) -> None:
        self.conns.append(conn)
        self.selector.register(conn.sock, selectors.EVENT_READ, conn)

    def completed(self, conn: LoadConn, req: Request, now: float) -> None:
        if not req.ok:
            self.errors.append(f"kernel {conn.index}: execute_reply status is not ok")
        self._next(conn, now, req.sent)

    def _next(self, conn: LoadConn, now: float, last_sent: float) -> None:
        if not self.sending or conn.failed:
            return
        if self.interval is None:
            conn.send_next(self.measuring)
        else:
            heapq.heappush(self._due, (max(now, last_sent + self.interval), conn.index))

    def run(self, seconds: float, *, measuring: bool, interval: float | None = None,
            tick: Callable[[float], None] | None = None, tick_every: float = 1.0) -> None:
        """Keep every client busy for `seconds`; `measuring` marks the requests sent meanwhile."""
        self.sending = True
        self.measuring = measuring
        self.interval = interval
        start = time.perf_counter()
        end = start + seconds
        next_tick = start + tick_every
        now = start
        # Clients with nothing out start now (closed loop) or at a random phase (paced).
        for conn in self.conns:
            if conn.current is None and not conn.failed:
                if interval is None:
                    conn.send_next(measuring)
                else:
                    heapq.heappush(self._due, (now + random.random() * interval, conn.index))
        self._loop(lambda: time.perf_counter() < end, tick, tick_every, next_tick)

    def drain(self, deadline: float = DRAIN_DEADLINE) -> None:
        """Send nothing new; wait until every request out is complete (or lost)."""
        self.sending = False
        self._due.clear()
        end = time.perf_counter() + deadline
        self._loop(lambda: time.perf_counter() < end and any(c.current for c in self.conns if not c.failed),
                   None, 1.0, end)

    def _loop(self, go_on: Callable[[], bool], tick: Callable[[float], None] | None, tick_every: float,
              next_tick: float) -> None:
        select = self.selector.select
        due = self._due
        conns = self.conns
        next_check = time.perf_counter() + 0.5
        while go_on():
            timeout = 0.05
            if due:
                timeout = max(0.0, min(timeout, due[0][0] - time.perf_counter()))
            events = select(timeout)
            now = time.perf_counter()
            for key, mask in events:
                conn = key.data
                if mask & selectors.EVENT_WRITE:
                    conn.writable()
                if mask & selectors.EVENT_READ:
                    conn.readable(now)
            while due and due[0][0] <= now and self.sending:
                _, index = heapq.heappop(due)
                conn = conns[index]
                if conn.current is None and not conn.failed:
                    conn.send_next(self.measuring)
            if now >= next_check:
                next_check = now + 0.5
                self._expire(now)
            if tick is not None and now >= next_tick:
                next_tick += tick_every
                tick(now)

    def _expire(self, now: float) -> None:
        """A request out for longer than the deadline is lost: count it, send the next."""
        for conn in self.conns:
            req = conn.current
            if req is not None and now - req.sent > REQUEST_DEADLINE:
                self.lost.append(req)
                conn.current = None
                self._next(conn, now, req.sent)

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.selector.close()


# -- servers and kernels ---------------------------------------------------------------------


def raise_fd_limit() -> int:
    """Our soft descriptor limit up to the hard one (the servers inherit it): 50 kernels
    through jupyter_server take four ZMQ sockets per WebSocket, and more."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def make_server(which: str, root: str, work: str, jupyter_python: str | None, tag: str,
                probe: str | None = None) -> Server:
    if which == OURS:
        server = run.ours_server(root, work)
        if probe is not None:  # the same server, with the relay's doors timestamped
            assert server.argv[1:3] == ["-m", "flask_notebook"]
            server.argv[1:3] = [os.path.join(run.HERE, "relay_probe.py"), probe, "--"]
    else:
        assert jupyter_python is not None
        server = run.reference_server(root, work, jupyter_python, JS_EXTRA_ARGS)
    # A fresh configuration and log per run, so that no run sees another's state.
    server.env = run.server_env(work, f"{tag}-{'ours' if which == OURS else 'jupyter'}")
    server.log_path = os.path.join(work, f"{tag}-{'ours' if which == OURS else 'jupyter'}.log")
    return server


def set_autogroup_nice(server: Server, nice: int) -> None:
    """Linux with autogroup scheduling shares the CPU first between sessions, and every kernel
    is a session of its own: the server (one session, relaying for all of them) gets as much
    as one kernel. Writing its autogroup's nice changes that share (bench/README.md)."""
    assert server.proc is not None
    try:
        with open(f"/proc/{server.proc.pid}/autogroup", "w") as f:
            f.write(str(nice))
    except OSError as exc:
        raise BenchError(f"cannot set the autogroup nice of {server.name} to {nice}: {exc}") from exc


def start_kernels(kernels: Kernels, server: Server, count: int) -> list[str]:
    """`count` kernels through POST /api/kernels, a few at a time."""
    with concurrent.futures.ThreadPoolExecutor(START_PARALLEL) as pool:
        ids = list(pool.map(lambda _: _post_kernel(server), range(count)))
    kernels.track_children(server)
    return ids


def _post_kernel(server: Server) -> str:
    r = server.session.post(f"{server.base}/api/kernels", json={"name": "python3"}, timeout=HTTP_TIMEOUT)
    if r.status_code != 201:
        raise BenchError(f"{server.name}: POST /api/kernels answered {r.status_code}: {r.text[:300]}")
    return str(r.json()["id"])


def connect(loop: Loop, server: Server, kernel_ids: list[str], protocol: str | None) -> None:
    for i, kernel_id in enumerate(kernel_ids):
        client = WsClient(f"{server.name} kernel {i}", server, kernel_id, protocol)
        client.wait_ready()
        loop.add(LoadConn(i, client, loop))
        progress(".")


def protocol(args: argparse.Namespace) -> str | None:
    return V1 if args.protocol == "v1" else None


def stop_kernels(kernels: Kernels, server: Server, kernel_ids: list[str]) -> None:
    with concurrent.futures.ThreadPoolExecutor(START_PARALLEL) as pool:
        list(pool.map(lambda k: kernels.stop_rest(server, k), kernel_ids))


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for process {pid}")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def run_delay(pid: int) -> float:
    """Seconds the process's threads spent runnable but waiting for a CPU, from
    /proc/<pid>/task/*/schedstat (cumulative; threads that ended are not counted)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


def children_cpu(pid: int) -> float:
    total = 0.0
    for child in _children(pid):
        try:
            total += cpu_seconds(child)
        except OSError:
            pass
    return total


def usage(pid: int) -> dict[str, float]:
    """Cumulative seconds: CPU time and run-queue wait of the server, of its kernels, and of
    this process (the clients)."""
    kids = _children(pid)
    times = os.times()
    return {
        "server_cpu": cpu_seconds(pid), "server_wait": run_delay(pid),
        "kernels_cpu": sum(_cpu_or_0(k) for k in kids), "kernels_wait": sum(run_delay(k) for k in kids),
        "client_cpu": times.user + times.system, "client_wait": run_delay(os.getpid()),
    }


def _cpu_or_0(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except OSError:
        return 0.0


def dump(path: str, name: str, n: int, loop: Loop, start: float, wall_offset: float,
         relay: dict[str, dict[str, list[float]]]) -> None:
    """Every request of the run, one JSON line each (times in s from the window's start;
    with --probe, the relay's timestamps as well)."""
    base = start + wall_offset
    with open(path, "ab") as f:
        for r in loop.requests:
            at = relay.get(r.msg_id, {})
            f.write(orjson.dumps({
                **{f"relay_{what}": [t - base for t in times] for what, times in at.items()},
                "server": name, "kernels": n, "kernel": r.kernel, "msg_id": r.msg_id, "measured": r.measured,
                "sent": r.sent - start, "idle_at": None if r.idle_at is None else r.idle_at - start,
                "reply_at": None if r.reply_at is None else r.reply_at - start,
                "busy": None if _date(r.busy_date) is None else _date(r.busy_date) - wall_offset - start,  # type: ignore[operator]
                "idle": None if _date(r.idle_date) is None else _date(r.idle_date) - wall_offset - start,  # type: ignore[operator]
                "ok": r.ok}) + b"\n")


# -- statistics ------------------------------------------------------------------------------


def pct(sorted_values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of sorted values."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def _date(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class Result:
    """One server's measured window."""
    server: str
    kernels: int
    seconds: float
    latencies: list[float]  # ms, of the measured requests that completed, sorted
    completed_in_window: int
    errors: list[str]
    lost: int
    per_kernel_count: list[int]
    per_kernel_p99: list[float]
    split_all: tuple[float, float, float]  # median ms: to the kernel, in it, back
    split_tail: tuple[float, float, float]  # mean ms over the requests at or above p99
    tail_kernels: int  # how many kernels the requests at or above p99 came from
    usage: dict[str, float]  # seconds during the window: CPU and run-queue wait of server, kernels, client
    lifecycle: list[str] = field(default_factory=list)
    #: --probe: (leg name, median ms, mean ms over the slowest 1%) with the relay's own timestamps.
    probe: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.completed_in_window / self.seconds

    def p(self, q: float) -> float:
        return pct(self.latencies, q)


def summarize(name: str, loop: Loop, n: int, start: float, seconds: float, wall_offset: float,
              usage: dict[str, float]) -> Result:
    end = start + seconds
    measured = [r for r in loop.requests if r.measured]
    done = [r for r in measured if r.done]
    lat = sorted((r.finished - r.sent) * 1000.0 for r in done)
    in_window = sum(1 for r in loop.requests if r.done and start <= r.finished < end)
    per_kernel: list[list[float]] = [[] for _ in range(n)]
    for r in done:
        per_kernel[r.kernel].append((r.finished - r.sent) * 1000.0)
    counts = [len(v) for v in per_kernel]
    p99s = [pct(sorted(v), 99) for v in per_kernel if v]
    p99 = pct(lat, 99)

    def split(r: Request) -> tuple[float, float, float] | None:
        busy, idle = _date(r.busy_date), _date(r.idle_date)
        if busy is None or idle is None or r.idle_at is None:
            return None
        sent_wall = r.sent + wall_offset
        back = r.finished + wall_offset
        return ((busy - sent_wall) * 1000.0, (idle - busy) * 1000.0, (back - idle) * 1000.0)

    splits = [s for s in map(split, done) if s is not None]
    tail = [r for r in done if (r.finished - r.sent) * 1000.0 >= p99]
    tail_splits = [s for s in map(split, tail) if s is not None]
    split_all = tuple(statistics.median(s[i] for s in splits) for i in range(3)) if splits else (0.0, 0.0, 0.0)
    split_tail = tuple(statistics.fmean(s[i] for s in tail_splits) for i in range(3)) if tail_splits \
        else (0.0, 0.0, 0.0)
    errors = list(loop.errors) + [f"kernel {c.index}: {c.failed}" for c in loop.conns if c.failed and
                                  f"kernel {c.index}: {c.failed}" not in loop.errors]
    lifecycle = [f"kernel {c.index}: {s}" for c in loop.conns for s in c.lifecycle_statuses]
    return Result(name, n, seconds, lat, in_window, errors, sum(1 for r in loop.lost if r.measured),
                  counts, p99s, split_all, split_tail, len({r.kernel for r in tail}),  # type: ignore[arg-type]
                  usage, lifecycle)


# -- one server, one load ----------------------------------------------------------------------


def measure(which: str, n: int, args: argparse.Namespace, root: str, work: str, kernels: Kernels,
            servers: list[Server], tag: str) -> Result:
    """A fresh server and `n` fresh kernels; warm-up, then `args.duration` seconds measured."""
    probe = os.path.join(work, f"{tag}-probe.jsonl") if args.probe and which == OURS else None
    server = make_server(which, root, work, args.jupyter_python, tag, probe)
    servers.append(server)
    loop = Loop()
    kernel_ids: list[str] = []
    try:
        server.start()
        server.wait_ready(time.monotonic() + run.START_DEADLINE)
        if args.server_autogroup_nice is not None:
            set_autogroup_nice(server, args.server_autogroup_nice)
        progress(f"{server.name}, {n} kernels: starting ")
        kernel_ids = start_kernels(kernels, server, n)
        connect(loop, server, kernel_ids, protocol(args))
        assert server.proc is not None
        pid = server.proc.pid
        progress(f" warm-up {args.warmup:g} s ")
        gc.collect()
        gc.disable()  # the client's own pauses would land in someone's latency
        loop.run(args.warmup, measuring=False)
        progress(f"measuring {args.duration:g} s ")
        usage0 = usage(pid)
        wall_offset = time.time() - time.perf_counter()
        start = time.perf_counter()
        loop.run(args.duration, measuring=True, tick=lambda now: progress("."), tick_every=5.0)
        usage1 = usage(pid)
        loop.drain()
        gc.enable()
        progress("\n")
        result = summarize(server.name, loop, n, start, args.duration, wall_offset,
                           {k: usage1[k] - usage0[k] for k in usage0})
    finally:
        gc.enable()
        loop.close()
        if kernel_ids and server.proc is not None and server.proc.poll() is None:
            try:
                stop_kernels(kernels, server, kernel_ids)
            except Exception as exc:  # the server stops below anyway, and its kernels with it
                print(f"bench: stopping the kernels: {exc}", file=sys.stderr)
        server.stop()
        servers.remove(server)
        kernels.forget_dead()
    if probe is not None:
        result.probe, relay = probe_split(probe, loop, wall_offset)
    else:
        relay = {}
    if args.dump:
        dump(args.dump, result.server, n, loop, start, wall_offset, relay)
    return result


def probe_split(path: str, loop: Loop, wall_offset: float
                ) -> tuple[list[tuple[str, float, float]], dict[str, dict[str, list[float]]]]:
    """Where each request's time went, with the relay's timestamps (bench/relay_probe.py)."""
    seen: dict[str, dict[str, list[float]]] = {}
    with open(path, "rb") as f:
        for line in f:
            msg_id, what, *times = orjson.loads(line)
            if what == "iterations":
                n, wall, cpu, wall50, wall99, cpu50, cpu99, wall_max, cpu_max = times
                progress(f"\n  server event loop: {n} iterations ({wall:.1f} s busy, {cpu:.1f} s CPU); "
                         f"per iteration wall median {wall50 * 1e3:.2f} p99 {wall99 * 1e3:.2f} "
                         f"max {wall_max * 1e3:.1f} ms, CPU median {cpu50 * 1e3:.2f} p99 {cpu99 * 1e3:.2f} "
                         f"max {cpu_max * 1e3:.1f} ms\n")
                continue
            seen.setdefault(msg_id, {})[what] = times
    legs = ("client to server's loop", "loop to relay", "relay to kernel", "in the kernel", "kernel to server's loop",
            "loop to relay", "relay to client")
    rows: list[tuple[float, tuple[float, ...]]] = []
    for r in loop.requests:
        at = seen.get(r.msg_id)
        busy, idle = _date(r.busy_date), _date(r.idle_date)
        if not r.measured or not r.done or at is None or busy is None or idle is None or \
                not {"request", "idle", "reply"} <= at.keys():
            continue
        last_out = max(at["idle"][0], at["reply"][0])
        request = at["request"]
        rows.append(((r.finished - r.sent) * 1000.0, tuple(x * 1000.0 for x in (
            request[2] - (r.sent + wall_offset), request[0] - request[2], busy - request[1], idle - busy,
            at["idle"][2] - idle, at["idle"][0] - at["idle"][2], r.finished + wall_offset - last_out))))
    if not rows:
        return [], seen
    p99 = pct(sorted(lat for lat, _ in rows), 99)
    tail = [parts for lat, parts in rows if lat >= p99]
    return [(leg, statistics.median(parts[i] for _, parts in rows), statistics.fmean(parts[i] for parts in tail))
            for i, leg in enumerate(legs)], seen


# -- report ----------------------------------------------------------------------------------


def report_load(results: list[tuple[int, int, dict[str, Result]]], args: argparse.Namespace) -> tuple[list[str], bool]:
    lines: list[str] = []
    all_pass = True
    for n, rep, by in results:
        lines.append(f"{n} kernels, {args.duration:g} s closed loop after {args.warmup:g} s warm-up"
                     + (f" (repeat {rep + 1})" if args.repeat > 1 else "")
                     + f"; order: {', '.join(by)}")
        head = (f"  {'':<16}{'exec/s':>9}{'median':>9}{'p90':>9}{'p99':>9}{'max':>9}  "
                f"{'errors':>6}{'lost':>6}  {'server CPU/exec':>15}")
        lines += [head, "  " + "-" * (len(head) - 2)]
        for name, r in by.items():
            cpu = r.usage["server_cpu"] / max(1, r.completed_in_window) * 1e6
            lines.append(f"  {name:<16}{r.rate:9.1f}{r.p(50):9.1f}{r.p(90):9.1f}{r.p(99):9.1f}"
                         f"{r.latencies[-1] if r.latencies else float('nan'):9.1f}  {len(r.errors):>6}{r.lost:>6}"
                         f"  {cpu:12.0f} µs")
        for name, r in by.items():
            counts = r.per_kernel_count
            lines.append(f"  {name}: per kernel: executes {min(counts)}-{max(counts)} "
                         f"(median {statistics.median(counts):.0f}), p99 {min(r.per_kernel_p99):.0f}-"
                         f"{max(r.per_kernel_p99):.0f} ms; the slowest 1% came from {r.tail_kernels} of {n} kernels")
            lines.append(f"  {name}: time split, median: to the kernel {r.split_all[0]:.1f}, in it "
                         f"{r.split_all[1]:.1f}, back {r.split_all[2]:.1f} ms; slowest 1%, mean: "
                         f"{r.split_tail[0]:.1f} / {r.split_tail[1]:.1f} / {r.split_tail[2]:.1f} ms")
            u = r.usage
            lines.append(f"  {name}: per second of the window, CPU used / waited for: server "
                         f"{u['server_cpu'] / r.seconds:.2f} / {u['server_wait'] / r.seconds:.2f}, kernels "
                         f"{u['kernels_cpu'] / r.seconds:.2f} / {u['kernels_wait'] / r.seconds:.2f}, client "
                         f"{u['client_cpu'] / r.seconds:.2f} / {u['client_wait'] / r.seconds:.2f}")
            if r.probe:
                lines.append(f"  {name}: with the relay's timestamps (--probe), median / slowest 1% mean, ms: "
                             + "; ".join(f"{leg} {med:.1f} / {tail:.1f}" for leg, med, tail in r.probe))
            for e in r.errors[:5]:
                lines.append(f"  {name}: error: {e}")
            if r.lifecycle:
                lines.append(f"  {name}: kernel status changes: {r.lifecycle[:5]}")
        if OURS in by and JS in by:
            o, j = by[OURS], by[JS]
            rate_ratio = o.rate / j.rate if j.rate else float("inf")
            p99_ratio = o.p(99) / j.p(99) if j.p(99) else float("inf")
            clean = not o.errors and not o.lost
            ok_rate, ok_p99 = rate_ratio >= TARGET_RATE, p99_ratio <= TARGET_P99
            all_pass &= ok_rate and ok_p99 and clean
            lines.append(f"  ours/jupyter: executes/s {rate_ratio:.2f}x (target >= {TARGET_RATE:g}: "
                         f"{'PASS' if ok_rate else 'MISS'}), median {o.p(50) / j.p(50):.2f}x, "
                         f"p99 {p99_ratio:.2f}x (target <= {TARGET_P99:g}: {'PASS' if ok_p99 else 'MISS'}), "
                         f"max {o.latencies[-1] / j.latencies[-1]:.2f}x; ours errors+lost {len(o.errors) + o.lost} "
                         f"(target 0: {'PASS' if clean else 'MISS'})")
        else:
            for r in by.values():
                all_pass &= not r.errors and not r.lost
        lines.append("")
    if args.repeat > 1 and len(which_of(results)) == 2:
        for n in dict.fromkeys(k for k, _, _ in results):
            rate = [by[OURS].rate / by[JS].rate for k, _, by in results if k == n]
            p99 = [by[OURS].p(99) / by[JS].p(99) for k, _, by in results if k == n]
            lines.append(f"{n} kernels over {len(rate)} repeats: ours/jupyter executes/s median "
                         f"{statistics.median(rate):.2f}x ({min(rate):.2f}-{max(rate):.2f}), p99 median "
                         f"{statistics.median(p99):.2f}x ({min(p99):.2f}-{max(p99):.2f})")
        lines.append("")
    lines.append("latency: from sending the execute_request until both its execute_reply and its iopub idle "
                 "arrived; exec/s: requests completed within the window. Time split from the kernel's "
                 "message dates (busy, idle) against the client's clock (same machine): to the kernel = "
                 "sent until busy, in it = busy until idle, back = idle until the client had all.")
    return lines, all_pass


def which_of(results: list[tuple[int, int, dict[str, Result]]]) -> set[str]:
    return {name for _, _, by in results for name in by}


# -- soak -------------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # seconds since the paced phase began
    rss_kib: int
    fds: int
    kernels_listed: int
    restarted: int
    executes: int
    p50: float
    p99: float


def soak(args: argparse.Namespace, root: str, work: str, kernels: Kernels, servers: list[Server]) -> tuple[list[str], bool]:
    n = args.kernels[0]
    server = make_server(OURS, root, work, None, "soak")
    servers.append(server)
    loop = Loop()
    samples: list[Sample] = []
    try:
        server.start()
        server.wait_ready(time.monotonic() + run.START_DEADLINE)
        assert server.proc is not None
        pid = server.proc.pid
        progress(f"soak: {n} kernels ")
        kernel_ids = start_kernels(kernels, server, n)
        pids0 = _children(pid)
        connect(loop, server, kernel_ids, protocol(args))
        # The closed-loop rate, measured during the warm-up: the soak runs at a fraction of it.
        calib = min(20.0, max(5.0, args.duration / 10))
        progress(f" calibrating {calib:g} s ")
        loop.run(2.0, measuring=False)
        before = len(loop.requests)
        loop.run(calib, measuring=False)
        full = (len(loop.requests) - before) / calib
        target = full * args.rate_fraction
        interval = n / target
        progress(f"(closed loop {full:.0f}/s; paced at {target:.0f}/s, one request per kernel every "
                 f"{interval * 1000:.0f} ms) ")
        t0 = time.perf_counter()
        last = [0]
        sampler_error: list[BaseException] = []

        def take(now: float) -> None:
            # In a thread, so the clients' loop never waits for the REST call.
            try:
                r = server.session.get(f"{server.base}/api/kernels", timeout=HTTP_TIMEOUT)
                models = r.json() if r.status_code == 200 else []
                restarted = sum(1 for m in models if "restart" in str(m.get("reason", "")))
                restarted += len(pids0 - _children(pid))  # a kernel process that is gone was replaced
                reqs = loop.requests[last[0]:]  # (the loop only appends)
                last[0] += len(reqs)
                lat = sorted((r.finished - r.sent) * 1000 for r in reqs if r.done)
                samples.append(Sample(now - t0, rss_kib(pid), fd_count(pid), len(models), restarted,
                                      len(lat), pct(lat, 50), pct(lat, 99)))
                s = samples[-1]
                progress(f"\n  {s.at:7.0f} s: rss {s.rss_kib / 1024:.1f} MiB, {s.fds} fds, {s.kernels_listed} kernels, "
                         f"{s.restarted} restarted; {s.executes} executes, p50 {s.p50:.1f} p99 {s.p99:.1f} ms")
            except BaseException as exc:  # reported after the run
                sampler_error.append(exc)

        samplers: list[threading.Thread] = []

        def tick(now: float) -> None:
            samplers.append(threading.Thread(target=take, args=(now,), daemon=True))
            samplers[-1].start()

        gc.collect()
        last[0] = len(loop.requests)  # the calibration's requests are not the soak's
        tick(t0)
        loop.run(args.duration, measuring=True, interval=interval, tick=tick, tick_every=args.sample_interval)
        loop.drain()
        for thread in samplers:
            thread.join(HTTP_TIMEOUT)
        if not samples or samples[-1].at < args.duration - args.sample_interval / 2:
            take(time.perf_counter())  # the end, unless a sample was just taken
        progress("\n")
        if sampler_error:
            raise BenchError(f"sampling failed: {sampler_error[0]!r}")
        # The report.
        warm = args.soak_warmup
        after = [s for s in samples if s.at >= warm] or samples[-1:]
        first, last_s = after[0], samples[-1]
        growth = last_s.rss_kib / first.rss_kib - 1
        fd_growth = last_s.fds - first.fds
        restarted = max(s.restarted for s in samples)
        done = [r for r in loop.requests if r.measured and r.done]
        lost = sum(1 for r in loop.lost if r.measured)
        errors = list(loop.errors)
        lifecycle = [s for c in loop.conns for s in c.lifecycle_statuses]
        lat = sorted((r.finished - r.sent) * 1000 for r in done)
        ok_mem = growth < SOAK_MAX_RSS_GROWTH
        ok_fd = fd_growth <= 0
        ok_kernels = restarted == 0 and not lifecycle and all(s.kernels_listed == n for s in samples)
        ok_clean = not errors and not lost
        lines = [f"soak: flask-notebook, {n} kernels for {args.duration:g} s at {args.rate_fraction:g} of the "
                 f"closed-loop rate ({full:.0f}/s measured for {calib:g} s, paced at {target:.0f}/s: one "
                 f"request per kernel every {interval * 1000:.0f} ms); sampled every {args.sample_interval:g} s",
                 f"  achieved {len(done) / args.duration:.1f} executes/s; latency median {pct(lat, 50):.1f}, "
                 f"p99 {pct(lat, 99):.1f}, max {lat[-1] if lat else float('nan'):.1f} ms",
                 "",
                 f"  {'at s':>7}{'RSS MiB':>10}{'fds':>6}{'kernels':>9}{'restarted':>11}{'executes':>10}"
                 f"{'p50 ms':>9}{'p99 ms':>9}"]
        for s in samples:
            latency = f"{s.p50:9.1f}{s.p99:9.1f}" if s.executes else f"{'-':>9}{'-':>9}"
            lines.append(f"  {s.at:7.0f}{s.rss_kib / 1024:10.1f}{s.fds:6d}{s.kernels_listed:9d}{s.restarted:11d}"
                         f"{s.executes:10d}{latency}")
        lines += [
            "",
            f"  memory: {first.rss_kib / 1024:.1f} MiB at {first.at:.0f} s (after the {warm:g} s warm-up) -> "
            f"{last_s.rss_kib / 1024:.1f} MiB at the end: {growth * 100:+.1f}% "
            f"(target < {SOAK_MAX_RSS_GROWTH * 100:g}%: {'PASS' if ok_mem else 'MISS'})",
            f"  descriptors: {first.fds} -> {last_s.fds} (min {min(s.fds for s in after)}, max "
            f"{max(s.fds for s in after)}) (target: no growth: {'PASS' if ok_fd else 'MISS'})",
            f"  kernels: {restarted} restarted, status changes seen by clients {lifecycle[:5] or 'none'}, "
            f"listed {min(s.kernels_listed for s in samples)}-{max(s.kernels_listed for s in samples)} of {n} "
            f"(target: none restarted: {'PASS' if ok_kernels else 'MISS'})",
            f"  errors {len(errors)}, lost replies {lost} (target 0: {'PASS' if ok_clean else 'MISS'})"
            + (f": {errors[:3]}" if errors else ""),
        ]
        return lines, ok_mem and ok_fd and ok_kernels and ok_clean
    finally:
        loop.close()
        server.stop()
        servers.remove(server)
        kernels.forget_dead()


# -- main -------------------------------------------------------------------------------------


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jupyter-python", help="python of an environment with jupyter_server "
                        "(without it, flask-notebook alone)")
    parser.add_argument("--kernels", default=None,
                        help="numbers of kernels, comma-separated (default 20,50; --soak: 20)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds measured per server and load (default 60; --soak: 1800)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of unmeasured load first (default 5)")
    parser.add_argument("--protocol", choices=("v1", "legacy"), default="v1",
                        help="the kernel WebSocket protocol: v1 (binary, as JupyterLab) or legacy (JSON)")
    parser.add_argument("--only", choices=("ours", "jupyter"), help="measure one server only")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure each load this many times, alternating which server goes first")
    parser.add_argument("--soak", action="store_true",
                        help="flask-notebook alone at a fraction of its closed-loop rate, sampling its memory, "
                             "descriptors and kernels")
    parser.add_argument("--rate-fraction", type=float, default=0.5, help="--soak: fraction of the closed-loop rate")
    parser.add_argument("--sample-interval", type=float, default=30.0, help="--soak: seconds between samples")
    parser.add_argument("--soak-warmup", type=float, default=None,
                        help="--soak: seconds before the first sample that counts (default: a tenth of the "
                             "duration, at most 180)")
    parser.add_argument("--probe", action="store_true",
                        help="run our server under bench/relay_probe.py and split each request's time at the "
                             "relay's doors")
    parser.add_argument("--server-autogroup-nice", type=int, metavar="N",
                        help="an experiment: the nice value of each server's autogroup (its session, as Linux "
                             "schedules it against its kernels' sessions); negative values need root")
    parser.add_argument("--dump", help="append every request's times to this file (JSON lines), to study them")
    parser.add_argument("--output", help=f"where to write the table (default {os.path.relpath(RESULTS)}, "
                        f"--soak {os.path.relpath(SOAK_RESULTS)})")
    args = parser.parse_args(argv)
    args.kernels = [int(k) for k in (args.kernels or ("20" if args.soak else "20,50")).split(",")]
    if args.duration is None:
        args.duration = 1800.0 if args.soak else 60.0
    if args.soak_warmup is None:
        args.soak_warmup = min(180.0, args.duration / 10)
    if args.output is None:
        args.output = SOAK_RESULTS if args.soak else RESULTS
    if min(args.kernels) < 1 or args.duration <= 0 or args.repeat < 1 or not 0 < args.rate_fraction <= 1:
        parser.error("kernels, duration and repeat must be positive, --rate-fraction in (0, 1]")
    which = [OURS, JS]
    if args.soak or args.only == "ours":
        which = [OURS]
    elif args.only == "jupyter":
        which = [JS]
    if JS in which and not args.jupyter_python:
        if args.only == "jupyter":
            parser.error("--only jupyter needs --jupyter-python")
        print("no --jupyter-python: measuring flask-notebook alone, without ratios", file=sys.stderr)
        which = [OURS]

    run.kill_leftovers()
    jupyter_version = None
    if JS in which:
        args.jupyter_python = os.path.abspath(args.jupyter_python)
        try:
            jupyter_version = run.check_jupyter_python(args.jupyter_python)
        except BenchError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
    limit = raise_fd_limit()

    root = work = None
    servers: list[Server] = []
    kernels: Kernels | None = None
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        t0 = time.monotonic()
        root = tempfile.mkdtemp(prefix=run.ROOT_PREFIX)
        work = tempfile.mkdtemp(prefix=run.ROOT_PREFIX + "work-")
        kernels = Kernels(work)
        code_state = run._code_state()
        header = [("sustained load soak" if args.soak else "sustained load: kernels in a closed `1+1` loop")
                  + ": flask-notebook" + (" vs jupyter_server" if JS in which else "")]
        header += run.environment(jupyter_version, args.jupyter_python if JS in which else None, code_state)
        header.append(f"descriptor limit {limit}; client: one process, raw {args.protocol} WebSockets on one "
                      "epoll selector")
        if args.probe:
            header.append("--probe: flask-notebook ran under bench/relay_probe.py (a few µs more per message)")
        if args.server_autogroup_nice is not None:
            header.append(f"--server-autogroup-nice {args.server_autogroup_nice}: each server's autogroup reniced")
        if JS in which:
            header.append("jupyter_server runs with " + " ".join(JS_EXTRA_ARGS))
        if args.soak:
            lines, ok = soak(args, root, work, kernels, servers)
        else:
            results: list[tuple[int, int, dict[str, Result]]] = []
            for n in args.kernels:
                for rep in range(args.repeat):
                    order = which if rep % 2 == 0 else which[::-1]
                    by: dict[str, Result] = {}
                    for name in order:
                        by[name] = measure(name, n, args, root, work, kernels, servers, f"k{n}-r{rep}")
                        time.sleep(2.0)  # the last kernels' exit settles
                    results.append((n, rep, by))
            lines, ok = report_load(results, args)
        try:
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        except OSError:
            load = "?"
        lines.append(f"load average at the end {load}; total benchmark time {time.monotonic() - t0:.0f} s")
        run.write_table("\n".join(header + [""] + lines) + "\n", args.output)
        print("ALL TARGETS PASS" if ok else "SOME TARGETS MISSED")
        return 0
    except (BenchError, KeyboardInterrupt) as exc:
        return run.failed(exc, servers)
    finally:
        run.clean_up(servers, root, work, kernels=kernels)


if __name__ == "__main__":
    sys.exit(main())
