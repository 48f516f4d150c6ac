"""Where the v1 round trip's overhead comes from: flask-notebook against a bare relay.

    .venv/bin/python bench/relay_floor.py [--kernels 8] [--blocks 15]

bench/kernels.py measures flask-notebook's `1+1` round trip against a direct ZMQ client (the
floor). This measures, on the *same* kernel, three clients in turn:

- the floor: plain pyzmq straight to the kernel (bench/kernels.py's `ZmqClient`);
- flask-notebook, v1 WebSocket (bench/kernels.py's `WsClient`);
- a bare relay (bench/bare_relay.py): gevent, pyzmq and a hand-written WebSocket, with no
  JSON parsing, routing, kernel model, queues or replay. It pays only what any relay on
  gevent and libzmq pays, two more hops each way (client -> relay -> libzmq's I/O thread
  -> kernel, and back), so its ratio is the floor of the design, not of our code.

Each kernel is measured twice: first as the machine is (its idle CPUs halt), then with one
busy loop per CPU at `nice 19` (idle CPUs never halt, as on hosts that poll before halting).
Sharing one kernel takes the kernel-to-kernel spread (5%) out of the ratios. But every
client's kernel messages also reach the others' relays, whose work would slow the one being
measured: so while one client's block of round trips runs, the other relay processes are
stopped (SIGSTOP). Before each block they continue and catch up, and every client reads its
leftovers, until a quiet 60 ms (flask-notebook flushes onlooker output every 50 ms); then 3
round trips not counted, then the block. The direct client's ZMQ I/O thread, in this process,
still receives the relays' messages (C, no Python): if anything, that slows the relays.
Also reported: each relay process's CPU time per round trip (user + system, its own blocks).

See bench/README.md, "The floor of the design".
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import orjson

import kernels as K  # bench/kernels.py
import run
from run import BenchError

RESULTS = os.path.join(run.HERE, "results-relay-floor-latest.txt")
BARE = K.BARE
LABELS = (K.FLOOR, K.OURS_V1, BARE)
CONDITIONS = ("idle CPUs halt", "idle CPUs busy (nice 19 loops)")
BLOCK = 20
#: Before each block: a quiet spell in which the others' leftovers are read, then a few
#: round trips not counted (the quiet lets the CPUs go idle; bench/kernels.py measures warm).
QUIET = 0.06
BLOCK_WARMUP = 3
WARMUP = 20


def busy_loops() -> list[subprocess.Popen[bytes]]:
    """One `nice 19` busy loop per usable CPU: they take only what nothing else wants."""
    return [subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", "while True: pass"])
            for _ in os.sched_getaffinity(0)]


def measure(clients: dict[str, K.Client], relays: dict[str, int], blocks: int
            ) -> tuple[dict[str, float], dict[str, float]]:
    """Each client's median round trip (ms), and each relay process's CPU per round trip (µs):
    `blocks` blocks of BLOCK per client, in rotating order, the other relays stopped meanwhile."""
    times: dict[str, list[float]] = {label: [] for label in clients}
    cpu = dict.fromkeys(relays, 0.0)
    try:
        for i in range(blocks):
            for label in K.rotated(list(clients), i):
                for pid in relays.values():
                    os.kill(pid, signal.SIGCONT)
                for client in clients.values():  # everyone catches up on the others' messages
                    K.drain(client, QUIET)
                for other, pid in relays.items():
                    if other != label:
                        os.kill(pid, signal.SIGSTOP)
                K.round_trips(clients[label], BLOCK_WARMUP)
                before = K.cpu_seconds(relays[label]) if label in relays else 0.0
                times[label].extend(K.round_trips(clients[label], BLOCK))
                if label in relays:
                    cpu[label] += K.cpu_seconds(relays[label]) - before
    finally:
        for pid in relays.values():
            with contextlib.suppress(ProcessLookupError):  # (a relay that died: the error says so)
                os.kill(pid, signal.SIGCONT)
    return ({label: statistics.median(t) for label, t in times.items()},
            {label: c * 1e6 / (blocks * BLOCK) for label, c in cpu.items()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernels", type=int, default=8, help="kernels, each measured in both conditions (default 8)")
    parser.add_argument("--blocks", type=int, default=15,
                        help=f"blocks of {BLOCK} round trips per client, kernel and condition (default 15)")
    parser.add_argument("--output", default=RESULTS, help=f"where to write the table (default {os.path.relpath(RESULTS)})")
    args = parser.parse_args(argv)
    if args.kernels < 1 or args.blocks < 1:
        parser.error("--kernels and --blocks must be at least 1")

    run.kill_leftovers()
    root = tempfile.mkdtemp(prefix=run.ROOT_PREFIX)
    work = tempfile.mkdtemp(prefix=run.ROOT_PREFIX + "work-")
    os.environ.clear()
    os.environ.update(run.server_env(work, "direct"))
    kernels = K.Kernels(work)
    ours = run.ours_server(root, work)
    loops: list[subprocess.Popen[bytes]] = []
    clients: list[K.Client] = []
    signal.signal(signal.SIGTERM, K._interrupt)
    # ratios[condition][label]: one per kernel
    ratios: dict[str, dict[str, list[float]]] = {c: {label: [] for label in LABELS[1:]} for c in CONDITIONS}
    cpus: dict[str, dict[str, list[float]]] = {c: {label: [] for label in LABELS[1:]} for c in CONDITIONS}
    floors: dict[str, list[float]] = {c: [] for c in CONDITIONS}
    try:
        t0 = time.monotonic()
        code_state = run._code_state()
        ours.start()
        ours.wait_ready(time.monotonic() + run.START_DEADLINE)
        for k in range(args.kernels):
            kernel_id = kernels.start_rest(ours)
            connection_file = os.path.join(work, "ours", "runtime", f"kernel-{kernel_id}.json")
            bare, bare_client = K.open_bare_relay(kernels, work, connection_file, BARE)
            with open(connection_file, "rb") as f:
                info: dict[str, Any] = orjson.loads(f.read())
            fresh: dict[str, K.Client] = {
                K.FLOOR: K.ZmqClient(K.FLOOR, info),
                K.OURS_V1: K.WsClient(K.OURS_V1, ours, kernel_id, K.V1),
                BARE: bare_client,
            }
            clients += fresh.values()
            for client in fresh.values():
                client.wait_ready()
                K.round_trips(client, WARMUP)
            for condition in CONDITIONS:
                if condition == CONDITIONS[1]:
                    loops = busy_loops()
                medians, cpu = measure(fresh, {K.OURS_V1: ours.proc.pid, BARE: bare.pid}, args.blocks)
                for proc in loops:
                    proc.kill()
                    proc.wait()
                loops = []
                floors[condition].append(medians[K.FLOOR])
                for label in LABELS[1:]:
                    ratios[condition][label].append(medians[label] / medians[K.FLOOR])
                    cpus[condition][label].append(cpu[label])
                K.progress(".")
            for client in fresh.values():
                client.close()
                clients.remove(client)
            bare.kill()
            bare.wait()
            kernels.stop_rest(ours, kernel_id)
            kernels.forget_dead()
        K.progress("\n")

        lines = ["the v1 round trip's floor: flask-notebook vs a bare relay, on the same kernels"]
        lines += run.environment(None, None, code_state)
        lines += [f"{args.kernels} kernels; per kernel and condition, {args.blocks} blocks of {BLOCK} `1+1` round trips "
                  f"per client in rotating order; ratios to the direct ZMQ client's median on the same kernel", ""]
        for condition in CONDITIONS:
            lines.append(f"{condition}: direct ZMQ median {statistics.median(floors[condition]):.2f} ms")
            for label in LABELS[1:]:
                r = ratios[condition][label]
                lines.append(f"  {label:<22} {statistics.median(r):.3f} x floor   per kernel "
                             + " ".join(f"{x:.3f}" for x in r))
            lines.append("  relay CPU per round trip: " + ", ".join(
                f"{label} {statistics.median(cpus[condition][label]):.0f} µs" for label in LABELS[1:]))
            lines.append("")
        lines.append("target (bench/kernels.py): flask-notebook v1 <= 1.10 x floor")
        lines.append(f"total time {time.monotonic() - t0:.0f} s")
        run.write_table("\n".join(lines) + "\n", args.output)
        return 0
    except (BenchError, KeyboardInterrupt) as exc:
        return run.failed(exc, [ours])
    finally:
        for proc in loops:
            proc.kill()
        for client in clients:
            client.close()
        run.clean_up([ours], root, work, kernels=kernels)


if __name__ == "__main__":
    sys.exit(main())
