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
    assert "1 of 1 kernel(s) of the previous server re-attached" in server.log()
