"""Two replicas behind nginx, one PostgreSQL store, one Enterprise Gateway (``conftest.py``):
any replica lists every session and kernel and serves any kernel's WebSocket, by forwarding
it to the kernel's holder (one connection to the gateway per kernel); a kernel shut down
through one is gone from the other; a replica killed (SIGKILL) loses no kernel: its clients,
and the other replica's clients of its kernels, reconnect through nginx to the other replica,
which takes the kernel over, on the same kernel, and get what they missed (the gateway kept it
for the dead holder's session), nothing twice."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg
import requests
import websocket

from ..support.env import AUTH, TOKEN
from ..support.kernel_client import Closed, KernelClient, replies_to, stdout_of
from ..support.runs import get_run, start_run, stream, write_notebook
from ..support.server import Server
from ..support.waiting import wait_for
from .conftest import Cluster


def through(cluster: Cluster, method: str, path: str, **kwargs: Any) -> requests.Response:
    assert cluster.nginx is not None
    return requests.request(method, cluster.nginx.url + path, headers=AUTH, timeout=60, **kwargs)


def ids(server: Server, path: str) -> set[str]:
    return {item["id"] for item in server.json("GET", path, 200)}


def state_on(server: Server, kernel_id: str) -> str:
    """The kernel's execution_state in `server`'s kernel list (its holder's, wherever it is
    held)."""
    (model,) = [k for k in server.json("GET", "api/kernels", 200) if k["id"] == kernel_id]
    return str(model["execution_state"])


def stderr_of(messages: list[dict[str, Any]]) -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream"
                   and m["content"]["name"] == "stderr")


def closed_by_server(client: KernelClient, timeout: float = 10) -> None:
    """Read until the server closes `client`'s WebSocket (or fail after `timeout` s)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            client.recv(left)
        except (Closed, websocket.WebSocketConnectionClosedException, ConnectionError):
            return
    raise AssertionError(f"the server kept the WebSocket open for {timeout} s")


def test_any_replica_lists_and_serves_every_kernel(cluster: Cluster) -> None:
    a, b = cluster.replicas["a"], cluster.replicas["b"]
    made = through(cluster, "POST", "api/sessions",
                   json={"path": "one.ipynb", "type": "notebook", "kernel": {"name": "python3"}})
    assert made.status_code == 201, made.text
    session_id, kernel_id = made.json()["id"], made.json()["kernel"]["id"]
    # Listed by both replicas, whichever nginx gave the POST to.
    assert session_id in ids(a, "api/sessions") and session_id in ids(b, "api/sessions")
    assert kernel_id in ids(a, "api/kernels") and kernel_id in ids(b, "api/kernels")
    held = {name: server.json("GET", "api/status", 200)["kernels"] for name, server in (("a", a), ("b", b))}
    (other,) = [name for name, count in held.items() if count == 0]  # the one that did not start it
    starter = cluster.replicas["b" if other == "a" else "a"]
    elsewhere = cluster.replicas[other]

    # A WebSocket on the replica that did not start the kernel: forwarded to the starter, which
    # holds the kernel; the kernel keeps one connection to the gateway.
    (remote_id,) = cluster.gateway.kernel_ids()
    client = elsewhere.client(kernel_id)
    assert stdout_of(client.run("x = 42\nprint('x is', x)")) == "x is 42\n"
    assert cluster.gateway.get(f"api/kernels/{remote_id}").json()["connections"] == 1
    assert elsewhere.json("GET", "api/status", 200)["kernels"] == 0  # not held there...
    (listed,) = [k for k in elsewhere.json("GET", "api/kernels", 200) if k["id"] == kernel_id]
    assert (listed["execution_state"], listed["connections"]) == ("idle", 1)  # ...but listed as its holder sees it
    (session,) = [s for s in elsewhere.json("GET", "api/sessions", 200) if s["id"] == session_id]
    assert (session["kernel"]["execution_state"], session["kernel"]["connections"]) == ("idle", 1)
    # Its REST requests are forwarded too: the holder's own model, its connection counted.
    model = elsewhere.kernel(kernel_id)
    assert (model["execution_state"], model["connections"]) == ("idle", 1)
    assert elsewhere.json("GET", f"api/sessions/{session_id}", 200)["kernel"]["id"] == kernel_id
    assert elsewhere.request("POST", f"api/kernels/{kernel_id}/interrupt").status_code == 204
    assert "could not be forwarded" not in elsewhere.log()
    for _ in range(2):  # through nginx, to each replica: the header a client sends is dropped
        assert requests.get(cluster.nginx.url + f"api/kernels/{kernel_id}", timeout=30,  # type: ignore[union-attr]
                            headers={**AUTH, "X-Notebook-Forwarded-By": "x"}).status_code == 200
    assert cluster.gateway.get(f"api/kernels/{remote_id}").json()["connections"] == 1
    # A request that says another replica forwarded it is served where it lands, never
    # forwarded again: by a connection of that replica's own.
    visited = elsewhere.request("GET", f"api/kernels/{kernel_id}", headers={**AUTH, "X-Notebook-Forwarded-By": "x"})
    assert visited.status_code == 200 and state_on(elsewhere, kernel_id) == "idle"
    assert cluster.gateway.get(f"api/kernels/{remote_id}").json()["connections"] == 2

    # Shut down through the starter: gone from the other too, which drops its copy.
    starter.json("DELETE", f"api/sessions/{session_id}", 204)
    wait_for(lambda: elsewhere.request("GET", f"api/kernels/{kernel_id}").status_code == 404, timeout=20)
    assert session_id not in ids(elsewhere, "api/sessions")
    assert kernel_id not in ids(elsewhere, "api/kernels")
    wait_for(lambda: kernel_id not in _gateway_kernels(cluster) or None, timeout=20)


