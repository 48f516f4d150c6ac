"""Runs belong to their user: another user's run answers the 404 of a missing one and is
never listed; an administrator sees every run, with its owner. Runs are audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..multiuser.conftest import Member, Site, alice, bob, root, site  # noqa: F401 (fixtures)
from ..support.execute import wait_file
from ..support.runs import read_notebook, start_run, wait_run, write_notebook
from ..support.server import Server
from ..support.waiting import wait_for


def _write(member: Member, name: str, *cells: str) -> None:
    member.api("GET", "contents", 200)  # the workspace is made at the user's first request
    write_notebook(member.site.workspace(member.key.removesuffix("-key")) / name, *cells)


def _wait(member: Member, run_id: str) -> Any:
    return wait_for(lambda: (r := member.api("GET", f"runs/{run_id}", 200))["status"] in
                    ("completed", "failed", "cancelled") and r, timeout=60)


def test_another_users_run_is_not_found_and_not_listed(site: Site, alice: Member, bob: Member, root: Member,
                                                       tmp_path: Path) -> None:
    _write(alice, "mine.ipynb", "import os\nprint(os.getcwd())")
    run = alice.api("POST", "runs", 202, json={"path": "mine.ipynb"})
    assert "owner" not in run
    done = _wait(alice, run["id"])
    assert done["status"] == "completed"
    cell = read_notebook(site.workspace("alice") / "mine.ipynb").cells[0]
    assert cell.outputs[0].text.strip() == str(site.workspace("alice").resolve())
    expected = {"message": f"No such run: {run['id']}", "reason": None}
    assert bob.api("GET", f"runs/{run['id']}", 404) == expected
    assert bob.api("DELETE", f"runs/{run['id']}", 404) == expected
    assert bob.api("POST", f"runs/{run['id']}/input", 404, json={"value": "x"}) == expected
    assert bob.api("GET", "runs", 200) == {"runs": [], "total": 0}
    # bob cannot run alice's notebook (his path is in his own workspace) nor on her kernel
    assert bob.api("POST", "runs", 404, json={"path": "mine.ipynb"})["reason"] is None
    kernel_id = alice.start_kernel()
    assert bob.api("POST", "runs", 404, json={"path": "x.ipynb", "kernel_id": kernel_id})
    _write(bob, "his.ipynb", "1")
    assert bob.api("POST", "runs", 404, json={"path": "his.ipynb", "kernel_id": kernel_id}) == \
        {"message": f"Kernel does not exist: {kernel_id}", "reason": None}
    # the administrator sees every run, with its owner
    listed = root.api("GET", "runs", 200)
    assert [(r["id"], r["owner"]) for r in listed["runs"] if r["id"] == run["id"]] == [(run["id"], "alice")]
    assert root.api("GET", f"runs/{run['id']}", 200)["owner"] == "alice"
    assert [r["id"] for r in alice.api("GET", "runs", 200)["runs"]] == [run["id"]]


def test_a_users_run_on_their_kernel_queues_there(site: Site, alice: Member, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    _write(alice, "wait.ipynb", wait_file(gate) + "print('through')")
    kernel_id = alice.start_kernel()
    first = alice.api("POST", "runs", 202, json={"path": "wait.ipynb", "kernel_id": kernel_id})
    second = alice.api("POST", "runs", 202, json={"path": "wait.ipynb", "kernel_id": kernel_id})
    assert alice.api("GET", f"runs/{second['id']}", 200)["status"] == "queued"
    # On another kernel, an in-place run of the same notebook would overwrite these outputs.
    clash = alice.api("POST", "runs", 409, json={"path": "wait.ipynb"})
    assert clash["reason"] == "run in progress"
    assert alice.api("DELETE", f"runs/{second['id']}", 202)["status"] == "cancelled"
    gate.touch()
    assert _wait(alice, first["id"])["status"] == "completed"
    assert alice.api("DELETE", f"runs/{first['id']}", 409)["message"] == "The run has finished"


def test_runs_are_in_the_audit_log(make_server: Callable[..., Server], tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    server = make_server(env={"NOTEBOOK_AUDIT_LOG": str(log)})
    write_notebook(server.root / "audited.ipynb", "import time\ntime.sleep(60)")
    run = start_run(server, path="audited.ipynb")
    assert server.request("DELETE", f"api/runs/{run['id']}").status_code == 202
    assert wait_run(server, run["id"])["status"] == "cancelled"
    assert server.request("GET", "api/runs/" + "0" * 32).status_code == 404
    assert server.stop() == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    runs = [(line["action"], line.get("resource"), line.get("path"), line["outcome"]) for line in lines
            if line["action"].startswith("run.")]
    assert runs == [("run.start", run["id"], "audited.ipynb", "ok"), ("run.cancel", run["id"], None, "ok")]
    assert any(line["action"] == "access" and line["outcome"] == "denied" and line["status"] == 404
               for line in lines)
