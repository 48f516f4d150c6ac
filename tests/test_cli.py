"""The `flask-notebook` command and the live server: ports, signals, TLS, base URL, gunicorn, logs."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import trustme

from .support.env import AUTH, TOKEN
from .support.server import LiveServer
from .support.waiting import wait_for

pytestmark = pytest.mark.live
PROJECT = Path(__file__).parent.parent


def test_port_zero_prints_real_url_with_token(live_server: LiveServer) -> None:
    assert re.search(rf"at http://127\.0\.0\.1:{live_server.port}/\?token={TOKEN}", live_server.log())
    response = live_server.request("GET", "/api/contents")
    assert response.status_code == 200
    assert response.json()["type"] == "directory"


def test_port_in_use_is_a_clear_error(root: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "flask_notebook", "--port", str(port), "--no-browser", "--root-dir", str(root)],
            capture_output=True, text=True, timeout=30,
        )
    assert result.returncode == 1
    assert f"port {port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_the_server_cleanly(start_server: Callable[..., LiveServer], sig: int) -> None:
    server = start_server()
    assert server.request("GET", "/api").status_code == 200
    started = time.monotonic()
    assert server.stop(sig) == 0
    assert time.monotonic() - started < 5
    assert "stopped" in server.log() and "Traceback" not in server.log()


def test_token_from_environment(root: Path, tmp_path: Path) -> None:
    log = tmp_path / "env.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask_notebook", "--port", "0", "--no-browser", "--root-dir", str(root)],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "NOTEBOOK_TOKEN": "from-env-42"},
        )
        try:
            match = wait_for(lambda: re.search(r" at (http://\S+/)\?token=from-env-42", log.read_text()), timeout=20)
            url = match.group(1)
            assert requests.get(url + "api/contents", headers={"Authorization": "token from-env-42"},
                                timeout=10).status_code == 200
            assert requests.get(url + "api/contents", headers=AUTH, timeout=10).status_code == 403
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_tokens_never_reach_the_log(live_server: LiveServer) -> None:
    assert live_server.request("GET", f"/api/contents?token={TOKEN}").status_code == 200
    assert requests.get(f"{live_server.url}?token={TOKEN}", timeout=10).status_code == 200
    assert live_server.request("GET", "/api/status").status_code == 200
    live_server.stop()
    lines = [line for line in live_server.log().splitlines() if TOKEN in line]
    assert len(lines) == 1 and "is serving" in lines[0]  # only the start-up line
    assert "[redacted]" in live_server.log()


def test_base_url_prefixes_every_route(start_server: Callable[..., LiveServer]) -> None:
    server = start_server("--base-url", "/nb/")
    assert server.url.endswith("/nb/")
    assert server.request("GET", "/api/kernelspecs").status_code == 200
    created = server.request("POST", "/api/contents", json={"type": "notebook"})
    assert created.status_code == 201
    assert created.headers["Location"] == "/nb/api/contents/Untitled.ipynb"
    root_url = server.url.removesuffix("nb/")
    assert requests.get(root_url + "api/contents", headers=AUTH, timeout=10).status_code == 404


def test_base_url_from_the_environment(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(env={"NOTEBOOK_BASE_URL": "/from-env/"})
    assert server.url.endswith("/from-env/")  # the start-up line's URL, as the server prints it
    assert server.request("GET", "/api/kernelspecs").status_code == 200
    flag_wins = start_server("--base-url", "/flag/", env={"NOTEBOOK_BASE_URL": "/from-env/"})
    assert flag_wins.url.endswith("/flag/") and flag_wins.request("GET", "/api/status").status_code == 200


def test_tls_with_a_self_signed_certificate(start_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile, cafile = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(cafile))
    server = start_server("--certfile", str(certfile), "--keyfile", str(keyfile))
    assert server.url.startswith("https://127.0.0.1:")
    response = requests.get(server.url + "api/contents", headers=AUTH, verify=str(cafile), timeout=10)
    assert response.status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.url + "api/contents", headers=AUTH, timeout=10)  # untrusted CA: refused
    login = requests.get(f"{server.url}?token={TOKEN}", verify=str(cafile), timeout=10, allow_redirects=False)
    assert "secure" in login.headers["Set-Cookie"].lower()


def test_remote_host_header_refused_on_loopback(live_server: LiveServer) -> None:
    evil = live_server.request("GET", "/api/contents", headers={"Host": "evil.example"})
    assert evil.status_code == 403
    assert live_server.request("GET", "/api/contents", headers={"Host": "localhost"}).status_code == 200


def test_gunicorn_serves_the_same_app(root: Path, tmp_path: Path) -> None:
    (root / "hello.txt").write_text("hi")
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(gunicorn), "-k", "gevent", "-w", "1", "-b", "127.0.0.1:0", "app:app"],
                                cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            match = wait_for(lambda: re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text()),
                             timeout=30)
            url = match.group(1)

            def ready() -> requests.Response | None:
                try:
                    return requests.get(url + "/api/contents/hello.txt", headers=AUTH, timeout=5)
                except requests.ConnectionError:
                    return None

            response = wait_for(ready, timeout=20)
            assert response.status_code == 200
            assert response.json()["content"] == "hi"
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def test_hash_password_prints_a_usable_hash() -> None:
    from flask_notebook.core.auth import check_password

    result = subprocess.run([sys.executable, "-m", "flask_notebook", "--hash-password"], input="pw\n",
                            capture_output=True, text=True, timeout=30, check=True)
    hashed = result.stdout.strip()
    assert check_password("pw", hashed) and not check_password("other", hashed)
