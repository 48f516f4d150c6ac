"""Kernels on a real Enterprise Gateway 3.3 (issue 22, part 2): kernelspecs, lifecycle, both
WebSocket protocols, REST execution, the pool, culling, KERNEL_USERNAME and the KERNEL_*
allow-list, through our server with NOTEBOOK_GATEWAY_URL."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ..support.execute import execute, result
from ..support.gateway import Gateway
from ..support.kernel_client import V1, of_type
from ..support.server import Server
from ..support.waiting import wait_for
from .conftest import gateway_env


def value_of(messages: list[dict[str, object]]) -> str:
    results = of_type(messages, "execute_result")
    assert results, messages
    return str(results[-1]["content"]["data"]["text/plain"])  # type: ignore[index]


def test_kernelspecs_are_the_gateways(gw_server: Server, gateway: Gateway) -> None:
    specs = gw_server.json("GET", "api/kernelspecs", 200)
    assert set(specs["kernelspecs"]) == set(gateway.get("api/kernelspecs").json()["kernelspecs"]) == {"python3"}
    python3 = specs["kernelspecs"]["python3"]
    assert python3["spec"]["argv"][0] == "python"  # the gateway's own spec, not ours (sys.executable)
    logo = gw_server.request("GET", python3["resources"]["logo-64x64"].lstrip("/"))
    assert logo.status_code == 200 and logo.content.startswith(b"\x89PNG")
    assert gw_server.request("GET", "kernelspecs/python3/nothing.png").status_code == 404


def test_session_websocket_interrupt_restart_shutdown(gw_server: Server, gateway: Gateway) -> None:
    before = gateway.kernel_ids()
    session = gw_server.json("POST", "api/sessions", 201,
                             json={"path": "a.ipynb", "type": "notebook", "kernel": {"name": "python3"}})
    kernel_id = session["kernel"]["id"]
    started = gateway.kernel_ids() - before
    assert len(started) == 1 and kernel_id not in started  # the gateway's id is its own

    client = gw_server.client(kernel_id, V1)
    client.run("x = 1")
    assert value_of(client.run("x")) == "1"
    legacy = gw_server.client(kernel_id, None)
    assert value_of(legacy.run("x + 1")) == "2"

    msg_id = client.start_running("import time; time.sleep(60)")
    t0 = time.monotonic()
    gw_server.json("POST", f"api/kernels/{kernel_id}/interrupt", 204)
    reply = client.until(lambda m: m["msg_type"] == "execute_reply" and m["parent_header"]["msg_id"] == msg_id)[-1]
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - t0 < 20

    gw_server.json("POST", f"api/kernels/{kernel_id}/restart", 200)
    assert gateway.kernel_ids() - before == started  # restarted there, not replaced
    errors = of_type(client.run("x"), "error")
    assert errors and errors[0]["content"]["ename"] == "NameError"

    gw_server.json("DELETE", f"api/sessions/{session['id']}", 204)
    wait_for(lambda: not (gateway.kernel_ids() & started), timeout=15)
    assert gw_server.request("GET", f"api/kernels/{kernel_id}").status_code == 404


def test_rest_execute(gw_server: Server, gateway: Gateway) -> None:
    kernel_id = gw_server.start_kernel(name="python3")
    try:
        record = execute(gw_server, kernel_id, "y = 6 * 7\ny").json()
        assert record["status"] == "ok" and result(record) == "42", record
    finally:
        gw_server.json("DELETE", f"api/kernels/{kernel_id}", 204)


def test_kernel_env_is_checked_against_the_allow_list(make_server: Callable[..., Server], gateway: Gateway) -> None:
    srv = make_server(env=gateway_env(gateway, NOTEBOOK_GATEWAY_KERNEL_ENV=json.dumps(["KERNEL_TEAM"])))
    bad = [
        ({"KERNEL_OTHER": "x"}, "env variable not allowed"),
        ({"LD_PRELOAD": "/tmp/x.so"}, "env variable not allowed"),
        ({"KERNEL_USERNAME": "root"}, "env variable not allowed"),
        ({"KERNEL_TEAM": "a\nb"}, "bad env value"),
        ({"KERNEL_TEAM": "$(x)\x00"}, "bad env value"),
        ({"KERNEL_TEAM": "x" * 1025}, "bad env value"),
        ({"KERNEL_TEAM": 1}, "bad env value"),
        (["KERNEL_TEAM"], "bad field: env"),
    ]
    before = gateway.kernel_ids()
    for env, reason in bad:
        response = srv.request("POST", "api/kernels", json={"name": "python3", "env": env})
        assert response.status_code == 400 and response.json()["reason"] == reason, (env, response.text)
        response = srv.request("POST", "api/sessions", json={"path": "b.ipynb", "type": "notebook",
                                                            "kernel": {"name": "python3", "env": env}})
        assert response.status_code == 400 and response.json()["reason"] == reason, (env, response.text)
    assert gateway.kernel_ids() == before  # nothing reached the gateway
    kernel_id = srv.start_kernel(name="python3", env={"KERNEL_TEAM": "data science"})
    client = srv.client(kernel_id)
    out = value_of(client.run("import os; os.environ['KERNEL_TEAM'], os.environ['KERNEL_USERNAME']"))
    assert out.startswith("('data science', '")
    srv.json("DELETE", f"api/kernels/{kernel_id}", 204)


def test_a_pooled_kernel_lives_on_the_gateway_and_culling_deletes_it(make_server: Callable[..., Server],
                                                                     gateway: Gateway) -> None:
    before = gateway.kernel_ids()
    srv = make_server(env=gateway_env(gateway, NOTEBOOK_KERNEL_POOL=json.dumps({"python3": 1}),
                                      NOTEBOOK_CULL_IDLE_TIMEOUT="3", NOTEBOOK_CULL_INTERVAL="1"))
    pooled = wait_for(lambda: gateway.kernel_ids() - before, timeout=60)
    status = wait_for(lambda: srv.json("GET", "api/status", 200).get("kernels") is not None, timeout=5)
    assert status
    kernel_id = srv.start_kernel(name="python3")
    client = srv.client(kernel_id)
    assert value_of(client.run("1 + 1")) == "2"
    # The pool refills on the gateway: one more kernel there.
    wait_for(lambda: len(gateway.kernel_ids() - before) == 2, timeout=60)
    assert pooled <= gateway.kernel_ids()
    client.close()
    # Idle for 3 s and no connection: culled here, deleted there (the pooled one stays).
    wait_for(lambda: srv.request("GET", f"api/kernels/{kernel_id}").status_code == 404, timeout=30)
    wait_for(lambda: len(gateway.kernel_ids() - before) == 1, timeout=30)


def test_username_reaches_the_gateway_for_a_users_file_user_and_the_pool_keeps_its_own(
        make_server: Callable[..., Server], gateway: Gateway, tmp_path: Path) -> None:
    """A pooled gateway kernel was launched as the server's user (KERNEL_USERNAME is fixed at
    launch): a named user's kernel starts cold, with the user's name; the server's own user
    (the token) takes the pooled one."""
    import getpass
    import subprocess
    import sys

    import requests

    users = tmp_path / "users.json"
    added = subprocess.run([sys.executable, "-m", "flask_notebook", "user", "--users-file", str(users), "add",
                            "alice"], input="alice-pw\n", capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    srv = make_server(env=gateway_env(gateway, NOTEBOOK_USERS_FILE=str(users), NOTEBOOK_KERNEL_SANDBOX="none",
                                      NOTEBOOK_KERNEL_POOL=json.dumps({"python3": 1})))
    wait_for(lambda: srv.json("GET", "api/kernel_pool", 200)["python3"]["ready"] == 1, timeout=60)
    pooled = gateway.kernel_ids()
    alice = requests.Session()
    alice.get(srv.url + "login", timeout=10)
    xsrf = alice.cookies.get("_xsrf")
    assert alice.post(srv.url + "login", data={"username": "alice", "password": "alice-pw", "_xsrf": xsrf},
                      allow_redirects=False, timeout=10).status_code == 302
    xsrf = alice.cookies.get("_xsrf")
    response = alice.post(srv.url + "api/kernels", json={"name": "python3"}, headers={"X-XSRFToken": xsrf},
                          timeout=60)
    assert response.status_code == 201, response.text
    kernel_id = response.json()["id"]
    record = alice.post(srv.url + f"api/kernels/{kernel_id}/execute", headers={"X-XSRFToken": xsrf}, timeout=60,
                        json={"code": "import os; os.environ['KERNEL_USERNAME']"}).json()
    assert result(record) == "'alice'", record
    assert srv.json("GET", "api/kernel_pool", 200)["python3"]["ready"] == 1  # not taken: started cold
    assert pooled < gateway.kernel_ids()

    own = srv.start_kernel(name="python3")  # the server's own user: the pooled kernel is its
    record = execute(srv, own, "import os; os.environ['KERNEL_USERNAME']").json()
    assert result(record) == repr(os.environ.get("KERNEL_USERNAME") or getpass.getuser()), record
    assert f"kernel {own} (python3) taken from the pool" in srv.log()
    assert f"kernel {kernel_id} (python3) taken from the pool" not in srv.log()
    assert alice.delete(srv.url + f"api/kernels/{kernel_id}", headers={"X-XSRFToken": xsrf},
                        timeout=30).status_code == 204
    srv.json("DELETE", f"api/kernels/{own}", 204)
