"""Benchmark re-attachment (NOTEBOOK_PERSIST_KERNELS): how long a new server takes to list
again the kernels a killed one left running, and how /api/status answers meanwhile.

One flask-notebook server with ``NOTEBOOK_PERSIST_KERNELS=true`` starts N kernels (50) and
waits until each is idle; it is then killed (SIGKILL: the kernels run on). A new server is
started on the same Jupyter directories (data directory: its store; runtime directory: the
connection files). Timed from its start (``Popen``): when it first answers ``/api/status``,
and when ``GET /api/kernels`` lists all N (that listing waits for the re-attachment to end,
bounded). Meanwhile a thread polls ``/api/status`` back to back: its worst and median
latency. The kernels are shut down and every process is ended at the end (by pid).

Target: all N listed within 5 s of the new server's start.

    .venv/bin/python bench/reattach.py              # 50 kernels
    .venv/bin/python bench/reattach.py --kernels 5  # does it work?
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

import run  # bench/run.py: servers, their clean-up, the environment header
from run import BenchError, Server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.kernels import kernel_processes  # noqa: E402

RESULTS = os.path.join(run.HERE, "results-reattach-latest.txt")
TARGET = 5.0
DEADLINE = 120.0


def server(root: str, work: str, env: dict[str, str], n: int) -> Server:
    made = run.ours_server(root, work)
    made.env = env
    made.log_path = os.path.join(work, f"server-{n}.log")
    return made


def wait_idle(srv: Server, count: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        kernels = srv.session.get(f"{srv.base}/api/kernels", timeout=30).json()
        if len(kernels) == count and all(k["execution_state"] == "idle" for k in kernels):
            return
        if time.monotonic() > deadline:
            raise BenchError(f"{count} kernels were not idle within {DEADLINE:.0f} s")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernels", type=int, default=50)
    args = parser.parse_args(argv)
    n = args.kernels
    run.kill_leftovers()
    work = tempfile.mkdtemp(prefix=run.ROOT_PREFIX + "reattach-")
    root = os.path.join(work, "root")
    os.makedirs(root)
    env = {**run.server_env(work, "ours"), "NOTEBOOK_PERSIST_KERNELS": "true"}
    runtime_dir = env["JUPYTER_RUNTIME_DIR"]
    servers: list[Server] = []
    try:
        first = server(root, work, env, 1)
        servers.append(first)
        first.start()
        first.wait_ready(time.monotonic() + DEADLINE)
        ids = set()
        for _ in range(n):
            r = first.session.post(f"{first.base}/api/kernels", json={}, timeout=60)
            if r.status_code != 201:
                raise BenchError(f"starting a kernel: {r.status_code} {r.text}")
            ids.add(r.json()["id"])
        wait_idle(first, n)
        assert first.proc is not None
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=10)
        left = len(kernel_processes(Path(runtime_dir)))
        if left < n:
            raise BenchError(f"only {left} of {n} kernel processes outlived the server")

        second = server(root, work, env, 2)
        servers.append(second)
        latencies: list[float] = []
        stop = threading.Event()
        poller = requests.Session()
        poller.headers["Authorization"] = f"token {second.token}"
        poller.trust_env = False
        started = time.monotonic()
        second.start()
        first_answer: list[float] = []

        def poll() -> None:
            while not stop.is_set():
                if second.port is None:
                    second.port = run._port_from_log(second.log_path)
                    time.sleep(0.01)
                    continue
                t = time.monotonic()
                try:
                    r = poller.get(f"{second.base}/api/status", timeout=30)
                except requests.RequestException:
                    time.sleep(0.01)
                    continue
                if r.status_code == 200:
                    if not first_answer:
                        first_answer.append(time.monotonic() - started)
                    latencies.append(time.monotonic() - t)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        deadline = started + DEADLINE
        while not first_answer:
            if time.monotonic() > deadline or second.proc is None or second.proc.poll() is not None:
                raise BenchError(f"the second server did not answer:\n{second.log_tail()}")
            time.sleep(0.01)
        listed_at = None
        while listed_at is None:
            kernels = second.session.get(f"{second.base}/api/kernels", timeout=30).json()
            if {k["id"] for k in kernels} == ids:
                listed_at = time.monotonic() - started
            elif time.monotonic() > deadline:
                raise BenchError(f"{len(kernels)} of {n} kernels listed after {DEADLINE:.0f} s")
        time.sleep(0.5)  # /api/status a little after, for its median
        stop.set()
        thread.join(timeout=30)
        poller.close()
        passed = listed_at < TARGET
        lines = [
            f"flask-notebook re-attachment of {n} persisted kernels after SIGKILL of the server",
            f"  new server's first /api/status answer: {first_answer[0]:.2f} s after its start",
            f"  all {n} kernels listed again:            {listed_at:.2f} s after its start "
            f"({listed_at - first_answer[0]:.2f} s after the first answer); target < {TARGET:.0f} s: "
            f"{'PASS' if passed else 'FAIL'}",
            f"  /api/status meanwhile: {len(latencies)} answers, worst {1000 * max(latencies):.1f} ms, "
            f"median {1000 * statistics.median(latencies):.1f} ms",
        ]
        text = "\n".join(lines) + "\n"
        print(text, end="")
        with open(RESULTS, "w") as f:
            f.write(text)
        second.session.post(f"{second.base}/api/shutdown", timeout=60)
        return 0 if passed else 1
    except BenchError as exc:
        print(f"bench/reattach.py: {exc}", file=sys.stderr)
        return 2
    finally:
        for srv in servers:
            srv.stop()
        for pid in kernel_processes(Path(runtime_dir)):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        run.clean_up([], work)


if __name__ == "__main__":
    sys.exit(main())
