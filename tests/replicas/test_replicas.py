"""Two replicas behind nginx, one PostgreSQL store, one Enterprise Gateway (``conftest.py``):
any replica lists every session and kernel and serves any kernel's WebSocket; a kernel shut
down through one is gone from the other; a replica killed (SIGKILL) loses no kernel: its
clients reconnect through nginx to the other, on the same kernel, and get what they missed
when the dead replica was the kernel's only connection to the gateway (the gateway kept it
for that replica's session), else are told that nothing is replayed (never sent twice)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import requests

from ..support.env import AUTH, TOKEN
from ..support.kernel_client import KernelClient, replies_to, stdout_of
from ..support.server import Server
from ..support.waiting import wait_for
from .conftest import Cluster


def through(cluster: Cluster, method: str, path: str, **kwargs: Any) -> requests.Response:
    assert cluster.nginx is not None
    return requests.request(method, cluster.nginx.url + path, headers=AUTH, timeout=60, **kwargs)


def ids(server: Server, path: str) -> set[str]:
    return {item["id"] for item in server.json("GET", path, 200)}


def state_on(server: Server, kernel_id: str) -> str:
    """The kernel's execution_state in `server`'s kernel list ("unknown": listed from its
    record, not held there)."""
    (model,) = [k for k in server.json("GET", "api/kernels", 200) if k["id"] == kernel_id]
    return str(model["execution_state"])


def stderr_of(messages: list[dict[str, Any]]) -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream"
                   and m["content"]["name"] == "stderr")


def test_any_replica_lists_and_serves_every_kernel(cluster: Cluster) -> None:
    a, b = cluster.replicas["a"], cluster.replicas["b"]
    made = through(cluster, "POST", "api/sessions",
                   json={"path": "one.ipynb", "type": "notebook", "kernel": {"name": "python3"}})
    assert made.status_code == 201, made.text
    session_id, kernel_id = made.json()["id"], made.json()["kernel"]["id"]
    # Listed by both replicas, whichever nginx gave the POST to.
    assert session_id in ids(a, "api/sessions") and session_id in ids(b, "api/sessions")
    assert kernel_id in ids(a, "api/kernels") and kernel_id in ids(b, "api/kernels")
    states = {name: state_on(server, kernel_id) for name, server in (("a", a), ("b", b))}
    (other,) = [name for name, found in states.items() if found == "unknown"]  # the one that did not start it
    starter = cluster.replicas["b" if other == "a" else "a"]
    elsewhere = cluster.replicas[other]

    # A WebSocket on the replica that did not start the kernel: it adopts it from the store.
    client = elsewhere.client(kernel_id)
    assert stdout_of(client.run("x = 42\nprint('x is', x)")) == "x is 42\n"
    assert state_on(elsewhere, kernel_id) == "idle"
    assert elsewhere.json("GET", f"api/sessions/{session_id}", 200)["kernel"]["id"] == kernel_id

    # Shut down through the starter: gone from the other too, which drops its copy.
    starter.json("DELETE", f"api/sessions/{session_id}", 204)
    wait_for(lambda: elsewhere.request("GET", f"api/kernels/{kernel_id}").status_code == 404, timeout=20)
    assert session_id not in ids(elsewhere, "api/sessions")
    assert kernel_id not in ids(elsewhere, "api/kernels")
    wait_for(lambda: kernel_id not in _gateway_kernels(cluster) or None, timeout=20)


def _gateway_kernels(cluster: Cluster) -> set[str]:
    return cluster.gateway.kernel_ids()


def test_a_killed_replica_s_clients_continue_on_the_other(cluster: Cluster) -> None:
    a, b = cluster.replicas["a"], cluster.replicas["b"]
    assert cluster.nginx is not None
    kernel_id = a.start_kernel(name="python3")
    onlooker = b.client(kernel_id)  # replica b holds the kernel too (a second bridge to the gateway)

    # A client through nginx, on replica a (round robin: try again until it lands there).
    def on_a() -> KernelClient | None:
        client = KernelClient(cluster.nginx.url, kernel_id, TOKEN)  # type: ignore[union-attr]
        client.wait_ready()
        if a.kernel(kernel_id)["connections"] == 1:
            return client
        client.close()
        return None

    client = wait_for(on_a, timeout=30)
    try:
        assert stdout_of(client.run("x = 42\nprint('before')")) == "before\n"
        late = client.execute("import time\ntime.sleep(1.5)\nprint('late')")
        client.until(lambda m: m["parent_header"].get("msg_id") == late and m["msg_type"] == "execute_input")
        a.proc.kill()  # SIGKILL: no goodbye
        a.proc.wait(timeout=10)
        # Replica b sees the kernel finish the request replica a's client sent.
        try:
            onlooker.until(lambda m: m["msg_type"] == "stream" and m["content"]["text"] == "late\n", timeout=10)
        except Exception:
            print("ONLOOKER", [(m["msg_type"], m["content"]) for m in onlooker.received])
            raise
    finally:
        client.ws.shutdown()

    # The client reconnects with its session id, through nginx: replica b serves it.
    back = KernelClient(cluster.nginx.url, kernel_id, TOKEN, session_id=client.session_id)
    try:
        back.wait_ready()
        ran = back.run("print('x is', x)")
        assert stdout_of(ran) == "x is 42\n"  # same kernel, its state kept
        # Told once that nothing is replayed; nothing it had, or missed, comes twice or late.
        assert stderr_of(back.received).count("Reconnected through another server replica") == 1
        assert "before" not in stdout_of(back.received) and "late" not in stdout_of(back.received)
        assert b.kernel(kernel_id)["connections"] == 2  # the onlooker and the client
    finally:
        back.close()

    # Replica a started again on its port: it re-attaches its kernel (its record), and
    # serves it beside b.
    again = cluster.start("a", port=a.port)
    wait_for(lambda: state_on(again, kernel_id) in ("idle", "busy") or None, timeout=30)
    assert stdout_of(again.client(kernel_id).run("print(x + 1)")) == "43\n"
    # Its record is written anew, by this process: a record left naming the dead one would let
    # a later server take the kernel for a crash's leftover (its key was bytes: not JSON).
    with psycopg.connect(cluster.database_url.replace("postgresql+psycopg", "postgresql")) as db:
        wait_for(lambda: json.loads(db.execute("SELECT record FROM kernels WHERE id = %s",
                                               (kernel_id,)).fetchone()[0])["writer"] == again.proc.pid,
                 timeout=10)
    assert "could not be written" not in again.log()


def test_a_killed_replica_s_client_gets_what_it_missed_from_the_other(cluster: Cluster) -> None:
    """Replica a alone serves the kernel; it is killed while a cell runs. The gateway keeps what
    the kernel sends for a's connection (its session is a's, the same every time); replica b,
    adopting the kernel for the client that reconnects through nginx, takes that session over
    once nobody is connected, and replays to the client exactly what it missed: the rest of the
    cell's output and its reply, nothing twice."""
    a = cluster.replicas["a"]
    assert cluster.nginx is not None
    kernel_id = a.start_kernel(name="python3")
    (remote_id,) = cluster.gateway.kernel_ids()
    done = cluster.base / "cell-done"
    client = a.client(kernel_id)  # straight to a: b never sees this kernel before a dies
    try:
        assert stdout_of(client.run("x = 42\nprint('before')")) == "before\n"
        late = client.execute(f"import time\nprint('early', flush=True)\ntime.sleep(1)\nprint('late')\n"
                              f"open({str(done)!r}, 'w').close()")
        client.until(lambda m: m["parent_header"].get("msg_id") == late and m["msg_type"] == "stream")
        a.proc.kill()  # SIGKILL: no goodbye
        a.proc.wait(timeout=10)
    finally:
        client.ws.shutdown()
    # The gateway saw a's connection go, and kept what the kernel sent after: the rest of the
    # cell, its reply and its idle, all before any replica connects again.
    wait_for(lambda: cluster.gateway.get(f"api/kernels/{remote_id}").json()["connections"] == 0, timeout=10)
    wait_for(done.exists, timeout=10)
    wait_for(lambda: cluster.gateway.get(f"api/kernels/{remote_id}").json()["execution_state"] == "idle", timeout=10)

    back = KernelClient(cluster.nginx.url, kernel_id, TOKEN, session_id=client.session_id)
    try:
        back.wait_ready()
        mine = replies_to(back, late)
        assert [m["content"]["status"] for m in mine if m["msg_type"] == "execute_reply"] == ["ok"]
        assert stdout_of(mine) == "late\n"  # what it missed, once; not 'early', which it had
        assert stdout_of(back.run("print('x is', x)")) == "x is 42\n"
        assert "Reconnected through another server replica" not in stderr_of(back.received)
        assert "taking over the session of the replica that held it" in cluster.replicas["b"].log()
        assert "Replaying" in cluster.gateway.log()  # from what it kept for a's session
    finally:
        back.close()
