"""The kernel registry's records and the sessions in the store, written through by the API
(an app and its test client, real kernels): put when a kernel is listed, a session made or
changed; deleted when they go. The key in a record is in a file only its owner can read."""

from __future__ import annotations

import stat
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from flask_notebook.core.store import kernels_table, sessions_table


def rows(app: Flask, table: str) -> dict[str, dict[str, object]]:
    state = app.extensions["notebook"]
    state.kernels.records.flush()
    return {str(r["id"]): r for r in state.store.records(kernels_table if table == "kernels" else sessions_table)}


def test_records_and_sessions_are_written_through(app: Flask, client: FlaskClient) -> None:
    made = client.post("/api/sessions", json={"path": "n.ipynb", "type": "notebook", "kernel": {"name": "python3"}})
    assert made.status_code == 201, made.text
    session = made.json
    kernel_id = session["kernel"]["id"]
    (record,) = rows(app, "kernels").values()
    kernel = app.extensions["notebook"].kernels.kernels[kernel_id]
    assert record["id"] == kernel_id and record["name"] == "python3" and record["listed"] is True
    assert record["connection_info"]["key"] == kernel.km.session.key.decode()
    assert record["provisioner"]["pid"] == kernel.pid and record["provisioner"]["process_start"]
    assert rows(app, "sessions")[session["id"]]["kernel_id"] == kernel_id

    renamed = client.patch(f"/api/sessions/{session['id']}", json={"path": "m.ipynb", "name": "m"})
    assert renamed.status_code == 200, renamed.text
    assert rows(app, "sessions")[session["id"]]["path"] == "m.ipynb"
    assert client.get(f"/api/sessions/{session['id']}").json == renamed.json

    # A new kernel for the session: the old one's record goes, the new one's comes.
    changed = client.patch(f"/api/sessions/{session['id']}", json={"kernel": {"name": "python3"}})
    assert changed.status_code == 200, changed.text
    new_kernel = changed.json["kernel"]["id"]
    assert set(rows(app, "kernels")) == {new_kernel}
    assert rows(app, "sessions")[session["id"]]["kernel_id"] == new_kernel

    assert client.delete(f"/api/sessions/{session['id']}").status_code == 204
    assert rows(app, "sessions") == {} and rows(app, "kernels") == {}


def test_a_kernel_shut_down_takes_its_sessions_rows_along(app: Flask, client: FlaskClient) -> None:
    made = client.post("/api/sessions", json={"path": "k.ipynb", "type": "notebook", "kernel": {"name": "python3"}})
    kernel_id = made.json["kernel"]["id"]
    assert client.delete(f"/api/kernels/{kernel_id}").status_code == 204
    assert rows(app, "kernels") == {} and rows(app, "sessions") == {}
    assert client.get("/api/sessions").json == []


def test_the_sqlite_store_is_private(app: Flask) -> None:
    url = app.extensions["notebook"].store.url
    path = Path(url.removeprefix("sqlite:///"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for other in path.parent.iterdir():  # its -wal and -shm files take its mode
        assert stat.S_IMODE(other.stat().st_mode) & 0o077 == 0, other
