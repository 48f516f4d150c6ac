"""Runs (``/api/runs``): notebooks to run, starting runs, waiting for them, their events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import requests

from .execute import events
from .server import LiveServer
from .waiting import wait_for

FINAL = ("completed", "failed", "cancelled")


def write_notebook(path: Path, *cells: str | dict[str, Any], kernel: str | None = "python3",
                   minor: int = 5) -> list[str]:
    """A notebook of code cells (a string is a cell's source; a dict is a whole cell), with ids
    c0, c1, ... (none for a `minor` below 5); returns the ids."""
    nb_cells = []
    for index, cell in enumerate(cells):
        full: dict[str, Any] = {"cell_type": "code", "source": cell, "metadata": {}, "outputs": [],
                                "execution_count": None} if isinstance(cell, str) else dict(cell)
        if minor >= 5:
            full.setdefault("id", f"c{index}")
        nb_cells.append(full)
    metadata: dict[str, Any] = {}
    if kernel is not None:
        metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    path.write_text(json.dumps({"cells": nb_cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": minor}))
    return [str(cell.get("id")) for cell in nb_cells]


def read_notebook(path: Path) -> Any:
    """The notebook on disk, which must be valid nbformat."""
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    return nb


def start_run(srv: LiveServer, status: int = 202, **body: Any) -> Any:
    response = srv.request("POST", "api/runs", json=body)
    assert response.status_code == status, (response.status_code, response.text)
    if status == 202:
        assert response.headers["Location"].endswith(f"/api/runs/{response.json()['id']}")
    return response.json()


def get_run(srv: LiveServer, run_id: str) -> Any:
    response = srv.request("GET", f"api/runs/{run_id}")
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()


def wait_run(srv: LiveServer, run_id: str, timeout: float = 60, until: tuple[str, ...] = FINAL) -> Any:
    """The run once its status is one of `until` (by default, once it has finished)."""
    return wait_for(lambda: (run := get_run(srv, run_id))["status"] in until and run, timeout=timeout)


def stream(srv: LiveServer, run_id: str, headers: dict[str, str] | None = None,
           params: dict[str, str] | None = None) -> list[tuple[int, str, Any]]:
    """Every event of the run's stream, to its end: (id, event, data)."""
    response = srv.request("GET", f"api/runs/{run_id}", stream=True, params=params,
                           headers={"Accept": "text/event-stream", **(headers or {})})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    return list(_numbered(response))


def _numbered(response: requests.Response) -> Any:
    number, name, data = None, "message", []
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if data:
                yield int(number or -1), name, json.loads("\n".join(data))
            number, name, data = None, "message", []
        elif line.startswith("id: "):
            number = line[4:]
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])


__all__ = ["events", "FINAL", "write_notebook", "read_notebook", "start_run", "get_run", "wait_run", "stream"]
