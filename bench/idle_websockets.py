"""How many idle kernel WebSockets one server process holds, what each costs, and whether an
active connection slows down while they are open.

    .venv/bin/python bench/idle_websockets.py [--count 10000] [--active-idle 1000] [--rounds 3]

1. Opens `--count` WebSockets (v1 protocol, raw sockets with a minimal client that answers
   pings) to one kernel and reports the server's resident memory and file descriptors per
   WebSocket (target: at most 16 KiB each).
2. Measures the execute round trip (execute_request until iopub idle) on one active v1
   connection with no other WebSocket open, then with `--active-idle` idle ones open on the
   same kernel (each receiving every iopub message, as a browser tab would, and reading it)
   and on another kernel (target: at most 1.2 times the round trip with none).

jupyter_server is not run here: it stops at about 246 WebSockets on this machine, because
it opens four ZMQ sockets per WebSocket.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from tests.kernel_client import KernelClient  # noqa: E402

TOKEN = "bench-idle-token"
V1 = "v1.kernel.websocket.jupyter.org"


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def start_server(work: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ}
    for name in ("CONFIG", "DATA", "RUNTIME"):
        path = os.path.join(work, name.lower())
        os.makedirs(path, exist_ok=True)
        env[f"JUPYTER_{name}_DIR"] = path
    env["NOTEBOOK_WS_PING_INTERVAL"] = "25"
    root = os.path.join(work, "root")
    os.makedirs(root, exist_ok=True)
    log = open(os.path.join(work, "server.log"), "wb")
    proc = subprocess.Popen([sys.executable, "-m", "flask_notebook", "--port", "0", "--no-browser",
                             "--root-dir", root, "--token", TOKEN, "--log-level", "WARNING"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = open(os.path.join(work, "server.log"), errors="replace").read()
        match = re.search(r" at (http://[^/]+/)\?token=", text)
        if match:
            return proc, match.group(1)
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{text}")
        time.sleep(0.05)
    raise SystemExit("server did not start within 30 s")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class IdleSockets:
    """Many raw WebSocket connections, kept alive by one thread that reads and answers pings."""

    def __init__(self, url: str, kernel_id: str) -> None:
        self.host, port = url.split("/")[2].split(":")
        self.port = int(port)
        self.kernel_id = kernel_id
        self.sockets: list[socket.socket] = []
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.stopping = False
        self.bytes_read = 0
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def open(self, count: int) -> None:
        for _ in range(count):
            sock = socket.create_connection((self.host, self.port), timeout=30)
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall((f"GET /api/kernels/{self.kernel_id}/channels?session_id={uuid.uuid4().hex} HTTP/1.1\r\n"
                          f"Host: {self.host}:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                          f"Sec-WebSocket-Protocol: {V1}\r\nAuthorization: token {TOKEN}\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    raise RuntimeError("closed during the handshake")
                head += chunk
            if not head.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(head[:200].decode(errors="replace"))
            sock.setblocking(False)
            with self.lock:
                self.sockets.append(sock)
                self.selector.register(sock, selectors.EVENT_READ)

    def _pump(self) -> None:
        """Read whatever arrives; answer pings with pongs (masked, as a client must)."""
        while not self.stopping:
            with self.lock:
                if not self.sockets:
                    events = []
                else:
                    events = self.selector.select(0)
            if not events:
                time.sleep(0.01)
                continue
            for key, _ in events:
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    continue
                self.bytes_read += len(data)
                # Server frames are unmasked; a ping is 0x89. Good enough for a control frame
                # that arrives whole at the start of a read (pings are rare and tiny).
                if data[:1] == b"\x89":
                    length = data[1] & 0x7F
                    payload = data[2:2 + length]
                    mask = os.urandom(4)
                    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                    try:
                        sock.sendall(bytes([0x8A, 0x80 | length]) + mask + masked)
                    except OSError:
                        pass

    def close(self) -> None:
        self.stopping = True
        self.thread.join(5)
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()


class IdleProcess:
    """IdleSockets in a child process, so that reading them does not compete with the
    measuring client for this process's GIL."""

    def __init__(self, url: str, kernel_id: str, count: int) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve-idle", url, kernel_id, str(count)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO)
        line = self.proc.stdout.readline() if self.proc.stdout else b""
        if not line.startswith(b"opened"):
            raise RuntimeError(f"idle clients failed: {line!r}")

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(30)


