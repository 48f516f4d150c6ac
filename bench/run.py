"""Benchmark flask-notebook against jupyter_server on the same files, in the same run.

Both servers are started as subprocesses on one temporary root, and each metric is measured
round by round, alternating which server goes first, so that whatever the machine is doing
at a given moment hits both alike. What matters is the ratio of medians, not absolute times.

    .venv/bin/python bench/run.py --jupyter-python .venv-bench/bin/python

See bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

ROOT_PREFIX = "flask-notebook-bench-"
PID_FILE = os.path.join(tempfile.gettempdir(), "flask-notebook-bench.pids")
RESULTS = os.path.join(HERE, "results-latest.txt")
HOST = "127.0.0.1"
START_DEADLINE = 60.0
REQUEST_TIMEOUT = 120.0

BIG_DIR = "big"
BIG_TXT, BIG_IPYNB, BIG_DIRS = 9_000, 900, 100
BIG_ENTRIES = BIG_TXT + BIG_IPYNB + BIG_DIRS
NB_NAME = "nb5mb.ipynb"
NB_SIZE = 5_000_000


@dataclass
class Metric:
    key: str
    title: str
    warmup: int
    rounds: int
    target: float  # jupyter_server median / ours median must be at least this


METRICS = [
    Metric("listing", f"GET /api/contents/{BIG_DIR} ({BIG_ENTRIES:,} entries)", 2, 15, 50.0),
    Metric("listing-changed", f"GET /api/contents/{BIG_DIR}, a file in it touched first", 2, 15, 50.0),
    Metric("get", f"GET /api/contents/{NB_NAME}", 3, 30, 2.5),
    Metric("put", f"PUT /api/contents/{NB_NAME}", 3, 30, 2.2),
    Metric("put-edit", f"PUT {NB_NAME}, one cell edited each round", 3, 30, 2.2),
]


class BenchError(RuntimeError):
    pass


# -- the files ---------------------------------------------------------------------------


def make_root() -> tuple[str, int]:
    """The temporary root: `big/` with 10,000 entries and the ~5 MB notebook. Returns (root, cells)."""
    import nbformat

    from make_notebook import make_notebook

    root = tempfile.mkdtemp(prefix=ROOT_PREFIX)
    big = os.path.join(root, BIG_DIR)
    os.mkdir(big)
    tiny = nbformat.v4.new_notebook()
    tiny.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    tiny.cells.append(nbformat.v4.new_code_cell("print('hello')"))
    tiny_bytes = nbformat.writes(tiny).encode()
    for i in range(BIG_TXT):
        with open(os.path.join(big, f"file-{i:05d}.txt"), "wb") as f:
            f.write(f"line {i}\n".encode() * (1 + i % 7))
    for i in range(BIG_IPYNB):
        with open(os.path.join(big, f"notebook-{i:04d}.ipynb"), "wb") as f:
            f.write(tiny_bytes)
    for i in range(BIG_DIRS):
        os.mkdir(os.path.join(big, f"dir-{i:03d}"))
    nb = make_notebook(NB_SIZE)
    nbformat.write(nb, os.path.join(root, NB_NAME))
    return root, len(nb.cells)


# -- the servers -------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: str
    token: str
    port: int | None = None  # None: read it from the start-up line in the log
    proc: subprocess.Popen[bytes] | None = None
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.env, cwd=REPO, start_new_session=True,
            )
        finally:
            log.close()
        _remember_pid(self.proc.pid)
        self.session.headers["Authorization"] = f"token {self.token}"
        self.session.trust_env = False  # no proxies: loopback only

    def wait_ready(self, deadline: float) -> None:
        assert self.proc is not None
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with code {self.proc.returncode} while starting:\n{self.log_tail()}")
            if self.port is None:
                self.port = _port_from_log(self.log_path)
            if self.port is not None:
                try:
                    r = self.session.get(f"{self.base}/api", timeout=2)
                    if r.status_code == 200:
                        return
                except requests.RequestException:
                    pass
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name} was not ready within {START_DEADLINE:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.session.close()
        if self.proc is None:
            return
        _stop_group(self.proc)
        _forget_pid(self.proc.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"


def _port_from_log(path: str) -> int | None:
    """flask-notebook prints `... is serving DIR at http://127.0.0.1:PORT/?token=...` on stderr."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    marker = f"http://{HOST}:"
    for line in text.splitlines():
        if "is serving" in line and marker in line:
            rest = line.split(marker, 1)[1]
            digits = rest.split("/", 1)[0]
            if digits.isdigit():
                return int(digits)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


