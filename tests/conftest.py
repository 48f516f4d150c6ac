"""Fixtures: a fresh app per test (flaskr style), a host app, real servers in a subprocess,
and the browser. What they are built from lives in tests/support.

Every failing test's report carries the logs of the servers (and gunicorn, nginx, the example
site) it ran: see tests/support/logs.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Playwright, sync_playwright

from flask_notebook import Notebook, create_app

from .support import logs
from .support.browser import CHROMIUM, CHROMIUM_ARGS
from .support.env import AUTH, TOKEN, isolated_env
from .support.kernels import kernel_processes
from .support.postgres import PostgreSQL, running_postgresql
from .support.server import LiveServer, Server
from .support.waiting import wait_for


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


# -- live servers ---------------------------------------------------------------------------------


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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per module, with its own Jupyter directories (a server starts in about a
    second); each test starts and shuts down its own kernels."""
    srv = Server(tmp_path_factory.mktemp("server"))
    yield srv
    srv.stop()
    wait_for(lambda: not kernel_processes(srv.runtime_dir), timeout=10)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Servers with their own configuration, for one test."""
    servers: list[Server] = []

    def make(*args: str, env: dict[str, str] | None = None) -> Server:
        srv = Server(tmp_path / f"s{len(servers)}", list(args), env)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture
def kernel_id(server: Server) -> Iterator[str]:
    """A kernel of `server`, shut down (and its clients closed) after the test."""
    kid = server.start_kernel()
    yield kid
    server.request("DELETE", f"api/kernels/{kid}")
    for client in server.clients:
        client.ws.shutdown()
    server.clients.clear()


# -- PostgreSQL ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgreSQL]:
    """One PostgreSQL 15 cluster per xdist worker (tests/support/postgres.py), stopped and
    removed at the end of the session, even after a failure."""
    with running_postgresql() as server:
        yield server


@pytest.fixture
def postgres_url(postgres: PostgreSQL) -> Iterator[str]:
    """The URL of a fresh database of its own for the test (dropped after)."""
    with postgres.database() as name:
        yield postgres.url(name)


# -- the logs of a failing test -------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    logs.begin_test()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failure (in setup, call or teardown) shows the log of every process the test ran."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for title, text in logs.sections():
            report.sections.append((f"Captured {title}", text))


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