def serve_idle(url: str, kernel_id: str, count: int) -> int:
    raise_fd_limit()
    idle = IdleSockets(url, kernel_id)
    idle.open(count)
    print("opened", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    idle.close()
    return 0


def round_trips(client: KernelClient, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        client.run("1+1")
        times.append(time.perf_counter() - started)
    return times


def kernel_model(url: str, kernel_id: str) -> dict[str, Any]:
    r = requests.get(url + f"api/kernels/{kernel_id}", headers={"Authorization": f"token {TOKEN}"}, timeout=30)
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


def new_kernel(url: str) -> str:
    r = requests.post(url + "api/kernels", headers={"Authorization": f"token {TOKEN}"}, json={}, timeout=60)
    r.raise_for_status()
    return str(r.json()["id"])


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve-idle":
        return serve_idle(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--active-idle", type=int, default=1000)
    parser.add_argument("--trips", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the latency measurement (default 3)")
    args = parser.parse_args()
    limit = raise_fd_limit()
    lines = [f"open-file limit {limit}; python {sys.version.split()[0]}"]
    work = tempfile.mkdtemp(prefix="flask-notebook-idle-")
    proc, url = start_server(work)
    try:
        kid = new_kernel(url)
        other = new_kernel(url)
        active = KernelClient(url, kid, TOKEN)
        active.wait_ready()
        round_trips(active, 30)  # warm up
        baseline = [statistics.median(round_trips(active, args.trips))]

        # 1. Latency with idle sockets on the same kernel, then on another kernel: rounds of
        #    (open them, measure, close them, measure), so that a slow spell of this busy
        #    machine does not fall on one side only; the ratio is of the medians of rounds.
        for label, target in (("same kernel", kid), ("another kernel", other)):
            loaded_rounds, again_rounds = [], []
            for _ in range(args.rounds):
                idle = IdleProcess(url, target, args.active_idle)
                time.sleep(1)
                loaded_rounds.append(statistics.median(round_trips(active, args.trips)))
                idle.close()
                time.sleep(1)
                again_rounds.append(statistics.median(round_trips(active, args.trips)))
            loaded, again = statistics.median(loaded_rounds), statistics.median(again_rounds)
            baseline.append(again)
            per_round = ", ".join(f"{a / b:.2f}" for a, b in zip(loaded_rounds, again_rounds))
            lines.append(f"execute round trip with {args.active_idle} idle WebSockets on the {label}: "
                         f"{loaded * 1000:.2f} ms vs {again * 1000:.2f} ms with none "
                         f"({loaded / again:.2f}x, rounds {per_round}; target <= 1.2x)")
        active.close()

        # 2. Memory and descriptors per idle WebSocket.
        time.sleep(1)
        before_rss, before_fd = rss_kib(proc.pid), fd_count(proc.pid)
        started = time.monotonic()
        idle_all = IdleProcess(url, other, args.count)
        opened = time.monotonic() - started
        deadline = time.monotonic() + 60
        while kernel_model(url, other)["connections"] < args.count and time.monotonic() < deadline:
            time.sleep(0.2)
        held = kernel_model(url, other)["connections"]
        time.sleep(2)
        after_rss, after_fd = rss_kib(proc.pid), fd_count(proc.pid)
        per_ws = (after_rss - before_rss) / max(held, 1)
        lines.append(f"{held} of {args.count} idle WebSockets held by one server process (opened in {opened:.1f} s)")
        lines.append(f"server memory: {before_rss / 1024:.1f} MiB -> {after_rss / 1024:.1f} MiB = "
                     f"{per_ws:.1f} KiB per WebSocket (target <= 16 KiB)")
        lines.append(f"server file descriptors: {before_fd} -> {after_fd} = "
                     f"{(after_fd - before_fd) / max(held, 1):.2f} per WebSocket")
        idle_all.close()
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    report = "\n".join(lines)
    print(report)
    with open(os.path.join(HERE, "results-idle-latest.txt"), "w") as f:
        f.write(report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
