"""NOTEBOOK_EXECUTE_TIMEOUT: the timeout of a REST execution that sets none, so that no request
waits for ever on a kernel that hangs (see also tests/kernels/test_hanging.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from flask_notebook import create_app

from ..support.execute import execute, result, stdout
from ..support.server import Server


@pytest.mark.live
def test_a_request_without_a_timeout_gets_the_default_and_the_kernel_survives_it(
        make_server: Callable[..., Server]) -> None:
    server = make_server(env={"NOTEBOOK_EXECUTE_TIMEOUT": "1.5"})
    kernel_id = server.start_kernel()
    assert execute(server, kernel_id, "x = 42").json()["status"] == "ok"
    start = time.monotonic()
    record = execute(server, kernel_id, "import time\nprint('going', flush=True)\ntime.sleep(60)").json()
    assert record["status"] == "timeout" and stdout(record) == "going\n"
    assert time.monotonic() - start < 15
    assert result(execute(server, kernel_id, "x").json()) == "42"
    # A timeout in the request wins over the default, longer or shorter.
    assert execute(server, kernel_id, "time.sleep(2.5)\n'done'", timeout=30).json()["status"] == "ok"
    assert execute(server, kernel_id, "time.sleep(60)", timeout=0.5).json()["status"] == "timeout"
    # /api/execute too.
    once = server.request("POST", "api/execute", json={"code": "import time; time.sleep(60)"}, timeout=30)
    assert once.status_code == 200 and once.json()["status"] == "timeout"


@pytest.mark.parametrize("value, seconds", [(0, None), (None, None), ("", None), (2.5, 2.5), ("30", 30.0)])
def test_the_default_timeout_may_be_switched_off(root: Path, value: object, seconds: float | None) -> None:
    app = create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_EXECUTE_TIMEOUT": value})
    assert app.extensions["notebook"].executions.default_timeout == seconds
    app.extensions["notebook"].shutdown_all()


@pytest.mark.parametrize("value", [-1, "soon", True, float("inf"), [5]])
def test_a_default_timeout_that_is_not_seconds_is_refused_at_start(root: Path, value: object) -> None:
    with pytest.raises(ValueError, match="NOTEBOOK_EXECUTE_TIMEOUT"):
        create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_EXECUTE_TIMEOUT": value})


def test_the_default_is_half_an_hour(root: Path) -> None:
    app = create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root)})
    assert app.config["NOTEBOOK_EXECUTE_TIMEOUT"] == 1800
    assert app.extensions["notebook"].executions.default_timeout == 1800
    app.extensions["notebook"].shutdown_all()
