"""Browser tests: the real server, real kernels, and Debian's chromium driven by Playwright.

Fixtures
--------
``ui_server`` (module scope)
    A live server (``tests.support.browser.UIServer``: ``python -m flask_notebook`` in a
    subprocess, gevent-patched as in production) with its own Jupyter directories and a
    ``python3`` kernelspec. ``ui_server.root`` is the served directory, ``ui_server.url`` ends
    in "/", ``ui_server.json(method, path, status, json=...)`` calls the API with the token.
``browser`` (session scope, so one per xdist worker; in ``tests/conftest.py``)
    Chromium at ``/usr/bin/chromium`` (``$CHROMIUM`` overrides), headless, with a fresh
    temporary profile (Playwright makes one per launch) and no network chatter of its own.
``page`` (function scope)
    A new browser context and page, logged in: the module's first context opened
    ``tree?token=...`` once and its cookies are reused. Every wait has a deadline
    (``TIMEOUT_MS`` for actions and ``expect``). Teardown deletes the sessions (and so the
    kernels) the test's pages started, and fails the test on any uncaught page error.
    ``page.goto("tree")`` and ``page.goto("notebooks/x.ipynb")`` are relative to the server.
``page_errors`` (function scope)
    The uncaught JavaScript errors of ``page`` so far, for tests that expect some.

Helpers (tests/support/browser.py): ``put_notebook(server, path, cells)`` writes a notebook
through the API; ``code_cell(source)`` and ``markdown_cell(source)`` build cells for it.
tests/support/notebook_page.py drives the notebook page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from ..support.browser import TIMEOUT_MS, UIServer
from ..support.env import TOKEN
from ..support.kernels import kernel_processes
from ..support.waiting import wait_for

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    srv = UIServer(tmp_path_factory.mktemp("ui-server"))
    yield srv
    srv.stop()
    wait_for(lambda: not kernel_processes(srv.runtime_dir), timeout=15)


@pytest.fixture(scope="module")
def login_state(browser: Browser, ui_server: UIServer) -> dict[str, Any]:
    """The cookies of a browser that opened the server's URL with the token once."""
    context = browser.new_context(base_url=ui_server.url)
    try:
        page = context.new_page()
        page.goto(f"tree?token={TOKEN}", timeout=TIMEOUT_MS)
        return context.storage_state()  # type: ignore[return-value]
    finally:
        context.close()


@pytest.fixture
def context(browser: Browser, ui_server: UIServer, login_state: dict[str, Any]) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=ui_server.url, storage_state=login_state,  # type: ignore[arg-type]
                                  viewport={"width": 1200, "height": 900}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page_errors() -> list[str]:
    return []


@pytest.fixture
def page_console() -> list[str]:
    """The page's console messages, shown with a failure."""
    return []


@pytest.fixture
def page(context: BrowserContext, ui_server: UIServer, page_errors: list[str], page_console: list[str]) -> Iterator[Page]:
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(f"{error.name}: {error.message}\n{error.stack}"))
    page.on("console", lambda msg: page_console.append(f"{msg.type}: {msg.text}"))
    yield page
    for pg in context.pages:
        pg.close(run_before_unload=False)
    for session in ui_server.json("GET", "api/sessions", 200):
        ui_server.request("DELETE", f"api/sessions/{session['id']}")
    assert not page_errors, "uncaught errors in the page:\n" + "\n".join(page_errors)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Failures of browser tests include the page's console (the server's log comes from the
    root conftest)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and getattr(item, "funcargs", {}).get("page_console"):
        report.sections.append(("browser console", "\n".join(item.funcargs["page_console"])[-20_000:]))
