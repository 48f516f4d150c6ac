"""Benchmark runs (issue 20): a notebook run by the server against papermill's CLI, and a run's
cost per cell against bare REST executions of the same code.

1. **Notebook to an output path.** A notebook of trivial cells (``x0 = 0``, ``x1 = 1``, ...),
   run to an output path on a new kernel: ``POST /api/runs`` with ``output_path`` until the
   run's ``done`` event (kernel start, every cell, the saves and the kernel's shutdown
   included) against ``papermill IN OUT -k python3`` (kernel start, every cell, its saves and
   the interpreter's start), in rounds that alternate which goes first. Target: ours at most
   0.5 times papermill's wall time.
2. **Per-cell overhead.** On one warm kernel: a run of the same notebook with ``kernel_id``
   (until ``done``), against the same cells' code sent as one ``POST
   /api/kernels/<id>/execute`` each, one after the other, each waited for. Target: the run at
   most 1.2 times the bare executions.

    .venv/bin/python bench/runs.py             # 1 warm-up round, 9 measured; 200 cells
    .venv/bin/python bench/runs.py --quick     # 1 + 2 rounds: does it work?

papermill comes from the benchmark's environment (``.venv-bench``, bench/requirements.txt):
``--papermill`` names another.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import nbformat

import run  # bench/run.py: servers, their clean-up, the environment header
from run import BenchError, Server

RESULTS = os.path.join(run.HERE, "results-runs-latest.txt")
NOTEBOOK_TARGET = 0.5
PER_CELL_TARGET = 1.2
RUN_TIMEOUT = 300.0
HTTP_TIMEOUT = 60.0
DEFAULT_PAPERMILL = os.path.join(run.REPO, ".venv-bench", "bin", "papermill")


def make_notebook(path: str, cells: int) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(f"x{i} = {i}") for i in range(cells)]
    nbformat.write(nb, path)


def wait_for_run(server: Server, run_id: str) -> dict[str, Any]:
    """Follow the run's event stream until its ``done`` event; the final run model."""
    with server.session.get(f"{server.base}/api/runs/{run_id}", headers={"Accept": "text/event-stream"},
                            stream=True, timeout=RUN_TIMEOUT) as r:
        if r.status_code != 200:
            raise BenchError(f"GET /api/runs/{run_id} (stream) answered {r.status_code}: {r.text[:300]}")
        event = None
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:") and event == "done":
                model: dict[str, Any] = json.loads(line.partition(":")[2])
                return model
    raise BenchError(f"run {run_id}: the stream ended without a done event")


def start_run(server: Server, body: dict[str, Any]) -> str:
    r = server.session.post(f"{server.base}/api/runs", json=body, timeout=HTTP_TIMEOUT)
    if r.status_code != 202:
        raise BenchError(f"POST /api/runs answered {r.status_code}: {r.text[:300]}")
    run_id: str = r.json()["id"]
    return run_id


def completed(model: dict[str, Any], cells: int) -> None:
    if model.get("status") != "completed" or model.get("cells_done") != cells:
        raise BenchError(f"the run ended {model.get('status')} after {model.get('cells_done')} of {cells} cells: "
                         f"{model.get('error')}")


def ours_to_output(server: Server, root: str, cells: int, n: int) -> float:
    """Seconds from POST /api/runs (a new kernel, an output path) until its done event."""
    output = f"out-ours-{n}.ipynb"
    start = time.perf_counter()
    run_id = start_run(server, {"path": "bench.ipynb", "output_path": output, "kernel_name": "python3"})
    model = wait_for_run(server, run_id)
    elapsed = time.perf_counter() - start
    completed(model, cells)
    check_output(os.path.join(root, output), cells)
    return elapsed


def papermill_to_output(papermill: str, root: str, work: str, cells: int, n: int) -> float:
    output = os.path.join(root, f"out-papermill-{n}.ipynb")
    env = {**run.server_env(work, "papermill"), "PATH": os.path.dirname(papermill) + os.pathsep + os.environ["PATH"]}
    start = time.perf_counter()
    done = subprocess.run([papermill, "--no-progress-bar", os.path.join(root, "bench.ipynb"), output, "-k", "python3"],
                          env=env, cwd=root, capture_output=True, timeout=RUN_TIMEOUT)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise BenchError(f"papermill exited {done.returncode}: {done.stderr.decode(errors='replace')[-600:]}")
    check_output(output, cells)
    return elapsed


def check_output(path: str, cells: int) -> None:
    """The executed copy has every cell executed, in order."""
    nb = nbformat.read(path, as_version=4)
    counts = [cell.get("execution_count") for cell in nb.cells if cell.cell_type == "code"]
    if len(counts) != cells or any(count is None for count in counts):
        raise BenchError(f"{path}: {sum(c is not None for c in counts)} of {cells} cells executed")


