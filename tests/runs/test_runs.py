"""Runs on a real server with real kernels: parameters, in-place saves while running, failure,
errors allowed, cancel, timeout, queueing on one kernel, events and their resumption, input."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..support.execute import execute, stdout, wait_file
from ..support.kernels import add_kernelspec
from ..support.runs import get_run, read_notebook, start_run, stream, wait_run, write_notebook
from ..support.server import Server
from ..support.waiting import wait_for

PARAMETERS_CELL = {"cell_type": "code", "source": "alpha = 1\nname = 'default'", "metadata": {"tags": ["parameters"]},
                   "outputs": [], "execution_count": None, "id": "params"}


def _text(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell["outputs"] if o["output_type"] == "stream")


def test_parameters_are_injected_and_used_and_the_source_is_untouched(server: Server) -> None:
    write_notebook(server.root / "params.ipynb", "before = 'top'", PARAMETERS_CELL, "print(alpha, name, flags)")
    source = (server.root / "params.ipynb").read_bytes()
    run = start_run(server, path="params.ipynb", output_path="params-out.ipynb",
                    parameters={"alpha": 2.5, "name": "it's", "flags": [True, None, {"k": 1}]})
    assert run["status"] in ("queued", "running") and run["cells_total"] == 4 and run["parameters"]["alpha"] == 2.5
    done = wait_run(server, run["id"])
    assert done["status"] == "completed" and done["cells_done"] == 4 and "error" not in done
    assert (server.root / "params.ipynb").read_bytes() == source
    cells = read_notebook(server.root / "params-out.ipynb").cells
    injected = cells[2]
    assert injected.metadata.tags == ["injected-parameters"] and injected.id == run["cells"][2]
    assert injected.source == "# Parameters\nalpha = 2.5\nname = \"it's\"\nflags = [True, None, {'k': 1}]\n"
    assert _text(cells[3]) == "2.5 it's [True, None, {'k': 1}]\n"
    language = read_notebook(server.root / "params-out.ipynb").metadata.language_info
    assert language.name == "python" and language.version.startswith("3.") and language.file_extension == ".py"
    # Run again on the executed copy: its injected cell is replaced, not added to.
    again = wait_run(server, start_run(server, path="params-out.ipynb", output_path="params-out2.ipynb",
                                       parameters={"alpha": 3})["id"])
    cells = read_notebook(server.root / "params-out2.ipynb").cells
    assert again["status"] == "failed"  # `flags` is no longer given
    assert [c.metadata.get("tags") for c in cells].count(["injected-parameters"]) == 1 and len(cells) == 4
    assert cells[2].source == "# Parameters\nalpha = 3\n"


def test_parameters_without_a_parameters_cell_go_on_top(server: Server) -> None:
    write_notebook(server.root / "plain.ipynb", "print(alpha)")
    run = wait_run(server, start_run(server, path="plain.ipynb", output_path="plain-out.ipynb",
                                     parameters={"alpha": "x"})["id"])
    cells = read_notebook(server.root / "plain-out.ipynb").cells
    assert run["status"] == "completed" and cells[0].metadata.tags == ["injected-parameters"]
    assert _text(cells[1]) == "x\n"


def test_an_in_place_run_saves_outputs_while_it_runs_with_no_client(server: Server, tmp_path: Path) -> None:
    gates = [tmp_path / f"gate{i}" for i in range(2)]
    write_notebook(server.root / "slow.ipynb",
                   "print('one', flush=True)\n" + wait_file(gates[0]) + "print('two')",
                   wait_file(gates[1]) + "print('three')",
                   "print('four')", minor=4)
    run = start_run(server, path="slow.ipynb")
    assert run["output_path"] is None
    # Partial outputs on disk, while the first cell still runs; every read is valid nbformat.
    nb = wait_for(lambda: (nb := read_notebook(server.root / "slow.ipynb")).cells[0].outputs and nb, timeout=30)
    assert _text(nb.cells[0]) == "one\n" and nb.nbformat_minor == 5
    assert [c.id for c in nb.cells] == run["cells"]  # ids given to the old notebook are written
    assert nb.cells[0].metadata.flask_notebook.execution.status == "running"
    assert get_run(server, run["id"])["current_cell"] == run["cells"][0]
    for gate in gates:
        gate.touch()
        for _ in range(5):
            read_notebook(server.root / "slow.ipynb")
    done = wait_run(server, run["id"])
    assert done["status"] == "completed" and done["cells_done"] == 3
    nb = read_notebook(server.root / "slow.ipynb")
    assert [_text(c) for c in nb.cells] == ["one\ntwo\n", "three\n", "four\n"]
    counts = [c.execution_count for c in nb.cells]
    assert counts == sorted(counts) and None not in counts
    for cell in nb.cells:
        execution = cell.metadata.flask_notebook.execution
        assert execution.status == "ok" and execution.run_id == run["id"] and execution.duration >= 0


def test_a_failing_cell_stops_the_run_and_later_cells_are_untouched(server: Server) -> None:
    old_output = {"output_type": "stream", "name": "stdout", "text": "old\n"}
    write_notebook(server.root / "fail.ipynb", "print('ok')", "raise ValueError('bad value')",
                   {"cell_type": "code", "source": "print('later')", "metadata": {}, "outputs": [old_output],
                    "execution_count": 7, "id": "later"})
    run = wait_run(server, start_run(server, path="fail.ipynb")["id"])
    assert run["status"] == "failed" and run["cells_done"] == 2
    assert run["error"] == {"ename": "ValueError", "evalue": "bad value", "cell_id": "c1"}
    cells = read_notebook(server.root / "fail.ipynb").cells
    assert cells[1].outputs[-1].ename == "ValueError" and cells[1].metadata.flask_notebook.execution.status == "error"
    assert cells[2].outputs == [old_output] and cells[2].execution_count == 7 and "flask_notebook" not in cells[2].metadata


def test_a_cell_that_kills_the_kernel_fails_the_run_and_the_cells_before_it_stay_ok(server: Server) -> None:
    # Sent in one batch. The first cell ran, and says so; the run fails on the kernel's death.
    # (Without the pause, the process can die before ZMQ has sent the first cell's reply, and
    # then nothing can tell it ran. A reply that came with its idle lost is enough: the
    # executor ends that request as its reply says.)
    write_notebook(server.root / "die.ipynb", "x = 1\nprint('before')", "import os, time; time.sleep(0.5); os._exit(3)",
                   "print('after')")
    run = wait_run(server, start_run(server, path="die.ipynb")["id"])
    assert run["status"] == "failed" and run["error"]["ename"] == "DeadKernelError", run
    cells = read_notebook(server.root / "die.ipynb").cells
    assert cells[0].metadata.flask_notebook.execution.status == "ok" and _text(cells[0]) == "before\n"
    assert cells[0].execution_count == 1
    # The cell that died says so in its outputs (the kernel could not output an error itself).
    assert cells[1].outputs[-1].output_type == "error" and cells[1].outputs[-1].ename == "DeadKernelError", cells[1]
    assert "flask_notebook" not in cells[2].metadata


def test_a_cell_that_kills_its_kernel_at_once_says_so_after_an_earlier_run(server: Server, kernel_id: str) -> None:
    """SIGKILL from the cell's first line: the kernel can die before its iopub thread says the
    cell began. The cell is still the one it died in: its error is in the file."""
    write_notebook(server.root / "kill.ipynb", "1 + 1", "import os; os.kill(os.getpid(), 9)")
    first = wait_run(server, start_run(server, path="kill.ipynb", kernel_id=kernel_id, cells=["c0"])["id"])
    assert first["status"] == "completed", first
    run = wait_run(server, start_run(server, path="kill.ipynb", kernel_id=kernel_id, cells=["c1"])["id"])
    assert run["status"] == "failed" and run["error"]["ename"] == "DeadKernelError", run
    cells = read_notebook(server.root / "kill.ipynb").cells
    assert cells[1].outputs and cells[1].outputs[-1].ename == "DeadKernelError", cells[1]
    assert cells[1].metadata.flask_notebook.execution.status == "error"


def test_allow_errors_runs_every_cell(server: Server) -> None:
    write_notebook(server.root / "errors.ipynb", "1 / 0", "print('after')")
    run = wait_run(server, start_run(server, path="errors.ipynb", allow_errors=True)["id"])
    assert run["status"] == "completed" and run["cells_done"] == 2 and "error" not in run
    cells = read_notebook(server.root / "errors.ipynb").cells
    assert cells[0].outputs[0].ename == "ZeroDivisionError" and _text(cells[1]) == "after\n"


def test_cancel_interrupts_the_kernel_and_ends_the_run(server: Server, kernel_id: str) -> None:
    write_notebook(server.root / "forever.ipynb", "import time\nprint('started', flush=True)\nwhile True:\n"
                   "    time.sleep(0.05)", "print('never')")
    run = start_run(server, path="forever.ipynb", kernel_id=kernel_id)
    wait_for(lambda: _text(read_notebook(server.root / "forever.ipynb").cells[0]), timeout=30)
    began = time.monotonic()
    response = server.request("DELETE", f"api/runs/{run['id']}")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "cancelled" and time.monotonic() - began < 8
    assert response.json()["error"] == {"ename": "Cancelled", "evalue": "The run was cancelled", "cell_id": "c0"}
    cells = read_notebook(server.root / "forever.ipynb").cells
    assert cells[0].outputs[-1].ename == "KeyboardInterrupt"  # the kernel was interrupted, not killed
    assert cells[0].metadata.flask_notebook.execution.status == "aborted" and cells[1].outputs == []
    assert stdout(execute(server, kernel_id, "print('alive')").json()) == "alive\n"
    assert server.request("DELETE", f"api/runs/{run['id']}").json() == {"message": "The run has finished",
                                                                          "reason": "run finished"}


def test_a_notebook_a_run_writes_is_neither_deleted_renamed_nor_another_runs_output(server: Server) -> None:
    """Deleted or renamed while a run writes it, the run's next save would bring it back; a
    second run writing the same file would overwrite the first's outputs."""
    write_notebook(server.root / "busy.ipynb", "import time\nprint('started', flush=True)\nwhile True:\n"
                   "    time.sleep(0.05)")
    write_notebook(server.root / "other.ipynb", "1")
    run = start_run(server, path="busy.ipynb")
    wait_for(lambda: _text(read_notebook(server.root / "busy.ipynb").cells[0]), timeout=30)
    for method, body in (("DELETE", None), ("PATCH", {"path": "moved.ipynb"})):
        response = server.request(method, "api/contents/busy.ipynb", json=body)
        assert response.status_code == 409 and response.json()["reason"] == "run in progress", response.text
        assert run["id"] in response.json()["message"]
    refused = start_run(server, 409, path="other.ipynb", output_path="busy.ipynb")
    assert refused["reason"] == "run in progress" and run["id"] in refused["message"]
    assert (server.root / "busy.ipynb").exists() and not (server.root / "moved.ipynb").exists()
    assert server.request("DELETE", f"api/runs/{run['id']}").status_code == 202
    assert server.request("DELETE", "api/contents/busy.ipynb").status_code == 204


