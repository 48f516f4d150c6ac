"""Kernels, sessions, executions, kernel WebSockets and their replay, terminals and events
belong to the user who started them: another user gets the 404 of a thing that does not
exist and never sees them listed; an administrator sees everything, with owners."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import websocket

from ..support.execute import wait_file
from ..support.events import CS
from ..support.kernel_client import stdout_of
from ..support.waiting import wait_for
from .conftest import Member, Site

CODE_BODY = {"code": "print('hi')"}


def _refused(connect: Any) -> int:
    """The status of a WebSocket handshake that must fail."""
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect()
    return int(refused.value.status_code)


def test_another_users_kernel_is_not_found_on_every_url(alice: Member, bob: Member) -> None:
    kernel_id = alice.start_kernel()
    unknown = str(uuid.uuid4())
    for member_id in (kernel_id, unknown):  # alice's answers exactly as a kernel that does not exist
        expected = {"message": f"Kernel does not exist: {member_id}", "reason": None}
        assert bob.api("GET", f"kernels/{member_id}", 404) == expected
        assert bob.api("DELETE", f"kernels/{member_id}", 404) == expected
        assert bob.api("POST", f"kernels/{member_id}/interrupt", 404) == expected
        assert bob.api("POST", f"kernels/{member_id}/restart", 404) == expected
        assert bob.api("POST", f"kernels/{member_id}/execute", 404, json=CODE_BODY) == expected
        assert bob.api("GET", f"kernels/{member_id}/requests", 404) == expected
        assert bob.get(bob.site.url + f"api/kernels/{member_id}/channels").status_code == 404
        assert _refused(lambda: bob.kernel_client(member_id)) == 404
    assert bob.api("GET", "kernels", 200) == []
    assert bob.api("GET", "resolvePath", 200, params={"path": "x", "kernel": kernel_id})["unresolved"] == [
        {"scope": "kernel", "reason": f"Kernel {kernel_id} could not be found"}]
    # bob cannot take alice's kernel by naming its id either
    assert bob.api("POST", "kernels", 409, json={"name": "python3", "kernel_id": kernel_id})["reason"] == \
        "kernel id in use"
    assert [k["id"] for k in alice.api("GET", "kernels", 200)] == [kernel_id]
    assert "owner" not in alice.api("GET", f"kernels/{kernel_id}", 200)


def test_a_users_kernel_runs_in_their_workspace(site: Site, alice: Member) -> None:
    kernel_id = alice.start_kernel()
    record = alice.api("POST", f"kernels/{kernel_id}/execute", 200, json={"code": "import os; print(os.getcwd())"})
    assert record["outputs"][0]["text"].strip() == str(site.workspace("alice").resolve())
    once = alice.api("POST", "execute", 200, json={"code": "import os; print(os.getcwd())"})
    assert once["outputs"][0]["text"].strip() == str(site.workspace("alice").resolve())


def test_another_users_sessions_are_not_found(alice: Member, bob: Member) -> None:
    session = alice.api("POST", "sessions", 201, json={"path": "a.ipynb", "type": "notebook",
                                                       "kernel": {"name": "python3"}})
    missing = {"message": f"Session not found: session_id='{session['id']}'", "reason": None}
    assert bob.api("GET", "sessions", 200) == []
    assert bob.api("GET", f"sessions/{session['id']}", 404) == missing
    assert bob.api("PATCH", f"sessions/{session['id']}", 404, json={"name": "x"}) == missing
    assert bob.api("DELETE", f"sessions/{session['id']}", 404) == missing
    # The same path is another notebook, in bob's workspace: another session, another kernel.
    own = bob.api("POST", "sessions", 201, json={"path": "a.ipynb", "type": "notebook", "kernel": {"name": "python3"}})
    assert own["id"] != session["id"] and own["kernel"]["id"] != session["kernel"]["id"]
    # Nor may bob's session use alice's kernel.
    bob.api("POST", "sessions", 409, json={"path": "b.ipynb", "type": "notebook",
                                           "kernel": {"id": session["kernel"]["id"]}})
    bob.api("PATCH", f"sessions/{own['id']}", 400, json={"kernel": {"id": session["kernel"]["id"]}})
    assert alice.api("GET", f"sessions/{session['id']}", 200)["kernel"]["id"] == session["kernel"]["id"]


def test_another_users_executions_are_not_found(alice: Member, bob: Member) -> None:
    kernel_id = alice.start_kernel()
    record = alice.api("POST", f"kernels/{kernel_id}/execute", 200, json=CODE_BODY)
    bob.api("GET", f"kernels/{kernel_id}/requests/{record['id']}", 404)
    bob.api("DELETE", f"kernels/{kernel_id}/requests/{record['id']}", 404)
    once = alice.api("POST", "execute", 200, json=CODE_BODY)
    missing = {"message": f"No such request: {once['id']}", "reason": None}
    assert bob.api("GET", f"execute/{once['id']}", 404) == missing
    assert bob.api("DELETE", f"execute/{once['id']}", 404) == missing
    assert bob.api("POST", f"execute/{once['id']}/input", 404, json={"value": "x"}) == missing
    assert alice.api("GET", f"execute/{once['id']}", 200)["outputs"] == once["outputs"]
    own = bob.start_kernel()
    bob.api("GET", f"kernels/{own}/requests/{record['id']}", 404)
    assert bob.api("GET", f"kernels/{own}/requests", 200) == []


def test_a_replay_is_only_for_the_user_whose_session_it_is(site: Site, alice: Member, bob: Member,
                                                           root: Member) -> None:
    kernel_id = alice.start_kernel()
    session_id = uuid.uuid4().hex
    client = alice.kernel_client(kernel_id, session_id)
    client.wait_ready()
    gate = site.workspace("alice") / "go"
    client.execute(wait_file(gate) + "print('alice-secret'); open('done', 'w').close()")
    client.close()  # away while the kernel prints: what she misses is kept for her session id
    gate.touch()
    done = site.workspace("alice") / "done"
    wait_for(lambda: done.exists() and alice.api("GET", f"kernels/{kernel_id}", 200)["execution_state"] == "idle",
             timeout=30)

    own = bob.start_kernel()
    theirs = bob.kernel_client(own, session_id)  # alice's session id, on bob's own kernel
    assert stdout_of(theirs.run("print(1 + 1)")) == "2\n"
    assert not any("alice-secret" in json.dumps(m["content"]) for m in theirs.received)
    assert _refused(lambda: bob.kernel_client(kernel_id, session_id)) == 404
    # An administrator may connect to alice's kernel, but not as her session.
    assert _refused(lambda: root.kernel_client(kernel_id, session_id)) == 409
    root.kernel_client(kernel_id).wait_ready()

    back = alice.kernel_client(kernel_id, session_id)
    back.until(lambda m: m["msg_type"] == "stream" and "alice-secret" in m["content"]["text"], timeout=10)


def test_another_users_terminals_are_not_found(alice: Member, bob: Member) -> None:
    terminal = alice.api("POST", "terminals", 200)
    name = terminal["name"]
    missing = {"message": f"Terminal not found: {name}", "reason": None}
    assert bob.api("GET", "terminals", 200) == []
    assert bob.api("GET", f"terminals/{name}", 404) == missing
    assert bob.api("DELETE", f"terminals/{name}", 404) == missing
    assert _refused(lambda: bob.terminal(name)) == 404
    assert bob.api("POST", "terminals", 409, json={"name": name})["reason"] == "terminal name in use"
    mine = bob.api("POST", "terminals", 200)
    assert mine["name"] != name
    assert [t["name"] for t in bob.api("GET", "terminals", 200)] == [mine["name"]]
    assert alice.api("GET", f"terminals/{name}", 200)["name"] == name
    assert alice.terminal(name).run("pwd").strip().endswith("/users/alice")
    assert alice.page(f"terminals/{name}").status_code == 200  # its page too: the owner's only
    assert bob.page(f"terminals/{name}").status_code == 404


def _subscribe(member: Member) -> websocket.WebSocket:
    ws = websocket.create_connection(member.site.url.replace("http", "ws", 1) + "api/events/subscribe",
                                     header=member.header, timeout=30)
    _frames_until_marker(member, ws)
    return ws


def _frames_until_marker(member: Member, ws: websocket.WebSocket) -> list[dict[str, Any]]:
    """Every event the member got before a marker event they post now (theirs reach them),
    other members' markers left out."""
    marker = {"action": "get", "path": f"marker-{uuid.uuid4().hex}"}
    member.api("POST", "events", 204, json={"schema_id": CS, "version": "1", "data": marker})
    frames = []
    while True:
        frame = json.loads(ws.recv())
        if frame == {"schema_id": CS, **marker}:
            return frames
        if not str(frame.get("path", "")).startswith("marker-"):  # others' (an administrator hears them)
            frames.append(frame)