# Servers of an earlier run that died before cleaning up (kill -9, a closed terminal) would
# still hold ports and CPU. Their ids are kept in PID_FILE; they are ended at the next start,
# by id, and only if their command line shows one of our benchmark roots.


def _read_pids() -> set[int]:
    try:
        with open(PID_FILE) as f:
            return {int(line) for line in f if line.strip().isdigit()}
    except OSError:
        return set()


def _write_pids(pids: set[int]) -> None:
    with open(PID_FILE, "w") as f:
        f.write("".join(f"{pid}\n" for pid in sorted(pids)))


def _remember_pid(pid: int) -> None:
    _write_pids(_read_pids() | {pid})


def _forget_pid(pid: int) -> None:
    _write_pids(_read_pids() - {pid})


def kill_leftovers() -> None:
    for pid in _read_pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if ROOT_PREFIX in cmdline:
            print(f"ending a leftover benchmark process (pid {pid})", file=sys.stderr)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(pid, sig)
                except ProcessLookupError:
                    break
                time.sleep(1)
    _write_pids(set())
    # Roots of earlier runs that did not get to remove them.
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        if name.startswith(ROOT_PREFIX):
            shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)


def check_jupyter_python(python: str) -> str:
    """jupyter_server's version in `python`, or a clear error."""
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise BenchError(f"--jupyter-python {python}: no such executable (run `make bench` to create .venv-bench)")
    try:
        out = subprocess.run(
            [python, "-c", "import jupyter_server, nbformat; print(jupyter_server.__version__)"],
            capture_output=True, text=True, timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"--jupyter-python {python}: cannot run it: {exc}") from exc
    if out.returncode != 0:
        raise BenchError(
            f"jupyter_server is not installed in {python} ({(out.stderr.strip().splitlines() or ['?'])[-1]});\n"
            f"install it with: {python} -m pip install -r bench/requirements.txt (or run `make bench`)"
        )
    return out.stdout.strip()