def test_a_cell_past_its_timeout_is_interrupted_and_fails_the_run(server: Server) -> None:
    write_notebook(server.root / "timeout.ipynb", "print('quick')", "import time\ntime.sleep(60)", "print('never')")
    run = wait_run(server, start_run(server, path="timeout.ipynb", timeout=2)["id"], timeout=30)
    assert run["status"] == "failed" and run["timeout"] == 2
    assert run["error"]["ename"] == "CellTimeoutError" and run["error"]["cell_id"] == "c1"
    cells = read_notebook(server.root / "timeout.ipynb").cells
    assert [o.ename for o in cells[1].outputs] == ["CellTimeoutError"] and cells[2].execution_count is None


def test_runs_of_one_kernel_run_one_after_another_in_order(server: Server, kernel_id: str, tmp_path: Path) -> None:
    gate, log = tmp_path / "gate", tmp_path / "order.log"
    append = "with open({!r}, 'a') as f:\n    f.write({!r})\n"
    write_notebook(server.root / "first.ipynb", wait_file(gate) + append.format(str(log), "first\n"))
    write_notebook(server.root / "second.ipynb", append.format(str(log), "second\n"))
    write_notebook(server.root / "third.ipynb", append.format(str(log), "third\n"))
    runs = [start_run(server, path=f"{name}.ipynb", kernel_id=kernel_id) for name in ("first", "second", "third")]
    wait_run(server, runs[0]["id"], until=("running",))
    assert [get_run(server, r["id"])["status"] for r in runs[1:]] == ["queued", "queued"]
    gate.touch()
    assert [wait_run(server, r["id"])["status"] for r in runs] == ["completed"] * 3
    assert log.read_text() == "first\nsecond\nthird\n"
    assert all(get_run(server, r["id"])["kernel_id"] == kernel_id for r in runs)
    assert server.kernel(kernel_id)["id"] == kernel_id  # the caller's kernel stays


