"""Benchmark the sessions API under concurrency: flask-notebook (its sessions in the store,
SQLite by default) against jupyter_server 2.21 (its default in-memory SQLite session store),
in one run.

Each round, 32 client threads (a keep-alive connection each) create sessions on ONE kernel
started beforehand per server and round (``"kernel": {"id": ...}``, so no kernel start is
measured), then
list them: a round is ``POST /api/sessions`` x (32 x --per-client), then ``GET /api/sessions``
x the same count, each phase timed as operations per second. The sessions are deleted after
each round (not timed), which shuts their kernel down: the next round starts another. Rounds alternate which server goes first. What matters is the ratio
ours / theirs of operations per second (higher is better), not absolute numbers (a shared
2-core machine, and the clients in the same machine).

    .venv/bin/python bench/sessions.py --jupyter-python .venv-bench/bin/python
    .venv/bin/python bench/sessions.py --jupyter-python .venv-bench/bin/python --quick

See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable

import requests

import run  # bench/run.py: servers, their clean-up, the environment header
from run import BenchError, Server

RESULTS = os.path.join(run.HERE, "results-sessions-latest.txt")
CLIENTS = 32
HTTP_TIMEOUT = 60.0


def _session(server: Server) -> requests.Session:
    """A keep-alive connection of its own, with the server's token."""
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"token {server.token}"
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1)
    session.mount("http://", adapter)
    return session


def _concurrently(clients: list[requests.Session], work: Callable[[int, requests.Session], None]) -> float:
    """Run ``work(i, client)`` in one thread per client, all released at once; the seconds
    from the release until the last one ended. :raises BenchError: one of them failed."""
    barrier = threading.Barrier(len(clients) + 1)
    errors: list[BaseException] = []

    def body(i: int, client: requests.Session) -> None:
        barrier.wait(timeout=HTTP_TIMEOUT)
        try:
            work(i, client)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i, c), daemon=True) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=HTTP_TIMEOUT)
    start = time.perf_counter()
    for thread in threads:
        thread.join(timeout=600)
    elapsed = time.perf_counter() - start
    if errors:
        raise BenchError(str(errors[0]))
    return elapsed


def one_round(server: Server, clients: list[requests.Session], kernel_id: str, per_client: int) -> tuple[float, float]:
    """(POST /api/sessions per second, GET /api/sessions per second) of one round."""
    created: list[list[str]] = [[] for _ in clients]
    tag = uuid.uuid4().hex[:8]

    def create(i: int, client: requests.Session) -> None:
        for n in range(per_client):
            r = client.post(f"{server.base}/api/sessions", timeout=HTTP_TIMEOUT,
                            json={"path": f"bench/{tag}-{i}-{n}.ipynb", "name": f"{tag}-{i}-{n}.ipynb",
                                  "type": "notebook", "kernel": {"id": kernel_id}})
            if r.status_code != 201:
                raise BenchError(f"{server.name}: POST /api/sessions answered {r.status_code}: {r.text[:300]}")
            created[i].append(r.json()["id"])

    def list_all(i: int, client: requests.Session) -> None:
        for _ in range(per_client):
            r = client.get(f"{server.base}/api/sessions", timeout=HTTP_TIMEOUT)
            if r.status_code != 200 or len(r.json()) < len(clients) * per_client:
                raise BenchError(f"{server.name}: GET /api/sessions answered {r.status_code}: {r.text[:300]}")

    count = len(clients) * per_client
    post_rate = count / _concurrently(clients, create)
    get_rate = count / _concurrently(clients, list_all)

    def delete(i: int, client: requests.Session) -> None:
        for session_id in created[i]:
            r = client.delete(f"{server.base}/api/sessions/{session_id}", timeout=HTTP_TIMEOUT)
            # The first delete shuts the kernel down (both servers do); jupyter_server then
            # drops the kernel's other sessions itself, and answers 404 for them.
            if r.status_code not in (204, 404):
                raise BenchError(f"{server.name}: DELETE /api/sessions answered {r.status_code}: {r.text[:300]}")

    _concurrently(clients, delete)
    left = clients[0].get(f"{server.base}/api/sessions", timeout=HTTP_TIMEOUT).json()
    if left:
        raise BenchError(f"{server.name}: {len(left)} sessions left after deleting them all")
    return post_rate, get_rate


