"""The notebook editor in Chromium over TLS under /jupyter/, through deploy/nginx.conf (TLS at
the proxy, the prefix from X-Forwarded-Prefix) and from the standalone server itself
(--certfile, --base-url): the page's requests and its kernel WebSocket use https:// and
wss:// under the prefix, and a cell runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from ..support.browser import TIMEOUT_MS, code_cell
from ..support.deploy import PREFIX, Nginx, issue_cert
from ..support.env import TOKEN
from ..support.notebook_page import cell, expect_ready, output
from ..support.server import Server

pytestmark = pytest.mark.live


@pytest.mark.parametrize("tls_at", ["nginx", "server"])
def test_the_notebook_page_runs_a_cell_over_wss(browser: Browser, backend: Callable[..., Server],
                                                nginx: Callable[..., Nginx], tmp_path: Path, ca_file: str,
                                                tls_at: str) -> None:
    if tls_at == "nginx":
        server = backend("cli", "--trust-proxy")
        url = nginx(server, tls=True).url
    else:
        certfile, keyfile = issue_cert(tmp_path / "certs")
        server = backend("cli", "--certfile", str(certfile), "--keyfile", str(keyfile), "--base-url", PREFIX)
        url = server.url
    assert url.startswith("https://127.0.0.1:") and url.endswith(PREFIX)
    notebook = {"cells": [{**code_cell("6*7"), "id": "c1"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    server.json("PUT", "api/contents/behind.ipynb", 201, verify=ca_file, json={"type": "notebook", "content": notebook})
    origin = url.removesuffix(PREFIX)
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
        page.goto(f"{url}notebooks/behind.ipynb?token={TOKEN}")
        expect_ready(page)
        cell(page, 1).locator(".cm-content").click()
        page.keyboard.press("Control+Enter")
        expect(output(page, 1)).to_have_text("Out[1]:42")

        wss = origin.replace("https://", "wss://") + PREFIX + "api/kernels/"
        assert sockets and all(ws.startswith(wss) and "/channels?session_id=" in ws for ws in sockets), sockets
        outside = [r for r in requested if not r.startswith(origin + PREFIX)]
        assert not outside, f"requests outside {PREFIX}: {outside}"
        assert not errors, errors
        cookies = context.cookies()
        assert cookies and all(c["secure"] and c["path"] == PREFIX for c in cookies), cookies
    finally:
        context.close()
