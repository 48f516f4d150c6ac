"""A restart that fails is retried with backoff (issue 17, section 1): a kernel is declared
dead only when its process has exited and restarting it keeps failing, never at the first
failure. (Running out of descriptors: tests/kernels/test_descriptor_pressure.py.)"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from ..support.kernel_client import of_type, stdout_of
from ..support.kernels import add_vanishing_kernelspec
from ..support.server import Server
from ..support.waiting import wait_for

pytestmark = pytest.mark.live


def test_a_kernel_whose_restart_fails_comes_back_when_it_can_be_started_again(
        make_server: Callable[..., Server]) -> None:
    """Its program is gone when it dies, then back: the kernel is restarted (it was declared
    dead and removed at the first failed restart)."""
    srv = make_server()
    program = add_vanishing_kernelspec(srv.base)
    kid = srv.start_kernel(name="vanishing")
    client = srv.client(kid)
    pid = int(stdout_of(client.run("import os; print(os.getpid())")))
    program.rename(program.with_suffix(".away"))
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: "trying again" in srv.log() or "is dead" in srv.log(), timeout=30)
    assert "is dead" not in srv.log()
    model = srv.kernel(kid)
    assert model["execution_state"] == "restarting" and "SIGKILL" in model["reason"]
    program.with_suffix(".away").rename(program)
    wait_for(lambda: srv.kernel(kid)["execution_state"] == "idle", timeout=60)
    client.wait_ready()
    out = client.run("print(os.getpid()) if 'os' in dir() else print('fresh')")
    assert stdout_of(out) == "fresh\n"
    assert of_type(client.run("1 + 1"), "execute_result")[0]["content"]["data"]["text/plain"] == "2"
