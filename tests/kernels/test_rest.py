"""`/api/kernels` and `/api/sessions` as jupyter_server answers them (contract sections 4 and 6)."""

from __future__ import annotations

import re
import time

from ..support.responses import assert_json_error
from ..support.server import Server
from ..support.waiting import wait_for

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
MODEL_KEYS = {"id", "name", "last_activity", "execution_state", "connections"}


def test_kernel_lifecycle_over_rest(server: Server) -> None:
    response = server.request("POST", "api/kernels")  # no body: the default kernel
    assert response.status_code == 201
    model = response.json()
    kid = model["id"]
    assert set(model) == MODEL_KEYS and model["name"] == "python3" and ISO.match(model["last_activity"])
    assert response.headers["Location"] == f"/api/kernels/{kid}"
    assert kid in [k["id"] for k in server.json("GET", "api/kernels", 200)]
    assert server.json("GET", "api/status", 200)["kernels"] >= 1
    # The server's own readiness check moves the state from "starting" to "idle".
    wait_for(lambda: server.kernel(kid)["execution_state"] == "idle", timeout=30)
    assert server.request("POST", f"api/kernels/{kid}/interrupt").status_code == 204
    restarted = server.json("POST", f"api/kernels/{kid}/restart", 200, json={})
    assert set(restarted) == MODEL_KEYS and restarted["id"] == kid
    assert server.request("DELETE", f"api/kernels/{kid}").status_code == 204
    assert_json_error(server.request("GET", f"api/kernels/{kid}"), 404, kid)
    assert_json_error(server.request("DELETE", f"api/kernels/{kid}"), 404)
    assert_json_error(server.request("POST", f"api/kernels/{kid}/restart"), 404)
    assert_json_error(server.request("POST", f"api/kernels/{kid}/interrupt"), 404)


def test_start_with_a_client_chosen_id(server: Server) -> None:
    kid = "11111111-2222-3333-4444-555555555555"
    first = server.json("POST", "api/kernels", 201, json={"kernel_id": kid, "env": {"IGNORED": "1"}})
    assert first["id"] == kid
    assert server.json("POST", "api/kernels", 201, json={"kernel_id": kid})["id"] == kid  # returned as is
    assert [k["id"] for k in server.json("GET", "api/kernels", 200)].count(kid) == 1
    server.json("DELETE", f"api/kernels/{kid}", 204)


def test_bad_kernel_requests(server: Server) -> None:
    assert_json_error(server.request("POST", "api/kernels", json={"name": "no-such-spec"}), 404, "no-such-spec")
    assert_json_error(server.request("POST", "api/kernels", json={"kernel_id": "../etc"}), 400, "kernel id")
    assert_json_error(server.request("POST", "api/kernels", json=["python3"]), 400)
    assert_json_error(server.request("POST", "api/kernels", json={"name": 3}), 400, "name")
    assert_json_error(server.request("POST", "api/kernels", data=b"{not json"), 400)


def test_a_kernel_that_cannot_start(server: Server) -> None:
    started = time.monotonic()
    body = assert_json_error(server.request("POST", "api/kernels", json={"name": "broken"}), 500, "broken")
    assert time.monotonic() - started < 10
    assert "No such file" in str(body["reason"]) or "nonexistent" in str(body["reason"])
    assert not [k for k in server.json("GET", "api/kernels", 200) if k["name"] == "broken"]
    kid = server.start_kernel()  # the server is healthy
    server.client(kid).close()
    server.json("DELETE", f"api/kernels/{kid}", 204)
    left = {p.stem.removeprefix("kernel-") for p in server.runtime_dir.glob("kernel-*.json")}
    assert left <= {k["id"] for k in server.json("GET", "api/kernels", 200)}  # none for the failed start