def test_events_reach_only_their_users_and_administrators(alice: Member, bob: Member, root: Member) -> None:
    alice_ws, bob_ws, root_ws = _subscribe(alice), _subscribe(bob), _subscribe(root)
    try:
        kernel_id = alice.start_kernel()
        alice.api("PUT", "contents/e.txt", 201, json={"type": "file", "format": "text", "content": ""})
        assert _frames_until_marker(bob, bob_ws) == []
        mine = _frames_until_marker(alice, alice_ws)
        assert {"kernel_id": kernel_id, "action": "start"}.items() <= mine[0].items()
        assert {"action": "save", "path": "e.txt"}.items() <= mine[1].items()
        everything = _frames_until_marker(root, root_ws)
        assert [f.get("kernel_id") for f in everything if "kernel_id" in f] == [kernel_id]
        assert {"action": "save", "path": "e.txt"}.items() <= everything[-1].items()
    finally:
        for ws in (alice_ws, bob_ws, root_ws):
            ws.close()


def test_an_administrator_sees_and_manages_everything_with_owners(alice: Member, bob: Member,
                                                                  root: Member) -> None:
    alices = alice.start_kernel()
    session = bob.api("POST", "sessions", 201, json={"path": "s.ipynb", "type": "notebook",
                                                     "kernel": {"name": "python3"}})
    owners = {k["id"]: k["owner"] for k in root.api("GET", "kernels", 200)}
    assert owners == {alices: "alice", session["kernel"]["id"]: "bob"}
    [listed] = root.api("GET", "sessions", 200)
    assert listed["owner"] == "bob" and listed["kernel"]["owner"] == "bob"
    assert root.api("GET", f"kernels/{alices}", 200)["owner"] == "alice"
    assert "owner" not in bob.api("GET", f"sessions/{session['id']}", 200)
    assert alice.api("GET", "status", 200)["kernels"] == 1
    assert root.api("GET", "status", 200)["kernels"] == 2
    root.api("POST", f"kernels/{alices}/execute", 200, json=CODE_BODY)
    root.api("DELETE", f"kernels/{alices}", 204)
    root.api("DELETE", f"sessions/{session['id']}", 204)
    assert alice.api("GET", "kernels", 200) == [] and bob.api("GET", "sessions", 200) == []


def test_only_an_administrator_may_shut_the_server_down(alice: Member) -> None:
    answer = alice.api("POST", "shutdown", 403)
    assert answer == {"message": "Only an administrator may shut the server down", "reason": "not an administrator"}
    assert alice.api("GET", "status", 200)["kernels"] == 0