def _gateway_kernels(cluster: Cluster) -> set[str]:
    return cluster.gateway.kernel_ids()


def test_a_killed_holder_s_clients_on_either_replica_get_what_they_missed(cluster: Cluster) -> None:
    """The kernel is used through both replicas: its holder, a, serves one client itself and
    another through replica b (forwarded), whose cell runs when a is killed. The gateway, whose
    only connection to the kernel was a's, keeps what the kernel sends for a's session; replica
    b takes the kernel over for the first client that reconnects through nginx and replays to
    each what it missed, once."""
    a, b = cluster.replicas["a"], cluster.replicas["b"]
    assert cluster.nginx is not None
    kernel_id = a.start_kernel(name="python3")
    (remote_id,) = cluster.gateway.kernel_ids()
    done = cluster.base / "cell-done"
    there = a.client(kernel_id)
    through_b = b.client(kernel_id)  # forwarded to a
    try:
        assert stdout_of(there.run("x = 42\nprint('before')")) == "before\n"
        assert stdout_of(through_b.run("print('x is', x)")) == "x is 42\n"
        assert cluster.gateway.get(f"api/kernels/{remote_id}").json()["connections"] == 1
        late = through_b.execute(f"import time\nprint('early', flush=True)\ntime.sleep(1)\nprint('late')\n"
                                 f"open({str(done)!r}, 'w').close()")
        through_b.until(lambda m: m["parent_header"].get("msg_id") == late and m["msg_type"] == "stream")
        a.proc.kill()  # SIGKILL: no goodbye
        a.proc.wait(timeout=10)
        # Replica b closes the client it forwarded to a: it reconnects.
        closed_by_server(through_b)
    finally:
        there.ws.shutdown()
        through_b.ws.shutdown()
    wait_for(done.exists, timeout=10)

    # Both reconnect with their session ids, through nginx: replica b serves them now.
    again_b = KernelClient(cluster.nginx.url, kernel_id, TOKEN, session_id=through_b.session_id)
    again_a = KernelClient(cluster.nginx.url, kernel_id, TOKEN, session_id=there.session_id)
    try:
        again_b.wait_ready()
        again_a.wait_ready()
        mine = replies_to(again_b, late)
        assert [m["content"]["status"] for m in mine if m["msg_type"] == "execute_reply"] == ["ok"]
        assert stdout_of(mine) == "late\n"  # what it missed, once; not 'early', which it had
        assert stdout_of(again_a.run("print('x is', x)")) == "x is 42\n"  # same kernel, its state kept
        assert "late" not in stdout_of(again_a.received) and "before" not in stdout_of(again_a.received)
        for client in (again_a, again_b):
            assert "Reconnected through another server replica" not in stderr_of(client.received)
        assert "taking over the session of the replica that held it" in b.log()
        assert "Replaying" in cluster.gateway.log()  # from what it kept for a's session
        assert cluster.gateway.get(f"api/kernels/{remote_id}").json()["connections"] == 1
    finally:
        again_a.close()
        again_b.close()

    # The kernel's record names its new holder: replica a, started again on its port, does not
    # re-attach it, and forwards its requests to b.
    with psycopg.connect(cluster.database_url.replace("postgresql+psycopg", "postgresql")) as db:
        wait_for(lambda: json.loads(db.execute("SELECT record FROM kernels WHERE id = %s",
                                               (kernel_id,)).fetchone()[0])["replica"] == "b", timeout=10)
        record = json.loads(db.execute("SELECT record FROM kernels WHERE id = %s", (kernel_id,)).fetchone()[0])
    assert record["url"] == f"http://127.0.0.1:{b.port}" and record["writer"] == b.proc.pid
    again = cluster.start("a", port=a.port)
    assert stdout_of(again.client(kernel_id).run("print(x + 1)")) == "43\n"
    assert again.json("GET", "api/status", 200)["kernels"] == 0  # held by b, not here
    assert cluster.gateway.get(f"api/kernels/{remote_id}").json()["connections"] == 1
    assert "could not be written" not in again.log() + b.log()


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


