"""Benchmark kernels on a Jupyter Gateway: the v1 WebSocket round trip of a trivial execute
through flask-notebook (NOTEBOOK_GATEWAY_URL) against jupyter_server 2.21 in gateway mode
(``--GatewayClient.url``), both in front of the same Enterprise Gateway 3.3 (``.venv-eg``),
and what forwarding between replicas costs.

One run: the gateway, the servers, rounds interleaved, each the time from sending an
``execute_request`` for ``pass`` until its ``execute_reply`` (status ``ok``) and its iopub
``idle`` have both come. The client asks for the v1 protocol; jupyter_server's gateway mode
relays the gateway's JSON messages whatever is asked, which is what its users get. Three series,
in each round one after another, the order reversed every other round:

- ``flask-notebook``: replica ``a``, the holder of its kernel (the one connected to the gateway);
- ``forwarded``: the same kernel through replica ``b``, which pipes the WebSocket to ``a``'s
  ``NOTEBOOK_REPLICA_URL``, message for message. Both replicas share one SQLite database, the
  root and the token, with ``NOTEBOOK_PERSIST_KERNELS=true`` (README, "Replicas");
- ``jupyter_server``: a kernel of its own.

Round trips are ``--gap`` seconds apart (0.1 by default, not timed). Enterprise Gateway's
WebSockets leave Nagle's algorithm on (tornado sets no TCP_NODELAY on them): when a gateway
connection is used again soon after its last exchange (here: 50 ms after, often; 80 ms, rarely),
the receiver delays its ACK and the reply waits 40 ms behind Nagle. Back to back (``--gap 0``)
a round trip then takes 5 or 45 ms depending on which series ran just before on the same
gateway connection (the direct and forwarded series share one). Apart, every series gets the
same, idle, connection, as a user running a cell does.

Both WebSocket clients of the shared kernel see the other's iopub broadcast (``busy``,
``execute_input``, ``idle``), and skip it when they next read.

Prints each series' median, p90 and max, the ratio flask-notebook / jupyter_server (target: at
most 1.15) and forwarded / flask-notebook (what the extra hop costs; informative). Replica ``a``
must hold the kernel with both WebSockets on it and ``b`` none, before and after the rounds.
``--no-forward`` runs the old pair: one flask-notebook (no replica settings) against
jupyter_server.

    .venv/bin/python bench/gateway.py --jupyter-python .venv-bench/bin/python [--rounds 300] [--gap 0.1]
        [--no-forward]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import websocket

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.env import isolated_env  # noqa: E402
from tests.support.gateway import Gateway, free_port  # noqa: E402

V1 = "v1.kernel.websocket.jupyter.org"
TOKEN = "bench-token-0123456789"


def header(msg_type: str, session: str) -> dict[str, Any]:
    return {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": session, "username": "bench",
            "date": "2026-01-01T00:00:00.000000Z", "version": "5.4"}


class Client:
    def __init__(self, base: str, kernel_id: str) -> None:
        self.session = uuid.uuid4().hex
        url = base.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels?session_id={self.session}"
        try:
            self.ws = websocket.create_connection(url, header=[f"Authorization: token {TOKEN}"], subprotocols=[V1],
                                                  timeout=60)
        except websocket.WebSocketException:  # a server that takes no subprotocol (jupyter_server's gateway mode)
            self.ws = websocket.create_connection(url, header=[f"Authorization: token {TOKEN}"], timeout=60)
        self.v1 = self.ws.getsubprotocol() == V1

    def send(self, msg_type: str, content: dict[str, Any]) -> str:
        head = header(msg_type, self.session)
        if self.v1:
            parts = [json.dumps(p).encode() for p in (head, {}, {}, content)]
            name = b"shell"
            offsets = [8 * 7, 8 * 7 + len(name)]
            for part in parts:
                offsets.append(offsets[-1] + len(part))
            self.ws.send_binary(struct.pack("<7Q", 6, *offsets) + name + b"".join(parts))
        else:
            self.ws.send(json.dumps({"header": head, "parent_header": {}, "metadata": {}, "content": content,
                                     "channel": "shell", "buffers": []}))
        return str(head["msg_id"])

    def recv(self) -> tuple[str, str, dict[str, Any]]:
        opcode, data = self.ws.recv_data()
        if self.v1:
            (n,) = struct.unpack_from("<Q", data)
            offsets = struct.unpack_from(f"<{n}Q", data, 8)
            channel = data[offsets[0]:offsets[1]].decode()
            head = json.loads(data[offsets[1]:offsets[2]])
            parent = json.loads(data[offsets[2]:offsets[3]])
            wanted = head["msg_type"] in ("status", "execute_reply")
            content = json.loads(data[offsets[4]:offsets[5]]) if wanted else {}
        else:
            msg = json.loads(data)
            channel, head, parent, content = msg["channel"], msg["header"], msg["parent_header"], msg["content"]
        return channel, f"{head['msg_type']}:{parent.get('msg_id', '')}", content

    def ready(self, timeout: float = 60) -> None:
        """Until the kernel answers kernel_info (asked again every second: a relay may drop
        what comes before its own upstream connection is open)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg_id = self.send("kernel_info_request", {})
            self.ws.settimeout(1)
            try:
                while True:
                    if self.recv()[1] == f"kernel_info_reply:{msg_id}":
                        self.ws.settimeout(60)
                        return
            except websocket.WebSocketTimeoutException:
                continue
        raise SystemExit("the kernel did not answer kernel_info within 60 s")

    def round_trip(self, code: str = "pass") -> float:
        t0 = time.perf_counter()
        msg_id = self.send("execute_request", {"code": code, "silent": False, "store_history": False,
                                               "user_expressions": {}, "allow_stdin": False})
        reply = idle = False
        while not (reply and idle):
            channel, key, content = self.recv()
            if key == f"execute_reply:{msg_id}":
                if content.get("status") != "ok":  # a failing server must not look fast
                    raise SystemExit(f"execute_request answered {content}")
                reply = True
            elif key == f"status:{msg_id}" and content.get("execution_state") == "idle":
                idle = True
        return time.perf_counter() - t0


