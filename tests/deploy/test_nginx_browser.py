"""The notebook editor in Chromium, through deploy/nginx.conf with TLS at the proxy, under
/jupyter/: the page's own requests and its kernel WebSocket use https:// and wss:// under the
prefix, and a cell runs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, expect

from ..conftest import TOKEN
from ..kernels.conftest import Server
from ..ui.conftest import TIMEOUT_MS, browser, code_cell, playwright  # noqa: F401 (fixtures)
from ..ui.notebook_helpers import cell, kernel_state, output
from .conftest import PREFIX, Nginx

pytestmark = pytest.mark.live


def test_the_notebook_page_runs_a_cell_over_wss_through_nginx(browser: Browser,  # noqa: F811
                                                              backend: Callable[..., Server],
                                                              nginx: Callable[..., Nginx]) -> None:
    server = backend("cli", "--trust-proxy")
    proxy = nginx(server, tls=True)
    notebook = {"cells": [{**code_cell("6*7"), "id": "c1"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    server.json("PUT", "api/contents/behind.ipynb", 201, json={"type": "notebook", "content": notebook})
    origin = proxy.url.removesuffix(PREFIX)
    context = browser.new_context(ignore_https_errors=True)  # the test's CA is not Chromium's
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        requested: list[str] = []
        sockets: list[str] = []
        errors: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{proxy.url}notebooks/behind.ipynb?token={TOKEN}")
        expect(page.locator("#nb-notebook")).to_have_attribute("data-state", "ready")
        expect(kernel_state(page)).to_have_text("Kernel Idle")
        cell(page, 1).locator(".cm-content").click()
        page.keyboard.press("Control+Enter")
        expect(output(page, 1)).to_have_text("Out[1]:42")

        assert sockets and all(url.startswith(f"wss://127.0.0.1:{proxy.port}{PREFIX}api/kernels/")
                               and "/channels?session_id=" in url for url in sockets), sockets
        outside = [url for url in requested if not url.startswith(origin + PREFIX)]
        assert not outside, f"requests outside {PREFIX}: {outside}"
        assert not errors, errors
        cookies = context.cookies()
        assert cookies and all(c["secure"] and c["path"] == PREFIX for c in cookies), cookies
    finally:
        context.close()