def test_a_run_on_its_own_kernel_shuts_it_down_at_the_end(server: Server) -> None:
    write_notebook(server.root / "own.ipynb", "import os\nprint(os.getcwd())")
    (server.root / "sub").mkdir(exist_ok=True)
    write_notebook(server.root / "sub" / "own.ipynb", "import os\nprint(os.getcwd())")
    run = start_run(server, path="sub/own.ipynb")
    kernel_id = run["kernel_id"]
    assert kernel_id in [k["id"] for k in server.json("GET", "api/kernels", 200)]
    assert wait_run(server, run["id"])["status"] == "completed"
    assert _text(read_notebook(server.root / "sub" / "own.ipynb").cells[0]).strip() == str((server.root / "sub").resolve())
    wait_for(lambda: kernel_id not in [k["id"] for k in server.json("GET", "api/kernels", 200)], timeout=20)


def test_events_stream_each_cell_and_resume_after_the_last_event_seen(server: Server) -> None:
    write_notebook(server.root / "events.ipynb", "print('a')", "from IPython.display import display, clear_output\n"
                   "h = display('x', display_id=True)\nh.update('y')\nclear_output()\nprint('b')")
    run = start_run(server, path="events.ipynb")
    seen = stream(server, run["id"])
    names = [name for _, name, _ in seen]
    assert [number for number, _, _ in seen] == list(range(len(seen)))
    assert names[0] == "accepted" and names[-1] == "done" and seen[-1][2]["status"] == "completed"
    assert names.count("cell_started") == 2 and names.count("cell_finished") == 2
    assert {"output", "update_display", "clear_output"} <= set(names)
    finished = [data for _, name, data in seen if name == "cell_finished"]
    assert [f["cell_id"] for f in finished] == ["c0", "c1"] and finished[0]["status"] == "ok"
    assert finished[0]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "a\n"}]
    assert isinstance(finished[1]["execution_count"], int) and finished[1]["duration"] >= 0
    update = next(data for _, name, data in seen if name == "update_display")
    assert update["output"]["transient"]["display_id"] and update["cell_id"] == "c1"
    # A client that reconnects gets what came after the last event it saw, by header or query.
    middle = seen[3][0]
    assert stream(server, run["id"], headers={"Last-Event-ID": str(middle)}) == seen[middle + 1:]
    assert stream(server, run["id"], params={"from": str(middle)}) == seen[middle + 1:]


