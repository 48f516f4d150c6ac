"""The kernel WebSocket dropped by the server's side in the middle of an output: the page
reconnects with the same session_id and the server replays what it missed."""

from __future__ import annotations

import subprocess

from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.notebook_page import cell, kernel_state, menu, open_notebook, output

LINES = 60


def drop_server_connections(port: int) -> None:
    """Reset every established TCP connection whose server end is `port`, as a failing network
    or a proxy would: the server's sockets are destroyed by the kernel (``ss -K``), the browser
    sees a reset."""
    subprocess.run(["ss", "-K", "-t", "state", "established", f"( sport = :{port} )"], check=True,
                   capture_output=True, timeout=10)


def test_dropped_websocket_reconnects_and_loses_no_output(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "reconnect.ipynb", [
        code_cell(f"import time\nfor i in range({LINES}):\n    print(f'line {{i}}', flush=True)\n    time.sleep(0.1)"),
    ])
    open_notebook(page, "reconnect.ipynb")
    page.evaluate("""() => {
        window.kernelStates = [];
        nbApp.kernel.addEventListener('status', (e) => window.kernelStates.push(e.detail.status));
        window.firstSocket = nbApp.kernel.ws;
    }""")
    menu(page, "Cell", "Run all cells")
    stdout = output(page, 1).locator(".nb-stream-stdout")
    expect(stdout).to_contain_text("line 5")
    drop_server_connections(ui_server.port)
    # The page noticed, reconnected on a new socket with the same session_id...
    page.wait_for_function("window.kernelStates.includes('disconnected') && nbApp.kernel.ws !== window.firstSocket")
    expect(kernel_state(page)).to_have_text("Kernel Busy")
    # ... and every line arrived, once, in order.
    expect(cell(page, 1).locator(".nb-prompt")).to_have_text("[1]:", timeout=40_000)
    expect(stdout).to_have_text("\n".join(f"line {i}" for i in range(LINES)) + "\n")
    assert page.evaluate("nbApp.kernel.ws.url").endswith(page.evaluate("nbApp.kernel.clientId"))
    states = page.evaluate("window.kernelStates")
    assert "reconnecting" in states or "disconnected" in states, states