def test_a_killed_forwarding_replica_s_client_gets_what_it_missed_from_the_holder(cluster: Cluster) -> None:
    """Replica b forwards a client to the kernel's holder, a, and is killed while the client's
    cell runs: the client reconnects through nginx to a, whose relay kept what it missed for
    its session id."""
    a, b = cluster.replicas["a"], cluster.replicas["b"]
    assert cluster.nginx is not None
    kernel_id = a.start_kernel(name="python3")
    done = cluster.base / "cell-done"
    client = b.client(kernel_id)
    try:
        assert stdout_of(client.run("x = 42\nprint('before')")) == "before\n"
        late = client.execute(f"import time\nprint('early', flush=True)\ntime.sleep(1)\nprint('late')\n"
                              f"open({str(done)!r}, 'w').close()")
        client.until(lambda m: m["parent_header"].get("msg_id") == late and m["msg_type"] == "stream")
        b.proc.kill()
        b.proc.wait(timeout=10)
    finally:
        client.ws.shutdown()
    wait_for(done.exists, timeout=10)
    back = KernelClient(cluster.nginx.url, kernel_id, TOKEN, session_id=client.session_id)  # to a: b is dead
    try:
        back.wait_ready()
        mine = replies_to(back, late)
        assert [m["content"]["status"] for m in mine if m["msg_type"] == "execute_reply"] == ["ok"]
        assert stdout_of(mine) == "late\n"
        assert stdout_of(back.run("print('x is', x)")) == "x is 42\n"
        assert a.kernel(kernel_id)["connections"] == 1
    finally:
        back.close()


def test_runs_and_sessions_are_the_same_through_either_replica(cluster: Cluster) -> None:
    """A run of a kernel replica a holds, asked for through replica b, executes on a; its
    events, model, listing and cancel answer through b as through a. A notebook's session is
    one, whichever replica is asked for it."""
    a, b = cluster.replicas["a"], cluster.replicas["b"]
    made = a.json("POST", "api/sessions", 201, json={"path": "run.ipynb", "type": "notebook",
                                                     "kernel": {"name": "python3"}})
    again = b.json("POST", "api/sessions", 201, json={"path": "run.ipynb", "type": "notebook",
                                                      "kernel": {"name": "python3"}})
    assert (again["id"], again["kernel"]["id"]) == (made["id"], made["kernel"]["id"])
    assert len(cluster.gateway.kernel_ids()) == 1
    kernel_id = made["kernel"]["id"]
    write_notebook(cluster.root / "run.ipynb", "x = 6 * 7\nprint('x is', x)", "import time\ntime.sleep(30)")
    run = start_run(b, path="run.ipynb", kernel_id=kernel_id, cells=["c0"])
    events = stream(b, run["id"])  # through b, from a, to its end
    assert [name for _, name, _ in events][-1] == "done" and events[-1][2]["status"] == "completed"
    assert "x is 42" in json.dumps([data for _, name, data in events if name == "output"])
    assert get_run(b, run["id"])["status"] == "completed"
    assert f"run {run['id']} of run.ipynb completed" in a.log()  # executed there

    slow = start_run(b, path="run.ipynb", kernel_id=kernel_id, cells=["c1"])
    wait_for(lambda: get_run(b, slow["id"])["status"] == "running" or None, timeout=30)
    listed = b.json("GET", "api/runs", 200, params={"path": "run.ipynb", "status": "running"})
    assert [r["id"] for r in listed["runs"]] == [slow["id"]]
    cancelled = b.request("DELETE", f"api/runs/{slow['id']}")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled", cancelled.text


def test_a_run_whose_replica_dies_is_stopped_and_its_kernel_kept(cluster: Cluster) -> None:
    """Replica a runs a cell that does not end; a is killed. Asked through b, the run is
    stopped (ServerStopped, as a server's own runs are when it starts again), and its kernel,
    taken over by b, is interrupted in the cell, its variables kept."""
    a, b = cluster.replicas["a"], cluster.replicas["b"]
    kernel_id = a.start_kernel(name="python3")
    write_notebook(cluster.root / "long.ipynb", "x = 42", "import time\nwhile True:\n    time.sleep(0.1)")
    run = start_run(a, path="long.ipynb", kernel_id=kernel_id)
    wait_for(lambda: get_run(a, run["id"])["current_cell"] == "c1" or None, timeout=30)
    a.proc.kill()
    a.proc.wait(timeout=10)
    # Listed through b before anything there takes it over: its holder cannot be asked, so it
    # shows as its record tells, and b says why in a line.
    (listed,) = [k for k in b.json("GET", "api/kernels", 200) if k["id"] == kernel_id]
    assert listed["execution_state"] == "unknown"
    assert "could not be read" in b.log() and "Traceback" not in b.log()
    stopped = get_run(b, run["id"])
    assert stopped["status"] == "failed" and stopped["error"]["ename"] == "ServerStopped", stopped
    assert [r["status"] for r in b.json("GET", "api/runs", 200, params={"path": "long.ipynb"})["runs"]] == ["failed"]
    wait_for(lambda: b.kernel(kernel_id)["execution_state"] == "idle" or None, timeout=30)  # interrupted
    client = b.client(kernel_id)
    assert stdout_of(client.run("print('x is', x)")) == "x is 42\n"
