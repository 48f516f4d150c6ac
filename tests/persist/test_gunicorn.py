"""A graceful rolling restart under gunicorn (``kill -HUP`` the master: new worker, old one
stopped) with NOTEBOOK_PERSIST_KERNELS loses no kernel and no session."""

from __future__ import annotations

import os
import signal

import pytest

from .conftest import PERSIST, Site, alive, stdout
from ..support.waiting import wait_for

pytestmark = pytest.mark.live


def test_hup_keeps_kernels_and_sessions(site: Site) -> None:
    server = site.start(PERSIST, gunicorn=True)
    kernel_id = server.start_kernel()
    session = server.json("POST", "api/sessions", 201,
                          json={"path": "b.ipynb", "type": "notebook", "kernel": {"id": kernel_id}})
    assert stdout(server.client(kernel_id).run("x = 'kept'\nprint(x)")) == "kept\n"
    (pid,) = site.kernel_pids()

    os.kill(server.proc.pid, signal.SIGHUP)
    wait_for(lambda: server.log().count("Booting worker") == 2 and "Worker exiting" in server.log(), timeout=30)
    assert [k["id"] for k in server.json("GET", "api/kernels", 200)] == [kernel_id]
    assert [s["id"] for s in server.json("GET", "api/sessions", 200)] == [session["id"]]
    assert stdout(server.client(kernel_id).run("print(x)")) == "kept\n"
    assert site.kernel_pids() == [pid] and alive(pid)
    # By the new worker's first pass, or by its late one when the old worker still ran then.
    assert f"kernel {kernel_id} (python3) re-attached" in server.log()


def test_what_the_old_server_starts_during_the_overlap_is_adopted_too(site: Site) -> None:
    """A rolling restart runs the old server beside the new one for a moment: the new one
    leaves the old one's kernels to it while it runs, and adopts them, with a kernel and a
    session the old one made after the new one had read the records, once it has exited (a
    later pass, ``persistence._late_pass``)."""
    old = site.start(PERSIST)
    early = old.start_kernel()
    old.client(early)
    new = site.start(PERSIST)
    late = old.start_kernel()
    session = old.json("POST", "api/sessions", 201, json={"path": "late.ipynb", "type": "notebook",
                                                          "kernel": {"id": late}})
    assert stdout(old.client(late).run("z = 5\nprint(z)")) == "5\n"
    assert old.stop() == 0
    wait_for(lambda: {k["id"] for k in new.json("GET", "api/kernels", 200)} == {early, late}, timeout=15)
    assert [s["id"] for s in new.json("GET", "api/sessions", 200)] == [session["id"]]
    assert stdout(new.client(late).run("print(z)")) == "5\n"