def run_on_kernel(server: Server, kernel_id: str, cells: int) -> float:
    start = time.perf_counter()
    run_id = start_run(server, {"path": "bench.ipynb", "kernel_id": kernel_id, "output_path": "out-warm.ipynb"})
    model = wait_for_run(server, run_id)
    elapsed = time.perf_counter() - start
    completed(model, cells)
    return elapsed


def bare_executions(server: Server, kernel_id: str, cells: int) -> float:
    start = time.perf_counter()
    for i in range(cells):
        r = server.session.post(f"{server.base}/api/kernels/{kernel_id}/execute", json={"code": f"x{i} = {i}"},
                                timeout=HTTP_TIMEOUT)
        if r.status_code != 200 or r.json().get("status") != "ok":
            raise BenchError(f"POST /api/kernels/{kernel_id}/execute answered {r.status_code}: {r.text[:300]}")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 warm-up round and 2 measured: a check that it runs")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--papermill", default=DEFAULT_PAPERMILL, help="papermill's command (default: .venv-bench's)")
    args = parser.parse_args(argv)
    warmup, rounds = (1, 2) if args.quick else (args.warmup, args.rounds)
    if not os.access(args.papermill, os.X_OK):
        print(f"bench/runs.py: no papermill at {args.papermill} (make bench-runs installs it)", file=sys.stderr)
        return 2
    run.kill_leftovers()
    work = tempfile.mkdtemp(prefix=run.ROOT_PREFIX + "runs-")
    root = os.path.join(work, "root")
    os.makedirs(root)
    make_notebook(os.path.join(root, "bench.ipynb"), args.cells)
    started: list[Server] = []
    try:
        code_state = run._code_state()
        server = run.ours_server(root, work)
        server.start()
        started.append(server)
        server.wait_ready(time.monotonic() + run.START_DEADLINE)
        ours: list[float] = []
        theirs: list[float] = []
        for i in range(warmup + rounds):
            pair = [lambda: ours_to_output(server, root, args.cells, i),
                    lambda: papermill_to_output(args.papermill, root, work, args.cells, i)]
            if i % 2:
                pair.reverse()
            first, second = (f() for f in pair)
            ours_time, papermill_time = (first, second) if i % 2 == 0 else (second, first)
            if i >= warmup:
                ours.append(ours_time)
                theirs.append(papermill_time)
            print(".", end="", flush=True, file=sys.stderr)
        r = server.session.post(f"{server.base}/api/kernels", json={"name": "python3"}, timeout=HTTP_TIMEOUT)
        if r.status_code != 201:
            raise BenchError(f"POST /api/kernels answered {r.status_code}: {r.text[:300]}")
        kernel_id = r.json()["id"]
        runs_warm: list[float] = []
        bare: list[float] = []
        for i in range(warmup + rounds):
            pair2 = [lambda: run_on_kernel(server, kernel_id, args.cells),
                     lambda: bare_executions(server, kernel_id, args.cells)]
            if i % 2:
                pair2.reverse()
            first, second = (f() for f in pair2)
            run_time, bare_time = (first, second) if i % 2 == 0 else (second, first)
            if i >= warmup:
                runs_warm.append(run_time)
                bare.append(bare_time)
            print(".", end="", flush=True, file=sys.stderr)
        print(file=sys.stderr)
        lines = run.environment(None, None, code_state) + [
            f"papermill: {subprocess.run([args.papermill, '--version'], capture_output=True, text=True).stdout.strip()}",
            "",
            f"1. a {args.cells}-cell notebook of trivial cells to an output path, new kernel "
            f"({warmup} warm-up rounds, {rounds} measured, alternating)",
            "",
            f"{'':<34}{'median [p10-p90] s':>28}",
        ]
        for name, samples in (("flask-notebook POST /api/runs", ours), ("papermill CLI", theirs)):
            lines.append(f"{name:<34}{run.spread(samples, digits=2):>28}")
        ratio1 = run.stats(ours)[0] / run.stats(theirs)[0]
        lines += ["", run.verdict("flask-notebook / papermill", ratio1, NOTEBOOK_TARGET), "",
                  f"2. per cell on one warm kernel: a run of the {args.cells} cells against the same code as "
                  f"{args.cells} REST executions in turn", "",
                  f"{'':<34}{'median [p10-p90] ms per cell':>28}"]
        for name, samples in (("run (kernel_id)", runs_warm), ("bare REST executions", bare)):
            lines.append(f"{name:<34}{run.spread(samples, 1000 / args.cells, 2):>28}")
        ratio2 = run.stats(runs_warm)[0] / run.stats(bare)[0]
        lines += ["", run.verdict("run / bare executions", ratio2, PER_CELL_TARGET)]
        return run.finish(lines, RESULTS, ratio1 <= NOTEBOOK_TARGET and ratio2 <= PER_CELL_TARGET, args.quick)
    except BenchError as exc:
        return run.failed(exc, started)
    finally:
        run.clean_up(started, work)


if __name__ == "__main__":
    raise SystemExit(main())