def server_env(work: str, name: str) -> dict[str, str]:
    """The environment of one server (or client): this one's, without Jupyter settings, and
    throw-away Jupyter and IPython directories of its own under `work`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "NOTEBOOK_", "JPY_"))}
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        path = os.path.join(work, name, var.split("_")[1].lower())
        os.makedirs(path, exist_ok=True)
        env[var] = path
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["IPYTHONDIR"] = os.path.join(work, name, "ipython")
    return env


def ours_server(root: str, work: str) -> Server:
    """flask-notebook on a free port (read from its start-up line), serving `root`."""
    return Server(
        name="flask-notebook",
        argv=[sys.executable, "-m", "flask_notebook", "--port", "0", "--no-browser",
              "--root-dir", root, "--token", "bench-ours-token"],
        env=server_env(work, "ours"), log_path=os.path.join(work, "ours.log"), token="bench-ours-token",
    )


def reference_server(root: str, work: str, jupyter_python: str, extra_args: tuple[str, ...] = ()) -> Server:
    """jupyter_server from `jupyter_python`, on a free port, serving `root`."""
    port = _free_port()
    return Server(
        name="jupyter_server",
        argv=[jupyter_python, "-m", "jupyter_server", "--no-browser", f"--port={port}",
              "--IdentityProvider.token=bench-jupyter-token", f"--ServerApp.root_dir={root}",
              "--ServerApp.port_retries=0", f"--ServerApp.ip={HOST}"]
             + (["--allow-root"] if os.geteuid() == 0 else []) + list(extra_args),
        env=server_env(work, "jupyter"), log_path=os.path.join(work, "jupyter.log"),
        token="bench-jupyter-token", port=port,
    )


def make_servers(root: str, work: str, jupyter_python: str | None) -> list[Server]:
    servers = [ours_server(root, work)]
    if jupyter_python:
        servers.append(reference_server(root, work, jupyter_python))
    return servers


# -- measuring ---------------------------------------------------------------------------


def timed(server: Server, method: str, path: str, body: bytes | None = None) -> tuple[float, requests.Response]:
    """One request, timed from sending to the last byte of the body read."""
    headers = {"Content-Type": "application/json"} if body is not None else None
    gc.disable()
    try:
        start = time.perf_counter()
        r = server.session.request(method, server.base + path, data=body, headers=headers,
                                   timeout=REQUEST_TIMEOUT, stream=False)
        r.content  # noqa: B018 - read the whole body inside the timing
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return elapsed * 1000.0, r


def expect(server: Server, r: requests.Response, what: str, check: Callable[[Any], str | None]) -> None:
    if r.status_code != 200:
        raise BenchError(f"{server.name}: {what} answered {r.status_code}: {r.text[:500]}")
    try:
        model = r.json()
    except ValueError as exc:
        raise BenchError(f"{server.name}: {what} did not answer JSON: {r.text[:200]!r}") from exc
    problem = check(model)
    if problem:
        raise BenchError(f"{server.name}: {what}: {problem}")


def check_listing(model: Any) -> str | None:
    if model.get("type") != "directory" or not isinstance(model.get("content"), list):
        return "not a directory model with content"
    if len(model["content"]) != BIG_ENTRIES:
        return f"listed {len(model['content'])} entries, expected {BIG_ENTRIES}"
    return None


def check_notebook(cells: int) -> Callable[[Any], str | None]:
    def check(model: Any) -> str | None:
        content = model.get("content")
        if model.get("type") != "notebook" or not isinstance(content, dict):
            return "not a notebook model with content"
        if len(content.get("cells", [])) != cells:
            return f"notebook has {len(content.get('cells', []))} cells, expected {cells}"
        return None
    return check


def check_saved(model: Any) -> str | None:
    if model.get("type") != "notebook" or model.get("path") != NB_NAME:
        return f"unexpected save answer: type {model.get('type')!r}, path {model.get('path')!r}"
    return None


def edited_saves(content: dict[str, Any], path: str) -> Callable[[Server], tuple[float, requests.Response]]:
    """A request maker: the n-th save to each server has cell n edited (the same bodies for both)."""
    sent: dict[str, int] = {}

    def body(n: int) -> bytes:
        cells = list(content["cells"])
        index = n % len(cells)
        cells[index] = {**cells[index], "source": f"{cells[index]['source']}\n# edit {n}"}
        return json.dumps({"type": "notebook", "format": "json", "content": {**content, "cells": cells}}).encode()

    def request(server: Server) -> tuple[float, requests.Response]:
        n = sent.get(server.name, 0)
        sent[server.name] = n + 1
        data = body(n)  # made before the clock starts
        return timed(server, "PUT", path, data)

    return request


def measure(metric: Metric, servers: list[Server], scale: float,
            request: Callable[[Server], tuple[float, requests.Response]],
            check: Callable[[Any], str | None]) -> dict[str, list[float]]:
    rounds = max(1, round(metric.rounds * scale))
    times: dict[str, list[float]] = {s.name: [] for s in servers}
    total = metric.warmup + rounds
    print(f"  {metric.title}: {metric.warmup} warm-up + {rounds} rounds ", end="", flush=True, file=sys.stderr)
    for i in range(total):
        # Alternate which server goes first, so neither always follows the other's load.
        order = servers if i % 2 == 0 else servers[::-1]
        for server in order:
            ms, r = request(server)
            expect(server, r, metric.title, check)
            if i >= metric.warmup:
                times[server.name].append(ms)
        print(".", end="", flush=True, file=sys.stderr)
    print(file=sys.stderr)
    return times


# -- reporting ---------------------------------------------------------------------------


def failed(exc: BaseException, servers: list[Server]) -> int:
    """Say why a run stopped (with each started server's log tail): the exit status."""
    if isinstance(exc, KeyboardInterrupt):
        print("\nbench: interrupted", file=sys.stderr)
        return 130
    print(f"\nbench: {exc}", file=sys.stderr)
    for server in servers:
        if server.proc is not None:
            print(f"\n--- {server.name} log tail ---\n{server.log_tail()}", file=sys.stderr)
    return 2


def clean_up(servers: list[Server], *paths: str | None, kernels: Any = None) -> None:
    """The end of a run, however it ended: stop the servers, end the direct kernels (an object
    with ``end_all``), remove the temporary directories."""
    for server in servers:
        server.stop()
    if kernels is not None:
        kernels.end_all()
    for path in paths:
        if path:
            shutil.rmtree(path, ignore_errors=True)


def write_table(table: str, output: str) -> None:
    """Print the result table and keep it in `output`."""
    print()
    print(table, end="")
    with open(output, "w", encoding="utf-8") as f:
        f.write(table)
    print(f"(written to {os.path.relpath(output)})")


def stats(samples: list[float]) -> tuple[float, float, float]:
    if len(samples) == 1:
        return samples[0], samples[0], samples[0]
    deciles = statistics.quantiles(samples, n=10, method="inclusive")
    return statistics.median(samples), deciles[0], deciles[-1]


def spread(samples: list[float], scale: float = 1.0, digits: int = 0) -> str:
    """``median [p10-p90]`` of `samples` times `scale`, with `digits` decimals."""
    median, p10, p90 = (value * scale for value in stats(samples))
    return f"{median:.{digits}f} [{p10:.{digits}f}-{p90:.{digits}f}]"


def verdict(label: str, ratio: float, target: float) -> str:
    """A ratio against its target: ``label: 1.012 (target <= 1.1) PASS`` (or ``MISS``)."""
    return f"{label}: {ratio:.3f} (target <= {target}) {'PASS' if ratio <= target else 'MISS'}"


def finish(lines: list[str], output: str, passed: bool, quick: bool) -> int:
    """Print and keep the table `lines` (noting a --quick run); the exit status: 0 when the
    targets were met or the run was quick (too few rounds to judge), else 1."""
    if quick:
        lines.append("(--quick: too few rounds to judge)")
    write_table("\n".join(lines) + "\n", output)
    return 0 if passed or quick else 1


def report(results: dict[str, dict[str, list[float]]], servers: list[Server], header: list[str]) -> tuple[str, bool]:
    names = [s.name for s in servers]
    lines = header + [""]
    width = 44
    head = f"{'metric':<{width}}" + "".join(f"{n + ' median [p10-p90] ms':>40}" for n in names)
    if len(names) == 2:
        head += f"{'times faster':>14}{'target':>9}  result"
    lines += [head, "-" * len(head)]
    all_pass = True
    for metric in METRICS:
        if metric.key not in results:
            continue
        row = f"{metric.title:<{width}}"
        medians = {}
        for name in names:
            med, p10, p90 = stats(results[metric.key][name])
            medians[name] = med
            row += f"{f'{med:9.1f} [{p10:8.1f} - {p90:8.1f}]':>40}"
        if len(names) == 2:
            ratio = medians["jupyter_server"] / medians["flask-notebook"]
            ok = ratio >= metric.target
            all_pass &= ok
            row += f"{f'{ratio:.2f}x':>14}{f'>={metric.target:g}x':>9}  {'PASS' if ok else 'MISS'}"
        lines.append(row)
    if len(names) == 2:
        lines += ["", "times faster = jupyter_server median / flask-notebook median; "
                      "absolute times on a busy machine mean little, the ratios matter."]
    return "\n".join(lines) + "\n", all_pass


def _code_state() -> str:
    """The commit the servers' code came from, and whether flask_notebook/ had local changes."""
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "flask_notebook"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "not a git checkout"
    if not head:
        return "not a git checkout"
    return f"commit {head}" + (" + uncommitted changes in flask_notebook/" if dirty else "")


def environment(jupyter_version: str | None, jupyter_python: str | None, code_state: str) -> list[str]:
    from flask_notebook import __version__ as ours_version

    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    lines = [
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"machine: {platform.platform()}, {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
        f"load average {load}",
        f"python (flask-notebook): {platform.python_version()} at {sys.executable}",
        f"flask-notebook {ours_version} ({code_state}, when the servers started)",
    ]
    if jupyter_python:
        jv = subprocess.run([jupyter_python, "-c", "import platform; print(platform.python_version())"],
                            capture_output=True, text=True, timeout=60).stdout.strip()
        lines += [f"python (jupyter_server): {jv} at {jupyter_python}", f"jupyter_server {jupyter_version}"]
    return lines


# -- main --------------------------------------------------------------------------------


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jupyter-python", help="python of an environment with jupyter_server (without it, only flask-notebook is measured)")
    parser.add_argument("--rounds-scale", type=float, default=1.0, help="scale the number of measured rounds")
    parser.add_argument("--only", choices=[m.key for m in METRICS], help="measure one metric only")
    parser.add_argument("--output", default=RESULTS, help=f"where to write the table (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.rounds_scale <= 0:
        parser.error("--rounds-scale must be positive")

    kill_leftovers()
    jupyter_version = None
    if args.jupyter_python:
        try:
            jupyter_version = check_jupyter_python(args.jupyter_python)
        except BenchError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
    else:
        print("no --jupyter-python: measuring flask-notebook alone, without ratios", file=sys.stderr)

    metrics = [m for m in METRICS if args.only in (None, m.key)]
    root = work = None
    servers: list[Server] = []
    # SIGTERM (e.g. from a CI timeout) must still stop the servers: make it an exception.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        t0 = time.monotonic()
        print("making the files ...", file=sys.stderr)
        root, cells = make_root()
        work = tempfile.mkdtemp(prefix="flask-notebook-bench-work-")
        nb_bytes = os.path.getsize(os.path.join(root, NB_NAME))
        print(f"  {root}: {BIG_DIR}/ with {BIG_ENTRIES:,} entries, {NB_NAME} of {nb_bytes / 1e6:.2f} MB "
              f"({cells} cells), in {time.monotonic() - t0:.1f} s", file=sys.stderr)

        code_state = _code_state()  # what the servers load now; files may change during the run
        servers = make_servers(root, work, args.jupyter_python)
        for server in servers:
            server.start()
        deadline = time.monotonic() + START_DEADLINE
        for server in servers:
            server.wait_ready(deadline)
            print(f"{server.name} is up at {server.base}", file=sys.stderr)

        results: dict[str, dict[str, list[float]]] = {}
        for metric in metrics:
            if metric.key == "listing":
                path = f"/api/contents/{BIG_DIR}"
                results["listing"] = measure(metric, servers, args.rounds_scale,
                                             lambda s: timed(s, "GET", path), check_listing)
            elif metric.key == "listing-changed":
                # The listing a file browser gets right after something in the directory
                # changed: a server that reuses unchanged listings has to scan again.
                path = f"/api/contents/{BIG_DIR}"
                touched = os.path.join(root, BIG_DIR, "file-00000.txt")

                def touch_then_list(server: Server) -> tuple[float, requests.Response]:
                    os.utime(touched)  # before the clock starts
                    return timed(server, "GET", path)

                results["listing-changed"] = measure(metric, servers, args.rounds_scale, touch_then_list,
                                                     check_listing)
            elif metric.key == "get":
                path = f"/api/contents/{NB_NAME}"
                results["get"] = measure(metric, servers, args.rounds_scale,
                                         lambda s: timed(s, "GET", path), check_notebook(cells))
            elif metric.key == "put":
                # The same body, bytes made once, for both: the notebook as the reference
                # server's GET returned it (jupyter_server's when there is one).
                ref = servers[-1]
                r = ref.session.get(f"{ref.base}/api/contents/{NB_NAME}",
                                    timeout=REQUEST_TIMEOUT)
                expect(ref, r, "GET before PUT", check_notebook(cells))
                body = json.dumps({"type": "notebook", "format": "json", "content": r.json()["content"]}).encode()
                path = f"/api/contents/{NB_NAME}"
                results["put"] = measure(metric, servers, args.rounds_scale,
                                         lambda s: timed(s, "PUT", path, body), check_saved)
            elif metric.key == "put-edit":
                # An autosave after typing: each round changes a different cell, so a server
                # that reuses unchanged cells' work still has to redo the edited one.
                ref = servers[-1]
                r = ref.session.get(f"{ref.base}/api/contents/{NB_NAME}", timeout=REQUEST_TIMEOUT)
                expect(ref, r, "GET before PUT", check_notebook(cells))
                path = f"/api/contents/{NB_NAME}"
                results["put-edit"] = measure(metric, servers, args.rounds_scale,
                                              edited_saves(r.json()["content"], path), check_saved)

        header = ["flask-notebook vs jupyter_server benchmark"] + environment(
            jupyter_version, args.jupyter_python, code_state)
        header.append(f"files: {BIG_DIR}/ with {BIG_TXT:,} .txt, {BIG_IPYNB} .ipynb, {BIG_DIRS} directories; "
                      f"{NB_NAME} {nb_bytes / 1e6:.2f} MB, {cells} cells; rounds scale {args.rounds_scale:g}")
        table, all_pass = report(results, servers, header)
        table += f"\ntotal benchmark time {time.monotonic() - t0:.0f} s\n"
        write_table(table, args.output)
        if len(servers) == 2:
            print("ALL TARGETS PASS" if all_pass else "SOME TARGETS MISSED")
        return 0
    except (BenchError, KeyboardInterrupt) as exc:
        return failed(exc, servers)
    finally:
        clean_up(servers, root, work)


if __name__ == "__main__":
    sys.exit(main())
