"""Runs and the server's settings and lifetime: the concurrency cap, the input timeout, and
history across restarts (a run interrupted by a stop reported as such)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from flask_notebook.core.runrecord import Run, RunRequest
from flask_notebook.core.store import runs_table

from ..support.execute import wait_file
from ..support.kernels import kernel_processes
from ..support.runs import get_run, read_notebook, start_run, wait_run, write_notebook
from ..support.server import Server
from ..support.store import run_records, server_store
from ..support.waiting import wait_for


def test_runs_on_separate_kernels_run_at_once_up_to_the_cap(make_server: Callable[..., Server],
                                                            tmp_path: Path) -> None:
    server = make_server(env={"NOTEBOOK_MAX_CONCURRENT_RUNS": "2"})
    gate = tmp_path / "gate"
    for name in ("a", "b", "c"):
        write_notebook(server.root / f"{name}.ipynb", f"print('{name}', flush=True)\n" + wait_file(gate))
    runs = [start_run(server, path=f"{name}.ipynb") for name in ("a", "b", "c")]
    assert len({run["kernel_id"] for run in runs}) == 3  # each its own kernel, started at once
    # Two run together (both print before either may end); the third waits for a place.
    for name in ("a", "b"):
        wait_for(lambda: read_notebook(server.root / f"{name}.ipynb").cells[0].outputs, timeout=30)
    assert [get_run(server, run["id"])["status"] for run in runs] == ["running", "running", "queued"]
    gate.touch()
    assert [wait_run(server, run["id"])["status"] for run in runs] == ["completed"] * 3


def test_an_unanswered_input_fails_the_cell_after_the_input_timeout(make_server: Callable[..., Server]) -> None:
    server = make_server(env={"NOTEBOOK_RUN_INPUT_TIMEOUT": "1"})
    write_notebook(server.root / "ask.ipynb", "input('Anyone? ')", "print('never')")
    run = wait_run(server, start_run(server, path="ask.ipynb")["id"], timeout=30)
    assert run["status"] == "failed" and run["error"]["ename"] == "InputTimeout" and run["error"]["cell_id"] == "c0"
    assert "NOTEBOOK_RUN_INPUT_TIMEOUT" in run["error"]["evalue"]
    cells = read_notebook(server.root / "ask.ipynb").cells
    assert [o.get("ename") for o in cells[0].outputs if o.output_type == "error"] == ["InputTimeout"]
    assert cells[1].execution_count is None


def test_history_survives_a_restart_and_runs_cut_by_a_stop_say_so(tmp_path: Path) -> None:
    base = tmp_path / "srv"
    gate = tmp_path / "gate"
    server = Server(base)
    try:
        write_notebook(server.root / "quick.ipynb", "print('done')")
        write_notebook(server.root / "slow.ipynb", "print('started', flush=True)\n" + wait_file(gate))
        finished = wait_run(server, start_run(server, path="quick.ipynb")["id"])
        cut = start_run(server, path="slow.ipynb")
        wait_for(lambda: read_notebook(server.root / "slow.ipynb").cells[0].outputs, timeout=30)
    finally:
        assert server.stop() == 0
    # A clean stop cancels the running run (its kernel interrupted, the outputs saved) first.
    assert read_notebook(base / "root" / "slow.ipynb").cells[0].metadata.flask_notebook.execution.status == "aborted"
    # A run the server never finished (it was killed) has its record in the database still queued or running.
    crashed = run_records(base)[finished["id"]]
    crashed.update(id="c" * 32, status="running", current_cell="c0", finished=None, finished_ts=None)
    store = server_store(base)
    try:
        store.put(runs_table, "c" * 32, crashed, owner=None, status="running", created=crashed["created_ts"])
    finally:
        store.close()
    wait_for(lambda: not kernel_processes(server.runtime_dir), timeout=15)

    server = Server(base)
    try:
        assert get_run(server, finished["id"]) == finished
        stopped = get_run(server, cut["id"])
        assert stopped["status"] == "cancelled" and stopped["error"] == {
            "ename": "Cancelled", "evalue": "The server stopped during the run", "cell_id": "c0"}
        lost = get_run(server, "c" * 32)
        assert lost["status"] == "failed" and lost["finished"] is not None
        assert lost["error"] == {"ename": "ServerStopped", "evalue": "The server stopped while the run was running",
                                 "cell_id": "c0"}
        listed = server.json("GET", "api/runs", 200)
        assert {r["id"] for r in listed["runs"]} == {finished["id"], cut["id"], "c" * 32}
        assert run_records(base)["c" * 32]["status"] == "failed"
    finally:
        server.stop()


def test_history_keeps_at_most_the_configured_count(make_server: Callable[..., Server]) -> None:
    server = make_server(env={"NOTEBOOK_RUN_HISTORY": json.dumps({"count": 2, "age": 3600})})
    write_notebook(server.root / "n.ipynb", "1")
    ids = [wait_run(server, start_run(server, path="n.ipynb")["id"])["id"] for _ in range(3)]
    listed = server.json("GET", "api/runs", 200)
    assert [r["id"] for r in listed["runs"]] == ids[:0:-1] and listed["total"] == 2
    assert server.request("GET", f"api/runs/{ids[0]}").status_code == 404
    assert sorted(run_records(server.base)) == sorted(ids[1:])


def test_the_run_files_of_an_older_version_are_imported_into_the_database_once(tmp_path: Path) -> None:
    """Before the database, each run's record was a JSON file in <data>/flask_notebook/runs/:
    a server started on such a data directory moves them into the database and removes them."""
    base = tmp_path / "srv"
    folder = base / "data" / "flask_notebook" / "runs"
    folder.mkdir(parents=True)
    done = Run(RunRequest(path="a.ipynb"), kernel_name="python3", cells=["c0"], owner=None, injected_cell=None)
    done.finish("completed", None)
    cut = Run(RunRequest(path="b.ipynb"), kernel_name="python3", cells=["c0"], owner=None, injected_cell=None)
    for run in (done, cut):
        (folder / f"{run.id}.json").write_text(json.dumps(run.record()))
    (folder / "junk.json").write_text("{not json")
    server = Server(base)
    try:
        assert get_run(server, done.id) == done.model()
        assert get_run(server, cut.id)["error"]["ename"] == "ServerStopped"
        assert sorted(p.name for p in folder.iterdir()) == ["junk.json"]  # an unreadable file is left, and said
        assert "imported 2 run record(s) from" in server.log() and "junk.json not imported" in server.log()
        records = run_records(base)
        assert records[done.id]["status"] == "completed" and records[cut.id]["status"] == "failed"
    finally:
        assert server.stop() == 0
    (folder / "junk.json").unlink()
    server = Server(base)  # nothing left to import: the folder goes, the records stay
    try:
        assert {r["id"] for r in server.json("GET", "api/runs", 200)["runs"]} == {done.id, cut.id}
        assert not folder.exists()
    finally:
        server.stop()
