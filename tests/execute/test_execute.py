"""`POST /api/kernels/<id>/execute` on real kernels: sync, async polling, streaming, stdin,
timeout, errors, order, cancel, and WebSocket clients of the same kernel watching."""

from __future__ import annotations

import re
import time
from pathlib import Path

import requests

from ..support.env import TOKEN
from ..support.execute import events, execute, result, stdout, wait_file
from ..support.kernel_client import of_type
from ..support.responses import assert_json_error
from ..support.server import Server
from ..support.waiting import wait_for

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
RECORD_KEYS = {"id", "kernel_id", "status", "execution_count", "outputs", "error", "user_expressions",
               "input_request", "started", "finished"}


def test_sync_execute_returns_the_completion_record(server: Server, kernel_id: str) -> None:
    response = execute(server, kernel_id, "print('hello')\nprint('world')\n6 * 7",
                       user_expressions={"double": "2 * 21"})
    record = response.json()
    assert set(record) == RECORD_KEYS
    assert record["status"] == "ok" and record["error"] is None and record["kernel_id"] == kernel_id
    assert isinstance(record["execution_count"], int) and record["execution_count"] >= 1
    # Consecutive stream outputs are merged into one, as nbformat stores them.
    assert record["outputs"][0] == {"output_type": "stream", "name": "stdout", "text": "hello\nworld\n"}
    assert record["outputs"][1]["output_type"] == "execute_result"
    assert result(record) == "42" and record["outputs"][1]["execution_count"] == record["execution_count"]
    assert record["user_expressions"]["double"]["data"]["text/plain"] == "42"
    assert ISO.match(record["started"]) and ISO.match(record["finished"]) and record["started"] <= record["finished"]
    assert response.headers["Location"] == f"/api/kernels/{kernel_id}/requests/{record['id']}"
    # The state stays in the kernel: the next request sees it, with the next execution count.
    again = execute(server, kernel_id, "answer = 42").json()
    assert execute(server, kernel_id, "answer").json()["outputs"][0]["data"]["text/plain"] == "42"
    assert again["execution_count"] == record["execution_count"] + 1
    # The record stays available.
    assert server.json("GET", f"api/kernels/{kernel_id}/requests/{record['id']}", 200)["status"] == "ok"


def test_an_error_is_reported_with_its_traceback(server: Server, kernel_id: str) -> None:
    record = execute(server, kernel_id, "print('before')\n1 / 0").json()
    assert record["status"] == "error"
    assert record["error"]["ename"] == "ZeroDivisionError" and "division by zero" in record["error"]["evalue"]
    assert any("ZeroDivisionError" in line for line in record["error"]["traceback"])
    assert [o["output_type"] for o in record["outputs"]] == ["stream", "error"]
    assert stdout(record) == "before\n"


