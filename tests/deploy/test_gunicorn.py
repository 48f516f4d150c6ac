"""gunicorn.conf.py: `gunicorn -c gunicorn.conf.py app:app` serves the kernel WebSocket and,
on SIGTERM, leaves no kernel behind, promptly."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from ..support.env import PROJECT, TOKEN
from ..support.kernel_client import Closed, of_type, stdout_of
from ..support.kernels import kernel_processes
from ..support.server import Server
from ..support.terminal_client import TerminalSocket, alive
from ..support.waiting import wait_for

pytestmark = pytest.mark.live


def test_the_configuration_binds_loopback_with_one_gevent_worker() -> None:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    printed = subprocess.run([str(gunicorn), "-c", "gunicorn.conf.py", "--print-config"], cwd=PROJECT,
                             capture_output=True, text=True, timeout=60, check=True).stdout
    settings = dict(re.findall(r"^(\w+)\s*= (.*)$", printed, re.M))
    assert settings["bind"] == "['127.0.0.1:8888']"
    assert settings["workers"] == "1" and settings["worker_class"] == "gevent"
    assert settings["wsgi_app"] == "app:app" and settings["preload_app"] == "False"
    assert int(settings["graceful_timeout"]) <= 10 < int(settings["timeout"])
    assert settings["secure_scheme_headers"] == "{}" and settings["forwarded_allow_ips"] == "[]"


def test_sigterm_shuts_every_kernel_down(backend: Callable[..., Server]) -> None:
    """Two kernels, one with a WebSocket open and one busy in code that ignores interrupts:
    after SIGTERM gunicorn is gone within the graceful timeout, without killing its worker,
    and so are the kernels and their connection files."""
    server = backend("gunicorn")
    idle = server.start_kernel()
    busy = server.start_kernel()
    watcher = server.client(idle)
    assert of_type(watcher.run("6*7"), "execute_result")[0]["content"]["data"]["text/plain"] == "42"
    stubborn = server.client(busy)
    msg_id = stubborn.execute("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                              "print('looping', flush=True)\nwhile True:\n    time.sleep(0.05)")
    stubborn.until(lambda m: m["parent_header"].get("msg_id") == msg_id and stdout_of([m]) == "looping\n")
    assert len(kernel_processes(server.runtime_dir)) == 2
    assert len(list(server.runtime_dir.glob("kernel-*.json"))) == 2

    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    for client in (watcher, stubborn):  # the server closes the kernels' WebSockets
        try:
            client.until(lambda m: False, timeout=8)
        except Closed:
            pass
    assert server.proc.wait(timeout=15) == 0
    elapsed = time.monotonic() - started
    assert not kernel_processes(server.runtime_dir)
    assert not list(server.runtime_dir.glob("kernel-*.json"))
    log = server.log()
    assert elapsed < 8, f"gunicorn took {elapsed:.1f} s to stop:\n{log}"
    assert "kernels shut down" in log
    assert "graceful timeout" not in log and "SIGKILL" not in log and "Traceback" not in log.replace(
        "[IPKernelApp]", "")  # (the kernels' own shutdown chatter aside)


def test_gunicorn_ignores_forwarded_headers_unless_the_app_trusts_them(backend: Callable[..., Server]) -> None:
    """gunicorn by default believes X-Forwarded-Proto from a local peer; with gunicorn.conf.py
    only NOTEBOOK_TRUST_PROXY decides."""
    spoofed = {"X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/elsewhere"}
    plain = backend("gunicorn")
    page = requests.get(f"{plain.url}tree?token={TOKEN}", headers=spoofed, timeout=30)
    assert page.status_code == 200
    assert page.cookies and not any(cookie.secure for cookie in page.cookies)
    assert 'src="/static/' in page.text

    trusting = backend("gunicorn", env={"NOTEBOOK_TRUST_PROXY": "1"})
    page = requests.get(f"{trusting.url}tree?token={TOKEN}", headers=spoofed, timeout=30)
    assert page.status_code == 200
    assert "Secure" in page.headers["Set-Cookie"] and "Path=/elsewhere/" in page.headers["Set-Cookie"]
    assert 'src="/elsewhere/static/' in page.text


def test_without_a_token_one_is_generated_and_printed(backend: Callable[..., Server]) -> None:
    """app.py reads NOTEBOOK_TOKEN; without it, the token it makes is printed once: the only
    way to learn it."""
    server = backend("gunicorn", token=None)
    token = wait_for(lambda: re.search(r"generated token ([0-9a-f]{48})", server.log()), timeout=30).group(1)
    assert requests.get(server.url + "api/contents", headers={"Authorization": f"token {token}"},
                        timeout=30).status_code == 200
    assert requests.get(server.url + "api/contents", timeout=30).status_code == 403
    assert server.log().count(token) == 1


def test_terminals_work_under_gunicorn_and_end_with_the_worker(backend: Callable[..., Server],
                                                                tmp_path: Path) -> None:
    """The terminal WebSocket under gunicorn's gevent worker (gunicorn.socket, no parking);
    on SIGTERM the shells end, their sockets hear ``disconnect``, and gunicorn still stops
    promptly. (An empty HOME: the login shell must not run this machine's profile.)"""
    (tmp_path / "home").mkdir()
    server = backend("gunicorn", env={"HOME": str(tmp_path / "home")})
    name = server.json("POST", "api/terminals", 200)["name"]
    try:
        term = TerminalSocket(server.url, name)
        assert term.next() == ["setup", {}]
        assert term.run("echo hi-$((6*7))").strip() == "hi-42"
        term.send("set_size", 30, 100)
        # Asked again until it shows: one full-suite run in many printed the old size here once,
        # with the server reading the socket's messages in order (not reproduced: 20 runs alone
        # and 12 under CPU load passed). That a resize from one socket applies before its next
        # keystroke is asserted in tests/terminals/test_terminals_live.py; here, that it applies.
        wait_for(lambda: term.run("stty size").strip() == "30 100", timeout=20)
        pid = int(term.run("echo $$").strip())
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert term.until_closed()[-1] == ["disconnect", 1]
        assert server.proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 8
        assert not alive(pid)
    finally:
        TerminalSocket.close_all()
