"""Fixtures: a fresh app per test (flaskr style), a host app, and a real server in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Playwright, sync_playwright
from werkzeug.test import TestResponse

from flask_notebook import Notebook, create_app

TOKEN = "test-token-0123456789"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
AUTH = {"Authorization": f"token {TOKEN}"}


def wait_for(predicate: Callable[[], Any], timeout: float = 10, interval: float = 0.02) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def assert_error(response: TestResponse, status: int, message: str | None = None) -> dict[str, Any]:
    """An error with `status` whose body is exactly ``{"message": str, "reason": str | None}``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"message", "reason"}
    assert isinstance(body["message"], str) and body["message"]
    assert body["reason"] is None or isinstance(body["reason"], str)
    if message is not None:
        assert body["message"] == message
    return body


def isolated_env(base: Path) -> dict[str, str]:
    """Environment variables that point every Jupyter directory into `base`."""
    env = {"JUPYTER_PLATFORM_DIRS": "1", "IPYTHONDIR": str(base / "ipython")}
    for name in ("CONFIG", "DATA", "RUNTIME"):
        (base / name.lower()).mkdir(parents=True, exist_ok=True)
        env[f"JUPYTER_{name}_DIR"] = str(base / name.lower())
    return env


@pytest.fixture(autouse=True)
def jupyter_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every Jupyter directory at a temporary one, so the machine's settings never leak in."""
    base = tmp_path_factory.mktemp("jupyter")
    for key, value in isolated_env(base).items():
        monkeypatch.setenv(key, value)
    for key in list(os.environ):
        if key.startswith("NOTEBOOK_"):
            monkeypatch.delenv(key)
    return base


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def app(root: Path) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN})
    yield app
    app.extensions["notebook"].shutdown_all()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A client that sends the token header on every request (and keeps no cookies)."""
    client = app.test_client(use_cookies=False)
    client.environ_base["HTTP_AUTHORIZATION"] = AUTH["Authorization"]
    return client


@pytest.fixture
def anon(app: Flask) -> FlaskClient:
    """A client with no credentials at all."""
    return app.test_client()


@pytest.fixture
def host_app(root: Path) -> Iterator[Flask]:
    """A plain Flask site with its own error pages, with the notebook mounted at /nb."""
    host = Flask("host")
    host.config.update(TESTING=True, NOTEBOOK_ROOT_DIR=str(root), NOTEBOOK_TOKEN=TOKEN)

    @host.errorhandler(404)
    def not_found(_: Exception) -> tuple[str, int]:
        return "<html>host 404</html>", 404

    @host.errorhandler(500)
    def server_error(_: Exception) -> tuple[str, int]:
        return "<html>host 500</html>", 500

    @host.get("/")
    def home() -> str:
        return "host home"

    Notebook(host, url_prefix="/nb")
    yield host
    host.extensions["notebook"].shutdown_all()


class LiveServer:
    """The real `python -m flask_notebook` in a subprocess, gevent-patched as in production."""

    def __init__(self, root: Path, log_path: Path, args: list[str], env: dict[str, str]) -> None:
        self.root = root
        self.log_path = log_path
        self.token = TOKEN
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(self.command(root, args), stdout=self._log, stderr=subprocess.STDOUT, env=env)
        match = wait_for(self._url_line, timeout=20)
        self.url = match.group(1)  # e.g. http://127.0.0.1:PORT/
        self.port = int(match.group(2))

    def command(self, root: Path, args: list[str]) -> list[str]:
        return [sys.executable, "-m", "flask_notebook", "--port", "0", "--no-browser",
                "--root-dir", str(root), "--token", TOKEN, *args]

    def _url_line(self) -> re.Match[str] | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
        return re.search(r" at (https?://[^:/]+:(\d+)/[^?\s]*)\?token=", self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**AUTH, **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 30)
        return requests.request(method, self.url + path.lstrip("/"), headers=headers, **kwargs)

    def stop(self, sig: int | None = None) -> int:
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def start_server(tmp_path: Path, root: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start live servers with extra command-line arguments; all are stopped at teardown."""
    servers: list[LiveServer] = []

    def start(*args: str, env: dict[str, str] | None = None, root_dir: Path | None = None) -> LiveServer:
        server = LiveServer(root_dir or root, tmp_path / f"server-{len(servers)}.log", list(args),
                            {**os.environ, **(env or {})})
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def live_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Failures of live tests include the server's log."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and "live_server" in getattr(item, "funcargs", {}):
        report.sections.append(("server log", item.funcargs["live_server"].log()))


# -- the browser: one per test process ------------------------------------------------------------
# Playwright's sync API allows one instance per process at a time, so every browser test
# (tests/ui, tests/embed, tests/deploy) shares these, started the first time one asks.


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's chromium, headless, with a fresh temporary profile and no network chatter."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                         timeout=60_000)
    yield browser
    browser.close()