def test_session_lifecycle(server: Server) -> None:
    response = server.request("POST", "api/sessions", json={"path": "a/nb.ipynb", "type": "notebook",
                                                             "name": "nb", "kernel": {"name": "python3"}})
    assert response.status_code == 201
    session = response.json()
    sid, kid = session["id"], session["kernel"]["id"]
    assert set(session) == {"id", "path", "name", "type", "kernel", "notebook"}
    assert session["notebook"] == {"path": "a/nb.ipynb", "name": "nb"}
    assert set(session["kernel"]) == MODEL_KEYS
    assert response.headers["Location"] == f"/api/sessions/{sid}"
    # The same path gives the same session, still 201, whatever else is asked.
    again = server.json("POST", "api/sessions", 201, json={"path": "a/nb.ipynb", "type": "console",
                                                           "kernel": {"name": "broken"}})
    assert again["id"] == sid and again["kernel"]["id"] == kid
    assert server.json("GET", f"api/sessions/{sid}", 200)["path"] == "a/nb.ipynb"
    assert sid in [s["id"] for s in server.json("GET", "api/sessions", 200)]

    renamed = server.json("PATCH", f"api/sessions/{sid}", 200, json={"path": "b/moved.ipynb", "name": "moved"})
    assert renamed["path"] == "b/moved.ipynb" and renamed["name"] == "moved" and renamed["kernel"]["id"] == kid

    # Changing the kernel by name starts a new one and shuts the old one down.
    changed = server.json("PATCH", f"api/sessions/{sid}", 200, json={"kernel": {"name": "python3"}})
    assert changed["kernel"]["id"] != kid
    assert server.request("GET", f"api/kernels/{kid}").status_code == 404
    assert_json_error(server.request("PATCH", f"api/sessions/{sid}", json={"kernel": {"id": "nope-a-b-c-d"}}),
                      400, "No such kernel")
    unknown = server.request("PATCH", f"api/sessions/{sid}", json={"kernel": {"name": "no-such-spec"}})
    assert_json_error(unknown, 501, "The 'no-such-spec' kernel is not available")
    assert server.json("GET", f"api/sessions/{sid}", 200)["kernel"]["id"] == changed["kernel"]["id"]

    server.json("DELETE", f"api/sessions/{sid}", 204)
    assert server.request("GET", f"api/kernels/{changed['kernel']['id']}").status_code == 404
    assert_json_error(server.request("GET", f"api/sessions/{sid}"), 404)
    assert_json_error(server.request("DELETE", f"api/sessions/{sid}"), 404)


def test_session_on_an_existing_or_new_kernel_id(server: Server) -> None:
    kid = server.start_kernel()
    attached = server.json("POST", "api/sessions", 201, json={"path": "c.ipynb", "type": "notebook",
                                                              "kernel": {"id": kid}})
    assert attached["kernel"]["id"] == kid
    wanted = "99999999-8888-7777-6666-555555555555"
    made = server.json("POST", "api/sessions", 201, json={"path": "d.ipynb", "type": "console",
                                                          "kernel": {"id": wanted}})
    assert made["kernel"]["id"] == wanted and "notebook" not in made
    # A session whose kernel is shut down elsewhere disappears.
    server.json("DELETE", f"api/kernels/{kid}", 204)
    assert attached["id"] not in [s["id"] for s in server.json("GET", "api/sessions", 200)]
    assert_json_error(server.request("GET", f"api/sessions/{attached['id']}"), 404)
    server.json("DELETE", f"api/sessions/{made['id']}", 204)


def test_bad_session_requests(server: Server) -> None:
    assert_json_error(server.request("POST", "api/sessions"), 400, "No JSON data provided")
    assert_json_error(server.request("POST", "api/sessions", json={"type": "notebook"}), 400,
                      "Missing field in JSON data: path")
    assert_json_error(server.request("POST", "api/sessions", json={"path": "x.ipynb"}), 400,
                      "Missing field in JSON data: type")
    missing = server.request("POST", "api/sessions", json={"path": "y.ipynb", "type": "notebook",
                                                            "kernel": {"name": "no-such-spec"}})
    body = assert_json_error(missing, 501, "The 'no-such-spec' kernel is not available")
    assert body["short_message"] == "no-such-spec not found"
    failing = server.request("POST", "api/sessions", json={"path": "z.ipynb", "type": "notebook",
                                                            "kernel": {"name": "broken"}})
    assert_json_error(failing, 501, "could not be started")
    assert_json_error(server.request("POST", "api/sessions", json={"path": "../out.ipynb", "type": "notebook"}),
                      400, "outside root")
    # A kernel id names the connection file: one that could escape the runtime directory is refused.
    hostile = server.request("POST", "api/sessions", json={"path": "h.ipynb", "type": "notebook",
                                                            "kernel": {"id": "../../../tmp/x-a-b-c-d"}})
    assert_json_error(hostile, 400, "not a valid kernel id")
    assert not list(server.runtime_dir.parent.rglob("x-a-b-c-d*"))
    assert_json_error(server.request("PATCH", "api/sessions/nope", json={"name": "x"}), 404)
    assert_json_error(server.request("GET", "api/sessions/nope"), 404)


def test_legacy_session_body(server: Server) -> None:
    made = server.json("POST", "api/sessions", 201, json={"notebook": {"path": "legacy.ipynb"}})
    assert made["type"] == "notebook" and made["path"] == "legacy.ipynb"
    server.json("DELETE", f"api/sessions/{made['id']}", 204)