def start_kernel(server: Server) -> str:
    r = server.session.post(f"{server.base}/api/kernels", json={"name": "python3"}, timeout=HTTP_TIMEOUT)
    if r.status_code != 201:
        raise BenchError(f"{server.name}: POST /api/kernels answered {r.status_code}: {r.text[:300]}")
    return str(r.json()["id"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jupyter-python", required=True, help="the Python that has jupyter_server (.venv-bench's)")
    parser.add_argument("--quick", action="store_true", help="1 warm-up round and 2 measured: a check that it runs")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--per-client", type=int, default=10, help="sessions each client creates (and lists) a round")
    args = parser.parse_args(argv)
    warmup, rounds = (1, 2) if args.quick else (args.warmup, args.rounds)
    started: list[Server] = []
    clients: dict[str, list[requests.Session]] = {}
    work = None
    try:
        version = run.check_jupyter_python(args.jupyter_python)
        run.kill_leftovers()
        work = tempfile.mkdtemp(prefix=run.ROOT_PREFIX + "sessions-")
        root = os.path.join(work, "root")
        os.makedirs(os.path.join(root, "bench"))
        code_state = run._code_state()
        servers = run.make_servers(root, work, args.jupyter_python)
        for server in servers:
            server.start()
            started.append(server)
        for server in servers:
            server.wait_ready(time.monotonic() + run.START_DEADLINE)
            clients[server.name] = [_session(server) for _ in range(CLIENTS)]
        results: dict[str, dict[str, list[float]]] = {s.name: {"post": [], "get": []} for s in servers}
        for i in range(warmup + rounds):
            order = servers if i % 2 == 0 else servers[::-1]
            for server in order:
                # A kernel of the round's, started before the clock (deleting the sessions ends it).
                kernel_id = start_kernel(server)
                post, get = one_round(server, clients[server.name], kernel_id, args.per_client)
                if i >= warmup:
                    results[server.name]["post"].append(post)
                    results[server.name]["get"].append(get)
            print(".", end="", flush=True, file=sys.stderr)
        print(file=sys.stderr)
        ours, theirs = (results[s.name] for s in servers)
        lines = run.environment(version, args.jupyter_python, code_state) + [
            "",
            f"sessions on one pre-started kernel per server, {CLIENTS} concurrent keep-alive clients, "
            f"{CLIENTS * args.per_client} sessions a round ({warmup} warm-up rounds, {rounds} measured, alternating)",
            "",
            f"{'operations per second':<34}{servers[0].name + ' median [p10-p90]':>34}{servers[1].name + ' median [p10-p90]':>34}",
        ]
        for key, label in (("post", "POST /api/sessions"), ("get", "GET /api/sessions")):
            lines.append(f"{label:<34}{run.spread(ours[key]):>34}{run.spread(theirs[key]):>34}")
        lines.append("")
        for key, label in (("post", "POST"), ("get", "GET")):
            ratio = run.stats(ours[key])[0] / run.stats(theirs[key])[0]
            lines.append(f"ours / theirs, {label} /api/sessions per second: {ratio:.3f} (higher is better)")
        if args.quick:
            lines.append("(--quick: too few rounds to judge)")
        run.write_table("\n".join(lines) + "\n", RESULTS)
        return 0
    except BenchError as exc:
        return run.failed(exc, started)
    finally:
        for client_list in clients.values():
            for client in client_list:
                client.close()
        run.clean_up(started, work)


if __name__ == "__main__":
    sys.exit(main())
