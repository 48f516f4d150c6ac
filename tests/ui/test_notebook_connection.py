"""A kernel WebSocket that cannot connect: the page says why and how to fix it, keeps trying,
and the message goes once the socket opens."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, WebSocketRoute, expect

from ..support.browser import TIMEOUT_MS, UIServer, code_cell, put_notebook
from ..support.notebook_page import cell, kernel_state, open_notebook, output
from .test_notebook_reconnect import drop_server_connections

CHANNELS = re.compile(r"/api/kernels/[^/?]+/channels")


def kernel_of(server: UIServer, path: str) -> dict[str, object]:
    """The kernel model of the session of `path`."""
    sessions = [s for s in server.json("GET", "api/sessions", 200) if s["path"] == path]
    assert len(sessions) == 1, sessions
    return server.json("GET", f"api/kernels/{sessions[0]['kernel']['id']}", 200)  # type: ignore[no-any-return]


def test_a_websocket_that_never_opens_is_explained_until_it_does(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "proxied.ipynb", [code_cell("6 * 7")])
    handshakes: list[float] = []
    proxy = {"passes_upgrade": False}

    def without_upgrade(ws: WebSocketRoute) -> None:
        # What the page sees behind a proxy that does not pass the upgrade: the socket is
        # closed before it ever opens, and nothing reaches the server.
        handshakes.append(time.monotonic())
        if proxy["passes_upgrade"]:
            ws.connect_to_server()
        else:
            ws.close(code=1006, reason="")

    page.route_web_socket(CHANNELS, without_upgrade)
    page.goto("notebooks/proxied.ipynb")
    expect(page.locator("#nb-notebook")).to_have_attribute("data-state", "ready")

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The kernel connection could not be established.")
    expect(alert).to_contain_text("The server answers HTTP requests")
    expect(alert).to_contain_text("reverse proxy")
    expect(alert).to_contain_text("proxy_set_header Upgrade $http_upgrade;")
    expect(alert).to_contain_text('proxy_set_header Connection "upgrade";')
    expect(alert).to_contain_text("proxy_set_header Host $http_host;")
    expect(alert).to_contain_text("Deployment")
    expect(page.locator(".nb-connection-problem")).to_have_attribute("data-kind", "websocket")
    expect(kernel_state(page)).to_contain_text("the kernel WebSocket cannot connect")
    assert len(handshakes) >= 3
    assert kernel_of(ui_server, "proxied.ipynb")["connections"] == 0

    # It keeps trying, with growing delays (not in a tight loop), and says so all along.
    seen = len(handshakes)
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while len(handshakes) < max(seen + 2, 6):
        assert time.monotonic() < deadline, f"no new attempt within {TIMEOUT_MS} ms: {len(handshakes)}"
        page.wait_for_timeout(100)  # Playwright runs the route handler while we wait
    expect(alert).to_contain_text("could not be established")
    gaps = [b - a for a, b in zip(handshakes, handshakes[1:])]
    assert gaps[-1] >= 0.9 and gaps[-1] > gaps[0], gaps

    # The proxy is fixed: the next attempt connects, the message goes, and a cell runs.
    proxy["passes_upgrade"] = True
    expect(page.locator(".nb-connection-problem")).to_be_hidden(timeout=TIMEOUT_MS)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(kernel_state(page)).to_have_text("Kernel Idle")
    cell(page, 1).click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")
    expect(output(page, 1)).to_have_text("Out[1]:42")
    assert kernel_of(ui_server, "proxied.ipynb")["connections"] == 1


def test_a_lost_login_is_told_apart_from_a_proxy(page: Page, ui_server: UIServer) -> None:
    """No mock: the login cookie goes away and the socket drops; the server refuses the new
    handshakes (403) and the REST API says 403 too, so the page asks for a login instead."""
    put_notebook(ui_server, "login.ipynb", [code_cell("1 + 1")])
    open_notebook(page, "login.ipynb")
    cookies = page.context.cookies()
    page.context.clear_cookies()
    drop_server_connections(ui_server.port)

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The kernel connection could not be established.")
    expect(alert).to_contain_text("your login has expired or you logged out")
    expect(alert.get_by_role("link", name="Log in again in a new tab")).to_have_attribute(
        "href", re.compile(r"/notebooks/login\.ipynb$"))
    expect(alert).not_to_contain_text("proxy_set_header")
    expect(kernel_state(page)).to_contain_text("not logged in")

    page.context.add_cookies(cookies)  # logged in again, in another tab
    expect(page.locator(".nb-connection-problem")).to_be_hidden(timeout=TIMEOUT_MS)
    expect(kernel_state(page)).to_have_text("Kernel Idle")
    page.keyboard.press("Shift+Enter")
    expect(output(page, 1)).to_have_text("Out[1]:2")