def test_a_later_cell_updates_an_earlier_cells_display_in_the_file_and_the_events(server: Server) -> None:
    write_notebook(server.root / "displays.ipynb",
                   "from IPython.display import display, update_display\n"
                   "h = display('first', display_id=True)\n_ = display('shared v0', display_id='shared')",
                   "_ = display('shared v0', display_id='shared')\nh.update('updated')",
                   "update_display('shared v1', display_id='shared')")
    run = start_run(server, path="displays.ipynb")
    seen = stream(server, run["id"])
    assert seen[-1][2]["status"] == "completed"
    shown = [data for _, name, data in seen if name == "output" and data["cell_id"] == "c0"]
    display_id = shown[0]["output"]["transient"]["display_id"]
    assert shown[1]["output"]["transient"] == {"display_id": "shared"}
    updates = [data for _, name, data in seen if name == "update_display"]
    assert [(u["cell_id"], u["output"]["transient"]["display_id"], u["output"]["data"]["text/plain"])
            for u in updates] == [("c1", display_id, "'updated'"), ("c2", "shared", "'shared v1'")]
    finished = next(data for _, name, data in seen if name == "cell_finished")
    assert all("transient" not in output for output in finished["outputs"])  # nbformat outputs
    # The file: every cell that shows a display has its last update, with no transient.
    cells = read_notebook(server.root / "displays.ipynb").cells
    assert [[o.data["text/plain"] for o in cell.outputs] for cell in cells] == [
        ["'updated'", "'shared v1'"], ["'shared v1'"], []]
    assert all("transient" not in output for cell in cells for output in cell.outputs)


