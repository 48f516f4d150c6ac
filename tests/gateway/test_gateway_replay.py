"""What the gateway keeps for a connection that went away comes back: each server names its
connection to a gateway kernel with a session that is the same every time (its replica's), so
a server that died and the next one on the same data directory (NOTEBOOK_PERSIST_KERNELS)
take it up where it stopped; the clients that reconnect get what they missed."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from ..support.env import TOKEN
from ..support.gateway import Gateway
from ..support.kernel_client import KernelClient, replies_to, stdout_of
from ..support.server import Server
from ..support.waiting import wait_for
from .conftest import gateway_env


def test_a_client_of_a_server_that_died_gets_what_it_missed_from_the_next(
        make_gateway: Callable[..., Gateway], tmp_path: Path) -> None:
    gateway = make_gateway()
    env = gateway_env(gateway, NOTEBOOK_PERSIST_KERNELS="true")
    base, done = tmp_path / "site", tmp_path / "cell-done"
    first = Server(base, [], env)
    second: Server | None = None
    try:
        kernel_id = first.start_kernel()
        (remote_id,) = gateway.kernel_ids()
        client = first.client(kernel_id)
        assert stdout_of(client.run("x = 6 * 7")) == ""
        late = client.execute(f"import time\nprint('early', flush=True)\ntime.sleep(1)\nprint('late')\n"
                              f"open({str(done)!r}, 'w').close()")
        client.until(lambda m: m["parent_header"].get("msg_id") == late and m["msg_type"] == "stream")
        first.stop(signal.SIGKILL)
        client.ws.shutdown()
        # Everything after the kill (the rest of the cell, its reply) is kept by the gateway.
        wait_for(lambda: gateway.get(f"api/kernels/{remote_id}").json()["connections"] == 0, timeout=10)
        wait_for(done.exists, timeout=10)
        wait_for(lambda: gateway.get(f"api/kernels/{remote_id}").json()["execution_state"] == "idle", timeout=10)

        (base / "server.log").rename(base / "server-first.log")
        second = Server(base, [], env)
        back = KernelClient(second.url, kernel_id, TOKEN, session_id=client.session_id)
        try:
            back.wait_ready()
            mine = replies_to(back, late)
            assert [m["content"]["status"] for m in mine if m["msg_type"] == "execute_reply"] == ["ok"]
            assert stdout_of(mine) == "late\n"  # what it missed, once; not 'early', which it had
            assert stdout_of(back.run("print(x)")) == "42\n"
            assert "Replaying" in gateway.log()
        finally:
            back.close()
    finally:
        first.stop()
        if second is not None:
            second.json("POST", "api/shutdown", 200)
            second.stop()
