"""Kernel protocol 5.5 and later through the relay, with ipykernel 7 kernels: subshells
(JEP 91), kernel_info on the control channel, the XPUB ``iopub_welcome`` (JEP 65), and
``supported_features``. Both WebSocket protocols."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking import BlockingKernelClient

from ..support.kernel_client import V1, KernelClient, of_type, stdout_of
from ..support.server import Server
from ..support.waiting import wait_for

PROTOCOLS = [pytest.param(V1, id="v1"), pytest.param(None, id="legacy")]


def result_of(messages: list[dict[str, Any]]) -> str:
    return str(of_type(messages, "execute_result")[0]["content"]["data"]["text/plain"])


def wait_gate(gate: Path, timeout: float = 60) -> str:
    """Code that blocks until the test creates `gate`; after `timeout` seconds it fails instead."""
    return ("import os, time\n"
            f"deadline = time.monotonic() + {timeout}\n"
            f"while not os.path.exists({str(gate)!r}):\n"
            "    assert time.monotonic() < deadline, 'the test never opened the gate'\n"
            "    time.sleep(0.02)\n")


def replies_to_others(client: KernelClient) -> list[str]:
    """Replies `client` received to requests it did not send."""
    return [m["msg_type"] for m in client.received
            if m["channel"] != "iopub" and m["parent_header"].get("msg_id") not in client.sent]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_subshells_run_beside_the_busy_main_shell_and_answer_their_own_client(
        server: Server, kernel_id: str, protocol: str | None, tmp_path: Path) -> None:
    a = server.client(kernel_id, protocol)
    b = server.client(kernel_id, protocol)
    assert "kernel subshells" in a.received[-1]["content"]["supported_features"]
    made_a = a.request("create_subshell_request")
    made_b = b.request("create_subshell_request")
    assert made_a["channel"] == "control" and made_a["content"]["status"] == "ok"
    sub_a, sub_b = made_a["content"]["subshell_id"], made_b["content"]["subshell_id"]
    listed = a.request("list_subshell_request")
    assert sorted(listed["content"]["subshell_id"]) == sorted([sub_a, sub_b])

    # The main shell is busy until the test opens the gate; both subshells answer meanwhile.
    # (One after the other: ipykernel 7.4's display hook is shared by its threads, and two
    # results at the same moment can come out as one published twice; seen with a plain
    # jupyter_client client too, which refuses the copy: "Duplicate Signature".)
    gate = tmp_path / "gate"
    main = a.execute(wait_gate(gate))
    wait_for(lambda: server.kernel(kernel_id)["execution_state"] == "busy", timeout=10)
    out_b = b.run("1+1", subshell_id=sub_b, timeout=30)
    out_a = a.run("1+2", subshell_id=sub_a, timeout=30)
    assert result_of(out_b) == "2" and result_of(out_a) == "3"
    assert not [m for m in a.received if m["parent_header"].get("msg_id") == main
                and m["msg_type"] == "execute_reply"], "the main shell finished before the subshells answered"
    # Both subshells are idle, the main shell is not: the kernel is still busy.
    assert server.kernel(kernel_id)["execution_state"] == "busy"
    gate.touch()
    main_reply = a.until_idle(main, timeout=30)
    assert of_type(main_reply, "execute_reply")[0]["content"]["status"] == "ok"
    wait_for(lambda: server.kernel(kernel_id)["execution_state"] == "idle", timeout=10)

    # A subshell busy while the main shell is idle: busy too.
    sub_gate = tmp_path / "sub-gate"
    slow = b.execute(wait_gate(sub_gate), subshell_id=sub_b)
    wait_for(lambda: server.kernel(kernel_id)["execution_state"] == "busy", timeout=10)
    sub_gate.touch()
    b.until_idle(slow, timeout=30)
    wait_for(lambda: server.kernel(kernel_id)["execution_state"] == "idle", timeout=10)

    deleted = b.request("delete_subshell_request", {"subshell_id": sub_b})
    assert deleted["msg_type"] == "delete_subshell_reply" and deleted["content"]["status"] == "ok"
    listed = a.request("list_subshell_request")
    assert listed["content"]["subshell_id"] == [sub_a]
    # Every reply went to the client that asked, and to it alone.
    assert replies_to_others(a) == [] and replies_to_others(b) == []
    for client in (a, b):
        answered = {m["parent_header"]["msg_id"] for m in client.received if m["channel"] != "iopub"}
        assert answered == set(client.sent), "a request of this client got no reply"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_kernel_info_on_the_control_channel_is_answered_to_its_sender(
        server: Server, kernel_id: str, protocol: str | None) -> None:
    asker = server.client(kernel_id, protocol)
    other = server.client(kernel_id, protocol)
    reply = asker.request("kernel_info_request", channel="control")
    assert reply["channel"] == "control" and reply["msg_type"] == "kernel_info_reply"
    assert reply["content"]["status"] == "ok" and reply["content"]["supported_features"]
    # The other client sees the request's iopub statuses, never its reply.
    other.until_idle(reply["parent_header"]["msg_id"], reply=False)
    assert not [m for m in other.received if m["channel"] == "control"]


def test_kernel_info_reply_passes_through_unchanged(server: Server, kernel_id: str) -> None:
    """Compared with what the kernel answers a ZMQ client of its own (jupyter_client's, in the
    test): `supported_features` (ipykernel 7: kernel subshells, debugger) and everything else,
    on both protocols."""
    direct = BlockingKernelClient(connection_file=str(server.runtime_dir / f"kernel-{kernel_id}.json"))
    direct.load_connection_file()
    direct.start_channels(hb=False)
    try:
        direct.wait_for_ready(timeout=60)
        content = direct.kernel_info(reply=True, timeout=30)["content"]
    finally:
        direct.stop_channels()
    assert {"kernel subshells", "debugger"} <= set(content["supported_features"])
    del content["banner"]  # IPython's ends with a tip of the day, picked at random per request
    for protocol in (V1, None):
        relayed = server.client(kernel_id, protocol).received[-1]
        assert relayed["msg_type"] == "kernel_info_reply"
        assert relayed["content"].pop("banner").startswith("Python ") and relayed["content"] == content


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_xpub_kernel_welcome_is_not_relayed_and_no_first_output_is_lost(
        server: Server, protocol: str | None) -> None:
    """ipykernel 7's iopub is an XPUB: it sends ``iopub_welcome`` (no parent) to each new
    subscriber, here the relay's one SUB socket, at each start and restart. The relay takes
    it as the sign that iopub is live and keeps it to itself (see ``KernelChannels._welcomed``)."""
    kid = server.start_kernel()
    try:
        client = server.connect(kid, protocol)  # at once: no kernel_info first
        out = client.run("for i in range(200): print(i)", timeout=60)
        assert stdout_of(out) == "".join(f"{i}\n" for i in range(200))
        kind = client.run("import zmq\nget_ipython().kernel.iopub_socket.io_thread.socket.type == zmq.XPUB")
        assert result_of(kind) == "True"
        # A restart: the request sent as soon as it returns loses nothing either.
        server.json("POST", f"api/kernels/{kid}/restart", 200)
        out = client.run("for i in range(200): print(i)", timeout=60)
        assert stdout_of(out) == "".join(f"{i}\n" for i in range(200))
        client.wait_ready()
        assert "iopub_welcome" not in [m["msg_type"] for m in client.received]
        assert "malformed" not in server.log()
        # A client that connects later gets none either.
        late = server.client(kid, protocol)
        late.run("1")
        assert "iopub_welcome" not in [m["msg_type"] for m in late.received]
    finally:
        server.request("DELETE", f"api/kernels/{kid}")
