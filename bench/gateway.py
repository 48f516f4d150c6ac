"""Benchmark kernels on a Jupyter Gateway: the v1 WebSocket round trip of a trivial execute
through flask-notebook (NOTEBOOK_GATEWAY_URL) against jupyter_server 2.21 in gateway mode
(``--GatewayClient.url``), both in front of the same Enterprise Gateway 3.3 (``.venv-eg``).

One run: the gateway, both servers, one kernel each; rounds interleaved (ours, theirs, ours,
...), each the time from sending an ``execute_request`` for ``pass`` until its reply and its
iopub ``idle`` have both come. Prints the medians and the ratio (target: at most 1.15). The
client asks for the v1 protocol; jupyter_server's gateway mode relays the gateway's JSON
messages whatever is asked, which is what its users get.

    .venv/bin/python bench/gateway.py --jupyter-python .venv-bench/bin/python [--rounds 300]
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
            content = json.loads(data[offsets[4]:offsets[5]]) if head["msg_type"] == "status" else {}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jupyter-python", required=True, help="the python of an environment with jupyter_server")
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        gateway = Gateway(work / "gateway")
        procs: list[subprocess.Popen[bytes]] = []
        try:
            env = {**os.environ, "NOTEBOOK_GATEWAY_URL": gateway.url, "NOTEBOOK_GATEWAY_TOKEN": gateway.token}
            (work / "root").mkdir()
            ours_log = work / "ours.log"
            procs.append(subprocess.Popen([sys.executable, "-m", "flask_notebook", "--port", "0", "--no-browser",
                                           "--root-dir", str(work / "root"), "--token", TOKEN, "--log-level", "WARNING"],
                                          stdout=ours_log.open("wb"), stderr=subprocess.STDOUT, env=env))
            ours = wait_url(procs[-1], ours_log, r" at (http://127\.0\.0\.1:\d+/)\?token=")
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
            clients = {"flask-notebook": Client(ours, start_kernel(ours)),
                       "jupyter_server": Client(theirs, start_kernel(theirs))}
            for name, client in clients.items():
                client.ready()
                for _ in range(20):  # warm up: the kernel answers, the paths are hot
                    client.round_trip()
                print(f"{name}: protocol {'v1' if client.v1 else 'legacy JSON'}")
            times: dict[str, list[float]] = {name: [] for name in clients}
            for _ in range(args.rounds):
                for name, client in clients.items():
                    times[name].append(client.round_trip())
            medians = {name: statistics.median(values) for name, values in times.items()}
            for name, value in medians.items():
                print(f"{name}: median round trip {value * 1000:.2f} ms over {args.rounds} rounds")
            print(f"ratio flask-notebook / jupyter_server: {medians['flask-notebook'] / medians['jupyter_server']:.2f} "
                  "(target <= 1.15)")
            for client in clients.values():
                client.ws.close()
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