def test_input_is_answered_through_the_run(server: Server) -> None:
    write_notebook(server.root / "ask.ipynb", "name = input('Who? ')\nprint('hello', name)")
    run = start_run(server, path="ask.ipynb")
    waiting = wait_run(server, run["id"], until=("running",))
    waiting = wait_for(lambda: (r := get_run(server, run["id"]))["input_request"] and r, timeout=30)
    assert waiting["input_request"] == {"cell_id": "c0", "prompt": "Who? ", "password": False}
    assert server.request("POST", f"api/runs/{run['id']}/input", json={"value": "ada"}).status_code == 204
    done = wait_run(server, run["id"])
    assert done["status"] == "completed" and done["input_request"] is None
    assert "hello ada" in _text(read_notebook(server.root / "ask.ipynb").cells[0])
    again = server.request("POST", f"api/runs/{run['id']}/input", json={"value": "x"})
    assert again.status_code == 409 and again.json()["reason"] == "not waiting for input"


def test_listing_filters_by_path_and_status_newest_first(server: Server) -> None:
    write_notebook(server.root / "listed.ipynb", "1")
    ids = [wait_run(server, start_run(server, path="listed.ipynb")["id"])["id"] for _ in range(3)]
    listed = server.json("GET", "api/runs", 200, params={"path": "listed.ipynb"})
    assert [r["id"] for r in listed["runs"]] == ids[::-1] and listed["total"] == 3
    page = server.json("GET", "api/runs", 200, params={"path": "listed.ipynb", "limit": "1", "offset": "1"})
    assert [r["id"] for r in page["runs"]] == [ids[1]] and page["total"] == 3
    assert server.json("GET", "api/runs", 200, params={"path": "listed.ipynb", "status": "failed"}) == \
        {"runs": [], "total": 0}
    assert server.request("GET", "api/runs", params={"status": "nope"}).status_code == 400


def test_bad_requests_are_refused_with_the_field_named(server: Server) -> None:
    write_notebook(server.root / "bad.ipynb", "1")
    add_kernelspec(server.base / "data", "rlang", ["/bin/false", "{connection_file}"], language="R")
    cases = [
        ({"path": "bad.ipynb", "cells": ["c0", "nope"]}, 400, "bad field: cells"),
        ({"path": "bad.ipynb", "parameters": {"a": 1}, "kernel_name": "rlang"}, 400, "bad field: parameters"),
        ({"path": "bad.ipynb", "parameters": {"not a name": 1}}, 400, "bad field: parameters"),
        ({"path": "bad.ipynb", "output_path": "bad.ipynb"}, 400, "bad field: output_path"),
        ({"path": "bad.ipynb", "output_path": "nowhere/out.ipynb"}, 400, "bad field: output_path"),
        ({"path": "bad.ipynb", "output_path": "../out.ipynb"}, 400, "bad field: output_path"),
        ({"path": "bad.ipynb", "timeout": 0}, 400, "bad field: timeout"),
        ({"path": "bad.ipynb", "kernel_name": "nope"}, 400, "bad field: kernel_name"),
        ({"path": "missing.ipynb"}, 404, None),
        ({"path": "bad.ipynb", "kernel_id": "00000000-0000-4000-8000-000000000000"}, 404, None),
        ({"cells": []}, 400, "bad field: path"),
    ]
    for body, status, reason in cases:
        response = server.request("POST", "api/runs", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["reason"] == reason and response.json()["message"], body
    message = server.request("POST", "api/runs", json=cases[1][0]).json()["message"]
    assert "'R'" in message
    assert server.request("GET", "api/runs/0123").json() == {"message": "No such run: 0123", "reason": None}