def test_async_request_is_polled_until_done(server: Server, kernel_id: str, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    code = "print('first', flush=True)\n" + wait_file(gate) + "print('second')"
    response = execute(server, kernel_id, code, 202, params={"wait": "false"})
    location = response.headers["Location"]
    assert response.json()["status"] in ("queued", "running")

    def first_output() -> dict[str, object] | None:
        polled = server.request("GET", location)
        assert polled.status_code == 202, polled.text  # not done until the gate opens
        record = polled.json()
        return record if stdout(record) == "first\n" else None

    running = wait_for(first_output, timeout=30)
    assert running["status"] == "running" and running["finished"] is None
    gate.touch()
    done = wait_for(lambda: (r := server.request("GET", location)).status_code == 200 and r.json(), timeout=30)
    assert done["status"] == "ok" and stdout(done) == "first\nsecond\n"
    # Prefer: respond-async does the same as ?wait=false.
    preferred = execute(server, kernel_id, "1", 202, headers={"Prefer": "respond-async"})
    assert preferred.headers["Preference-Applied"] == "respond-async"
    listed = server.json("GET", f"api/kernels/{kernel_id}/requests", 200)
    assert done["id"] in [r["id"] for r in listed]


def test_event_stream_sends_each_output_then_done(server: Server, kernel_id: str) -> None:
    code = "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.2)\n'end'"
    with requests.post(f"{server.url}api/kernels/{kernel_id}/execute", json={"code": code}, stream=True,
                       headers={"Authorization": f"token {TOKEN}", "Accept": "text/event-stream"},
                       timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        received = list(events(response))  # ends: the server closes the stream after "done"
    names = [name for name, _ in received]
    assert names[0] == "accepted" and names[-1] == "done" and names.count("done") == 1
    streamed = [data for name, data in received if name == "output" and data["output_type"] == "stream"]
    # One event per output as it arrived (not merged), in order. Each print is flushed, and
    # the kernel may also flush between a line and its newline, so there are at least three.
    assert "".join(o["text"] for o in streamed) == "0\n1\n2\n" and len(streamed) >= 3
    record = received[-1][1]
    assert record["status"] == "ok" and stdout(record) == "0\n1\n2\n" and result(record) == "'end'"
    assert record["id"] == received[0][1]["id"]
    # The events can be read again from the record's URL, from any point.
    with server.request("GET", f"api/kernels/{kernel_id}/requests/{record['id']}", stream=True,
                        headers={"Accept": "text/event-stream", "Last-Event-ID": "1"}) as again:
        replayed = list(events(again))
    assert [n for n, _ in replayed] == names[2:]


def test_input_is_answered_over_http(server: Server, kernel_id: str) -> None:
    response = execute(server, kernel_id, "name = input('Name? ')\nprint('hello', name)", 202)
    waiting = response.json()
    assert waiting["status"] == "input_required"
    assert waiting["input_request"] == {"prompt": "Name? ", "password": False}
    location = response.headers["Location"]
    assert server.json("GET", location, 202)["status"] == "input_required"
    answered = server.json("POST", location + "/input", 200, json={"value": "Ada"})
    assert answered["status"] == "ok" and "hello Ada" in stdout(answered) and answered["input_request"] is None
    # A password prompt says so.
    secret = execute(server, kernel_id, "import getpass\npw = getpass.getpass('Secret: ')\nlen(pw)", 202)
    assert secret.json()["input_request"] == {"prompt": "Secret: ", "password": True}
    done = server.json("POST", secret.headers["Location"] + "/input", 200, json={"value": "hunter2"})
    assert result(done) == "7"
    # Answering a request that does not wait for input is a conflict.
    assert_json_error(server.request("POST", location + "/input", json={"value": "again"}), 409, "not waiting")
    assert_json_error(server.request("POST", secret.headers["Location"] + "/input", json={}), 400, "value")


def test_timeout_interrupts_and_keeps_the_output_so_far(server: Server, kernel_id: str) -> None:
    execute(server, kernel_id, "1")  # started: the timeout counts from acceptance, start-up included
    started = time.monotonic()
    record = execute(server, kernel_id, "import time\nprint('started', flush=True)\ntime.sleep(60)",
                     timeout=1.5).json()
    assert record["status"] == "timeout"
    assert stdout(record).startswith("started") and time.monotonic() - started < 15
    # The kernel was interrupted, not killed: its state is still there and it answers at once.
    assert execute(server, kernel_id, "time.sleep(0); 'alive'").json()["status"] == "ok"


# A cell that makes its kernel drop this request's reply, as ipykernel 7.4 does to a request
# that an interrupt reaches just before its code runs: its dispatcher catches the
# KeyboardInterrupt, says idle, and never replies. (That race cannot be hit at will.)
DROP_OWN_REPLY = """
kernel = get_ipython().kernel
send = kernel.session.send
def drop_reply(stream, msg_or_type, *args, **kwargs):
    if msg_or_type == "execute_reply":
        kernel.session.send = send
        return {"content": {"status": "ok"}}
    return send(stream, msg_or_type, *args, **kwargs)
kernel.session.send = drop_reply
print("dropping", flush=True)
"""


def _ended(server: Server, location: str, timeout: float) -> dict[str, object]:
    return wait_for(lambda: (r := server.request("GET", location).json())["status"] not in ("queued", "running")
                    and r, timeout=timeout)


def test_a_request_the_kernel_never_answers_ends_and_the_next_one_runs(server: Server, kernel_id: str) -> None:
    dropped = execute(server, kernel_id, DROP_OWN_REPLY, 202, params={"wait": "false"})
    queued = execute(server, kernel_id, "6 * 7", 202, params={"wait": "false"})
    record = _ended(server, dropped.headers["Location"], timeout=30)
    assert record["status"] == "error" and record["error"]["ename"] == "NoReplyError"  # type: ignore[index]
    assert stdout(record) == "dropping\n"  # its output is kept
    assert result(_ended(server, queued.headers["Location"], timeout=30)) == "42"


def test_an_interrupt_the_kernel_ignored_at_the_start_is_sent_again(server: Server, kernel_id: str) -> None:
    # The cell ignores SIGINT for its first half second, as ipykernel does between its busy
    # and its handler: the timeout's interrupt, sent then, is lost; the second one stops it.
    execute(server, kernel_id, "1")  # started
    code = ("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(0.3)\n"
            "signal.signal(signal.SIGINT, signal.default_int_handler)\nprint('listening', flush=True)\n"
            "while True: time.sleep(0.05)")
    record = execute(server, kernel_id, code, timeout=0.1).json()
    assert record["status"] == "timeout"
    # The code was stopped, not left running: the next request runs at once.
    assert _ended(server, execute(server, kernel_id, "'free'", 202, params={"wait": "false"}).headers["Location"],
                  timeout=20)["status"] == "ok"


def test_requests_to_one_kernel_run_in_order(server: Server, kernel_id: str, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    execute(server, kernel_id, "order = []")
    first = execute(server, kernel_id, wait_file(gate) + "order.append(1)", 202, params={"wait": "false"}).json()
    later = [execute(server, kernel_id, f"order.append({n})", 202, params={"wait": "false"}).json()
             for n in (2, 3)]
    wait_for(lambda: server.json("GET", f"api/kernels/{kernel_id}/requests/{first['id']}", 202)["status"]
             == "running", timeout=30)
    # The others wait their turn, here, not in the kernel.
    assert all(server.json("GET", f"api/kernels/{kernel_id}/requests/{r['id']}", 202)["status"] == "queued"
               for r in later)
    gate.touch()
    assert result(execute(server, kernel_id, "order").json()) == "[1, 2, 3]"
    records = [server.json("GET", f"api/kernels/{kernel_id}/requests/{r['id']}", 200) for r in [first, *later]]
    assert [r["execution_count"] for r in records] == sorted(r["execution_count"] for r in records)


def test_cancel_interrupts_a_running_request_and_drops_a_queued_one(server: Server, kernel_id: str,
                                                                      tmp_path: Path) -> None:
    running = execute(server, kernel_id, "import time\nprint('working', flush=True)\ntime.sleep(60)", 202,
                      params={"wait": "false"})
    queued = execute(server, kernel_id, "never = True", 202, params={"wait": "false"})
    location = running.headers["Location"]
    wait_for(lambda: "working" in stdout(server.json("GET", location, 202)), timeout=30)
    cancelled = server.json("DELETE", queued.headers["Location"], 200)
    assert cancelled["status"] == "aborted" and cancelled["started"] is None
    started = time.monotonic()
    interrupted = server.json("DELETE", location, 200)
    assert interrupted["status"] == "aborted" and time.monotonic() - started < 10
    assert stdout(interrupted).startswith("working")
    # The queued request never ran; the kernel goes on.
    record = execute(server, kernel_id, "'never' in globals()").json()
    assert record["status"] == "ok" and result(record) == "False"
    assert server.json("DELETE", location, 200)["status"] == "aborted"  # again: nothing changes


def test_websocket_clients_see_a_rest_execution(server: Server, kernel_id: str) -> None:
    client = server.client(kernel_id)
    record = execute(server, kernel_id, "print('from rest')").json()
    seen = client.until(lambda m: m["msg_type"] == "stream" and "from rest" in m["content"]["text"], timeout=30)
    parent = seen[-1]["parent_header"]["msg_id"]
    client.until_idle(parent, reply=False)
    assert record["status"] == "ok"
    # The reply went to the REST request alone.
    assert not [m for m in client.received if m["msg_type"] == "execute_reply"
                and m["parent_header"]["msg_id"] == parent]
    # The WebSocket's own executions are unaffected.
    assert of_type(client.run("print('from ws')"), "execute_reply")[0]["content"]["status"] == "ok"
    client.close()


def test_a_kernel_killed_mid_request_ends_it_with_the_reason(server: Server, kernel_id: str) -> None:
    pid = int(result(execute(server, kernel_id, "import os\nos.getpid()").json()) or 0)
    response = execute(server, kernel_id, "import time\ntime.sleep(60)", 202, params={"wait": "false"})
    location = response.headers["Location"]
    wait_for(lambda: server.json("GET", location, 202)["status"] == "running", timeout=30)
    import os
    import signal

    os.kill(pid, signal.SIGKILL)
    record = wait_for(lambda: (r := server.request("GET", location)).status_code == 200 and r.json(), timeout=30)
    assert record["status"] == "error" and record["error"]["ename"] == "DeadKernelError"
    assert "SIGKILL" in record["error"]["evalue"]
    # After the autorestart the kernel takes requests again.
    wait_for(lambda: server.request("POST", f"api/kernels/{kernel_id}/execute",
                                    json={"code": "1"}).status_code == 200, timeout=60)


def test_bad_requests(server: Server, kernel_id: str) -> None:
    url = f"api/kernels/{kernel_id}/execute"
    assert_json_error(server.request("POST", url), 400, "code")
    assert_json_error(server.request("POST", url, json={"code": 1}), 400, "'code'")
    assert_json_error(server.request("POST", url, json=["print(1)"]), 400)
    assert_json_error(server.request("POST", url, data=b"{nope"), 400, "Invalid JSON")
    for field, value in (("silent", "yes"), ("timeout", -1), ("timeout", True), ("user_expressions", [1]),
                         ("allow_stdin", 0), ("stop_on_error", "x")):
        body = assert_json_error(server.request("POST", url, json={"code": "1", field: value}), 400, field)
        assert body["reason"] == f"bad field: {field}"
    assert_json_error(server.request("POST", url, json={"code": "1"}, params={"wait": "maybe"}), 400, "wait")
    missing = "00000000-0000-0000-0000-000000000000"
    assert_json_error(server.request("POST", f"api/kernels/{missing}/execute", json={"code": "1"}), 404, missing)
    assert_json_error(server.request("GET", f"api/kernels/{missing}/requests/abc"), 404, missing)
    assert_json_error(server.request("GET", f"api/kernels/{kernel_id}/requests/abc"), 404, "No such request")
    assert_json_error(server.request("DELETE", f"api/kernels/{kernel_id}/requests/abc"), 404)


def test_cookie_sessions_need_xsrf_and_tokens_do_not(server: Server, kernel_id: str) -> None:
    browser = requests.Session()
    # A token request gives a browser its login cookie.
    assert browser.get(f"{server.url}api/status", params={"token": TOKEN}, timeout=30).status_code == 200
    url = f"{server.url}api/kernels/{kernel_id}/execute"
    refused = browser.post(url, json={"code": "1"}, timeout=30)
    assert refused.status_code == 403 and "_xsrf" in refused.json()["message"]
    browser.cookies.set("_xsrf", "abc123")
    allowed = browser.post(url, json={"code": "1"}, headers={"X-XSRFToken": "abc123"}, timeout=30)
    assert allowed.status_code == 200 and allowed.json()["status"] == "ok"
    anonymous = requests.post(url, json={"code": "1"}, timeout=30)
    assert anonymous.status_code == 403


def test_the_openapi_document_describes_every_execute_route(server: Server) -> None:
    from flask_notebook import create_app

    spec = server.json("GET", "api/openapi.json", 200)
    assert spec["openapi"].startswith("3.1") and spec["servers"] == [{"url": "/"}]
    app = create_app({"NOTEBOOK_TOKEN": "x", "NOTEBOOK_ROOT_DIR": str(server.root)})
    routes = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("notebook.api.execute.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert len(routes) == 9
    for path, method in routes:
        assert method in spec["paths"][path], (path, method)
    assert server.request("GET", "api/openapi.json", headers={"Authorization": ""}).status_code == 403
