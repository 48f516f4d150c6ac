"""REST execution in kernel subshells (JEP 91, ipykernel 7): ``subshell_id`` on
`POST /api/kernels/<id>/execute`. Requests to different shells do not wait for each other;
requests to one shell run in order."""

from __future__ import annotations

from pathlib import Path

from ..support.execute import execute, result, stdout, wait_file
from ..support.responses import assert_json_error
from ..support.server import Server
from ..support.waiting import wait_for


def new_subshell(server: Server, kernel_id: str) -> str:
    """A subshell, made over the kernel's WebSocket (the control channel)."""
    client = server.client(kernel_id)
    reply = client.request("create_subshell_request")
    client.close()
    assert reply["content"]["status"] == "ok", reply
    return str(reply["content"]["subshell_id"])


def record(server: Server, kernel_id: str, request_id: str) -> dict[str, object]:
    response = server.request("GET", f"api/kernels/{kernel_id}/requests/{request_id}")
    assert response.status_code in (200, 202), response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_subshell_request_does_not_wait_for_the_main_shell(server: Server, kernel_id: str,
                                                             tmp_path: Path) -> None:
    subshell = new_subshell(server, kernel_id)
    gate = tmp_path / "gate"
    main = execute(server, kernel_id, "print('main', flush=True)\n" + wait_file(gate) + "'main done'", 202,
                   params={"wait": "false"}).json()
    wait_for(lambda: stdout(record(server, kernel_id, main["id"])) == "main\n", timeout=30)
    done = execute(server, kernel_id, "import threading\nthreading.current_thread().name", subshell_id=subshell).json()
    assert done["status"] == "ok" and result(done) != "'MainThread'"  # it ran in the subshell's thread
    assert record(server, kernel_id, main["id"])["status"] == "running"
    # A subshell's code that times out ends its record; the main shell's cell is not
    # interrupted (a signal would stop it, not the subshell's code).
    timed_out = execute(server, kernel_id, "import time\nprint('sub', flush=True)\ntime.sleep(3)",
                        subshell_id=subshell, timeout=0.5).json()
    assert timed_out["status"] == "timeout" and stdout(timed_out) == "sub\n"
    assert record(server, kernel_id, main["id"])["status"] == "running"
    gate.touch()
    finished = wait_for(lambda: (r := record(server, kernel_id, main["id"]))["status"] != "running" and r,
                        timeout=30)
    assert finished["status"] == "ok" and result(finished) == "'main done'"  # type: ignore[arg-type]
    # The next request to the subshell runs after the code that timed out.
    after = execute(server, kernel_id, "'after'", subshell_id=subshell).json()
    assert after["status"] == "ok" and after["started"] > timed_out["finished"]


def test_requests_to_one_subshell_run_in_order_beside_the_main_shell(server: Server, kernel_id: str,
                                                                     tmp_path: Path) -> None:
    subshell = new_subshell(server, kernel_id)
    gate = tmp_path / "gate"
    execute(server, kernel_id, "order = []")
    first = execute(server, kernel_id, wait_file(gate) + "order.append(1)", 202, params={"wait": "false"},
                    subshell_id=subshell).json()
    second = execute(server, kernel_id, "order.append(2)", 202, params={"wait": "false"},
                     subshell_id=subshell).json()
    wait_for(lambda: record(server, kernel_id, first["id"])["status"] == "running", timeout=30)
    assert record(server, kernel_id, second["id"])["status"] == "queued"
    # The main shell is free meanwhile.
    assert result(execute(server, kernel_id, "order").json()) == "[]"
    gate.touch()
    wait_for(lambda: record(server, kernel_id, second["id"])["status"] == "ok", timeout=30)
    assert result(execute(server, kernel_id, "order").json()) == "[1, 2]"


def test_bad_and_unknown_subshells(server: Server, kernel_id: str) -> None:
    url = f"api/kernels/{kernel_id}/execute"
    for value in (3, "", "x" * 257, ["a"]):
        body = assert_json_error(server.request("POST", url, json={"code": "1", "subshell_id": value}), 400,
                                 "subshell_id")
        assert body["reason"] == "bad field: subshell_id"
    # The kernel decides which subshells exist.
    unknown = execute(server, kernel_id, "1", subshell_id="no-such-subshell").json()
    assert unknown["status"] == "error" and unknown["error"]["ename"] == "UnknownSubshellError"
    assert execute(server, kernel_id, "1").json()["status"] == "ok"
    assert_json_error(server.request("POST", "api/execute", json={"code": "1", "subshell_id": "x"}), 400,
                      "subshell_id")
