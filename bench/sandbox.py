"""Benchmark the kernel sandbox: how much longer a sandboxed kernel takes to be ready.

Two flask-notebook servers on one temporary root, started as subprocesses: one plain, one with
``NOTEBOOK_KERNEL_SANDBOX=bubblewrap`` (every kernel in a bwrap sandbox confined to the root,
the server's own user's workspace; the same mounts a user's kernel gets). Round by round,
alternating which goes first, each is timed from ``POST /api/kernels`` until the kernel's
``kernel_info_reply`` arrives over a WebSocket opened at once (the moment a notebook can run
a cell). The kernel is shut down after each round, outside the timing.

The result is the ratio of medians, sandboxed / plain; the target is at most 1.15.

    .venv/bin/python bench/sandbox.py            # 3 warm-up rounds, 21 measured
    .venv/bin/python bench/sandbox.py --quick    # 1 + 3: does it work?
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import run  # bench/run.py: servers, their clean-up, the environment header
from kernels import Kernels, kernel_ready_rest  # bench/kernels.py: the kernel-ready measurement
from run import BenchError, Server

RESULTS = os.path.join(run.HERE, "results-sandbox-latest.txt")
TARGET = 1.15
PLAIN, SANDBOXED = "plain", "sandboxed (bubblewrap)"


def servers(root: str, work: str) -> list[Server]:
    plain = run.ours_server(root, work)
    plain.name = PLAIN
    boxed = run.ours_server(root, work)
    boxed.name = SANDBOXED
    boxed.env = {**run.server_env(work, "sandboxed"), "NOTEBOOK_KERNEL_SANDBOX": "bubblewrap"}
    boxed.log_path = os.path.join(work, "sandboxed.log")
    return [plain, boxed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 warm-up round and 3 measured: a check that it runs")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    warmup, rounds = (1, 3) if args.quick else (args.warmup, args.rounds)
    run.kill_leftovers()
    work = tempfile.mkdtemp(prefix=run.ROOT_PREFIX + "sandbox-")
    root = os.path.join(work, "root")
    os.makedirs(root)
    started: list[Server] = []
    kernels = Kernels(work)
    try:
        code_state = run._code_state()
        for server in servers(root, work):
            server.start()
            started.append(server)
        deadline = time.monotonic() + run.START_DEADLINE
        for server in started:
            server.wait_ready(deadline)
        results: dict[str, list[float]] = {server.name: [] for server in started}
        for i in range(warmup + rounds):
            for server in started[i % 2:] + started[:i % 2]:
                elapsed = kernel_ready_rest(kernels, server, server.name)
                if i >= warmup:
                    results[server.name].append(elapsed)
            print(".", end="", flush=True, file=sys.stderr)
        print(file=sys.stderr)
        lines = run.environment(None, None, code_state) + [
            "",
            f"kernel ready: POST /api/kernels until kernel_info_reply over a fresh WebSocket "
            f"({warmup} warm-up rounds, {rounds} measured, interleaved)",
            "",
            f"{'server':<28}{'median [p10-p90] ms':>32}",
        ]
        for name, samples in results.items():
            lines.append(f"{name:<28}{run.spread(samples):>32}")
        ratio = run.stats(results[SANDBOXED])[0] / run.stats(results[PLAIN])[0]
        lines += ["", run.verdict("sandboxed / plain", ratio, TARGET)]
        return run.finish(lines, RESULTS, ratio <= TARGET, args.quick)
    except BenchError as exc:
        return run.failed(exc, started)
    finally:
        run.clean_up(started, work, kernels=kernels)


if __name__ == "__main__":
    raise SystemExit(main())
