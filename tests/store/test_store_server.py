"""The store under a real server (gevent, its writer thread): what survives a restart on the
same database, and a write stuck on a lock that does not stop the server."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import requests

from ..support.execute import execute, stdout, wait_file
from ..support.kernels import kernel_processes
from ..support.runs import get_run, start_run, wait_run, write_notebook
from ..support.server import Server
from ..support.store import run_records
from ..support.waiting import wait_for


def test_runs_and_execution_records_survive_a_restart(db_url: str, tmp_path: Path) -> None:
    base, env = tmp_path / "srv", {"NOTEBOOK_DATABASE_URL": db_url}
    server = Server(base, env=env)
    try:
        kernel_id = server.start_kernel()
        record = execute(server, kernel_id, "print('kept')").json()
        once = server.json("POST", "api/execute", 200, json={"code": "print('once')"})
        write_notebook(server.root / "n.ipynb", "print('ran')")
        run = wait_run(server, start_run(server, path="n.ipynb")["id"])
        assert run["status"] == "completed"
    finally:
        assert server.stop() == 0
    wait_for(lambda: not kernel_processes(server.runtime_dir), timeout=15)

    server = Server(base, env=env)
    try:
        assert get_run(server, run["id"]) == run
        assert server.json("GET", "api/runs", 200)["runs"] == [run]
        # The kernel is gone with the server; its request's record is still answered, as it was.
        assert server.json("GET", f"api/kernels/{kernel_id}/requests/{record['id']}", 200) == record
        assert stdout(record) == "kept\n"
        assert server.json("GET", f"api/execute/{once['id']}", 200) == once
        assert server.request("GET", f"api/kernels/{'0' * 32}/requests/{record['id']}").status_code == 404
        assert server.request("GET", f"api/execute/{'0' * 32}").status_code == 404
        # As a stream: the outputs, then the record.
        streamed = server.request("GET", f"api/execute/{once['id']}", headers={"Accept": "text/event-stream"})
        assert streamed.status_code == 200 and "event: done" in streamed.text and "once" in streamed.text
    finally:
        server.stop()
    assert run_records(base, db_url)[run["id"]]["status"] == "completed"


def test_a_write_waiting_on_a_lock_does_not_stop_the_server(db_url: str, tmp_path: Path) -> None:
    """Another connection holds a lock the server's next write needs (PostgreSQL: the run's row,
    FOR UPDATE; SQLite, which has no row locks: the database's write lock). The write waits on
    the writer thread; the server goes on answering meanwhile, and the write lands once the
    lock goes."""
    gate = tmp_path / "gate"
    server = Server(tmp_path / "srv", env={"NOTEBOOK_DATABASE_URL": db_url})
    holder: Any = None
    try:
        write_notebook(server.root / "slow.ipynb", wait_file(gate) + "print('end')")
        run = start_run(server, path="slow.ipynb")
        wait_for(lambda: get_run(server, run["id"])["status"] == "running", timeout=30)
        # The run waits for its "running" record to be written before its first cell: the lock
        # must come after that write, or the cell (and the end this test waits for) waits for it.
        wait_for(lambda: run_records(server.base, db_url).get(run["id"], {}).get("status") == "running", timeout=30)
        if db_url.startswith("postgresql"):
            holder = psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql"))
            holder.execute("SELECT id FROM runs WHERE id = %s FOR UPDATE", (run["id"],))
        else:
            holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
            holder.execute("BEGIN IMMEDIATE")
        gate.touch()  # the run ends: its record's write waits for the lock
        wait_for(lambda: get_run(server, run["id"])["status"] == "completed", timeout=30)
        if db_url.startswith("postgresql"):
            with psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as watcher:
                def waiting() -> bool:  # the server's write, waiting for our lock
                    row = watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                          "AND datname = current_database()").fetchone()
                    return row is not None and row[0] == 1
                wait_for(waiting, timeout=10)
        # Meanwhile, a second run's first write queues behind the stuck one: its POST waits too.
        write_notebook(server.root / "quick.ipynb", "1")
        second: dict[str, Any] = {}
        poster = threading.Thread(target=lambda: second.update(start_run(server, path="quick.ipynb")))
        poster.start()
        # A hub held by the waiting write would answer none of these before the lock goes,
        # which is after them: they would time out.
        for _ in range(5):
            assert server.request("GET", "api/status", timeout=5).status_code == 200
            assert server.request("GET", "api/kernelspecs", timeout=5).status_code == 200
        assert poster.is_alive() and not second
        holder.rollback() if db_url.startswith("postgresql") else holder.execute("ROLLBACK")
        poster.join(timeout=30)
        assert second and wait_run(server, second["id"])["status"] == "completed"
        records = run_records(server.base, db_url)
        assert records[run["id"]]["status"] == "completed"
    finally:
        if holder is not None:
            holder.close()
        server.stop()