def wait_url(proc: subprocess.Popen[bytes], log: Path, pattern: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text(errors="replace"))
        if match:
            return match.group(1)
        if proc.poll() is not None:
            raise SystemExit(f"{log} ended:\n{log.read_text()}")
        time.sleep(0.1)
    raise SystemExit(f"no URL in {log} within {timeout} s")


def start_kernel(base: str) -> str:
    response = requests.post(base + "api/kernels", json={"name": "python3"},
                             headers={"Authorization": f"token {TOKEN}"}, timeout=60)
    response.raise_for_status()
    return str(response.json()["id"])


def get_json(base: str, path: str) -> Any:
    response = requests.get(base + path, headers={"Authorization": f"token {TOKEN}"}, timeout=30)
    response.raise_for_status()
    return response.json()


def check_forwarding(a: str, b: str, kernel_id: str) -> None:
    """That replica ``a`` holds the kernel with both WebSockets on it (the direct client's and
    ``b``'s pipe), and that ``b`` holds none (it forwards; it did not adopt the kernel with a
    gateway connection of its own)."""
    status_a, status_b = get_json(a, "api/status"), get_json(b, "api/status")
    listed = {k["id"]: k for k in get_json(b, "api/kernels")}
    if status_a["kernels"] != 1 or status_a["connections"] != 2 or status_b["kernels"] != 0 \
            or listed.get(kernel_id, {}).get("connections") != 2:  # b lists it as a, its holder, sees it
        raise SystemExit(f"not forwarded: replica a {status_a}, replica b {status_b}, b lists {listed}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def start_ours(work: Path, name: str, env: dict[str, str], port: int) -> tuple[subprocess.Popen[bytes], Path]:
    log = work / f"{name}.log"
    proc = subprocess.Popen([sys.executable, "-m", "flask_notebook", "--port", str(port), "--no-browser",
                             "--root-dir", str(work / "root"), "--token", TOKEN, "--log-level", "WARNING"],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    return proc, log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jupyter-python", required=True, help="the python of an environment with jupyter_server")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--gap", type=float, default=0.1,
                        help="seconds between round trips, untimed (default 0.1; see the docstring)")
    parser.add_argument("--no-forward", action="store_true",
                        help="one flask-notebook, no second replica forwarding to it (the old pair)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        gateway = Gateway(work / "gateway")
        procs: list[subprocess.Popen[bytes]] = []
        try:
            env = {**os.environ, "NOTEBOOK_GATEWAY_URL": gateway.url, "NOTEBOOK_GATEWAY_TOKEN": gateway.token}
            (work / "root").mkdir()
            replicas: dict[str, str] = {}
            if args.no_forward:
                proc, log = start_ours(work, "ours", env, 0)
                procs.append(proc)
                replicas["a"] = wait_url(proc, log, r" at (http://127\.0\.0\.1:\d+/)\?token=")
            else:  # two replicas on one database, as tests/replicas/conftest.py starts them
                shared = {"NOTEBOOK_DATABASE_URL": f"sqlite:///{work / 'store.sqlite'}",
                          "NOTEBOOK_PERSIST_KERNELS": "true", "NOTEBOOK_SECRET_KEY": uuid.uuid4().hex * 2}
                for name in ("a", "b"):  # one after the other: b's start waits for a's
                    port = free_port()
                    proc, log = start_ours(work, f"replica-{name}", {
                        **env, **isolated_env(work / f"jupyter-{name}"), **shared, "NOTEBOOK_REPLICA_ID": name,
                        "NOTEBOOK_REPLICA_URL": f"http://127.0.0.1:{port}"}, port)
                    procs.append(proc)
                    replicas[name] = wait_url(proc, log, r" at (http://127\.0\.0\.1:\d+/)\?token=")
            theirs_log = work / "theirs.log"
            port = free_port()
            procs.append(subprocess.Popen(
                [args.jupyter_python, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                 f"--ServerApp.root_dir={work / 'root'}", f"--IdentityProvider.token={TOKEN}",
                 f"--GatewayClient.url={gateway.url}", f"--GatewayClient.auth_token={gateway.token}",
                 "--allow-root", "--ServerApp.jpserver_extensions={'jupyterlab': False, 'notebook': False}",
                 "--log-level=WARN"], stdout=theirs_log.open("wb"), stderr=subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if not k.startswith("NOTEBOOK_")}))
            theirs = f"http://127.0.0.1:{port}/"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(theirs + "api/status", headers={"Authorization": f"token {TOKEN}"},
                                    timeout=5).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline or procs[-1].poll() is not None:
                    raise SystemExit(f"jupyter_server did not start:\n{theirs_log.read_text()}")
                time.sleep(0.2)
            # jupyter_server's first: its gateway connection has been seen to take 40 s to answer, and
            # our WebSockets, left unread that long, would miss the server's pings and be closed.
            their_client = Client(theirs, start_kernel(theirs))
            their_client.ready()
            kernel = start_kernel(replicas["a"])
            clients = {"flask-notebook": Client(replicas["a"], kernel)}
            clients["flask-notebook"].ready()
            if "b" in replicas:
                clients["forwarded"] = Client(replicas["b"], kernel)
                clients["forwarded"].ready()
            clients["jupyter_server"] = their_client
            for name, client in clients.items():
                for _ in range(20):  # warm up: the kernel answers, the paths are hot
                    client.round_trip()
                print(f"{name}: protocol {'v1' if client.v1 else 'legacy JSON'}")
            if "b" in replicas:
                check_forwarding(replicas["a"], replicas["b"], kernel)
            times: dict[str, list[float]] = {name: [] for name in clients}
            order = list(clients.items())
            for i in range(args.rounds):
                for name, client in order if i % 2 == 0 else reversed(order):
                    time.sleep(args.gap)
                    times[name].append(client.round_trip())
            if "b" in replicas:
                check_forwarding(replicas["a"], replicas["b"], kernel)  # still: b never took the kernel over
            medians = {name: statistics.median(values) for name, values in times.items()}
            for name, values in times.items():
                print(f"{name}: median round trip {medians[name] * 1000:.2f} ms, "
                      f"p90 {percentile(values, 0.9) * 1000:.2f} ms, max {max(values) * 1000:.2f} ms "
                      f"over {args.rounds} rounds")
            print(f"ratio flask-notebook / jupyter_server: {medians['flask-notebook'] / medians['jupyter_server']:.2f} "
                  "(target <= 1.15)")
            if "forwarded" in medians:
                print(f"ratio forwarded / flask-notebook (direct): "
                      f"{medians['forwarded'] / medians['flask-notebook']:.2f} "
                      f"({(medians['forwarded'] - medians['flask-notebook']) * 1000:+.2f} ms for the hop)")
            for client in clients.values():
                client.ws.close()
        except BaseException:  # what the servers said, before the temporary directory goes
            for log in sorted(work.glob("*.log")) + [work / "gateway" / "gateway.log"]:
                lines = log.read_text(errors="replace").splitlines() if log.exists() else []
                if lines:
                    print(f"--- {log.name} (last 40 lines)", *lines[-40:], sep="\n", file=sys.stderr)
            raise
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            gateway.stop()


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    main()
