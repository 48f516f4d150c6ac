"""gunicorn.conf.py bounds connections as the standalone server does, with what gunicorn's
gevent worker offers (issue 17, section 1): the soft open-file limit raised to the hard one,
``worker_connections`` derived from it (or NOTEBOOK_MAX_CONNECTIONS), and ``keepalive``,
under which the worker reads every request head."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..support.deploy import GunicornServer
from ..support.env import PROJECT
from ..support.kernels import kernel_processes
from ..support.waiting import wait_for

pytestmark = pytest.mark.live

#: Runs the command in argv[2:] with RLIMIT_NOFILE set to argv[1], "SOFT:HARD".
LIMITED = ("import os, resource, sys; soft, hard = map(int, sys.argv[1].split(':')); "
           "resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)); os.execv(sys.argv[2], sys.argv[2:])")
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


class LimitedGunicorn(GunicornServer):
    def command(self, root: Path, args: list[str]) -> list[str]:
        return [sys.executable, "-c", LIMITED, "256:1024", *super().command(root, args)]


def printed_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", LIMITED, "256:1024", GUNICORN, "-c", "gunicorn.conf.py",
                           "--print-config"], cwd=PROJECT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=60)


def setting(printed: str, name: str) -> str:
    match = re.search(rf"^{name}\s*= (.*)$", printed, re.M)
    assert match, printed
    return match.group(1)


def test_worker_connections_are_derived_from_the_raised_open_file_limit() -> None:
    printed = printed_config({}).stdout
    assert setting(printed, "worker_connections") == "480"  # (1024 - 64) / 2; was 10000 whatever the limit
    assert setting(printed, "keepalive") == "2"
    assert setting(printed_config({"NOTEBOOK_MAX_CONNECTIONS": "7"}).stdout, "worker_connections") == "7"
    refused = printed_config({"NOTEBOOK_MAX_CONNECTIONS": "many"})
    assert refused.returncode != 0
    assert "NOTEBOOK_MAX_CONNECTIONS must be a whole number above 0 (or unset), not 'many'" in refused.stderr


def test_the_worker_runs_with_the_raised_limit_and_closes_idle_connections(tmp_path: Path) -> None:
    server = LimitedGunicorn(tmp_path / "g")
    try:
        wait_for(lambda: "Booting worker" in server.log())  # (and after it, the worker's own line:)
        wait_for(lambda: "flask-notebook: open file limit" in server.log())
        children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
        [worker] = wait_for(lambda: [int(pid) for pid in children.read_text().split()])
        limits = Path(f"/proc/{worker}/limits").read_text()
        assert re.search(r"Max open files\s+1024\s+1024", limits), limits  # (was 256)
        assert "open file limit 1024 (raised from 256): at most 480 connections at once" in server.log()
        # A connection that sends nothing is closed within keepalive (2 s): gunicorn's own bound.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            started = time.monotonic()
            assert sock.recv(1) == b""
            assert time.monotonic() - started < 4
    finally:
        server.stop()
    assert not kernel_processes(server.runtime_dir)
