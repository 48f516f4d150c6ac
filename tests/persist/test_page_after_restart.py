"""An open notebook page across a server killed and started again with persistence: the cell
that was running (a run, which does not outlive its server) is shown as stopped, not as
running for ever."""

from __future__ import annotations

import signal

import pytest
from playwright.sync_api import Browser, expect

from ..support.browser import TIMEOUT_MS
from ..support.env import TOKEN
from ..support.notebook_page import cell, expect_ready, output, prompt
from ..support.runs import write_notebook
from ..support.server import Server
from .conftest import PERSIST, Site

pytestmark = pytest.mark.live


def test_a_cell_running_when_the_server_died_is_shown_stopped_by_the_next_one(site: Site, browser: Browser) -> None:
    first = site.start(PERSIST)
    write_notebook(first.root / "slow.ipynb", "import time\nprint('began', flush=True)\ntime.sleep(300)")
    context = browser.new_context(base_url=first.url, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(f"tree?token={TOKEN}")
        page.goto("notebooks/slow.ipynb")
        expect_ready(page)
        cell(page, 1).click()
        page.keyboard.press("Shift+Enter")
        expect(output(page, 1)).to_contain_text("began")
        expect(prompt(page, 1)).to_have_text("[*]:")

        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        (site.base / "server.log").rename(site.base / "server-first.log")
        second = Server(site.base, ["--port", str(first.port)], PERSIST)  # where the page reconnects
        site.servers.append(second)
        (run,) = second.json("GET", "api/runs", 200)["runs"]
        assert run["status"] == "failed" and run["error"]["ename"] == "ServerStopped"

        # The page hears it from the new server: the cell is no longer running, and it says why.
        expect(prompt(page, 1)).not_to_have_text("[*]:", timeout=30_000)
        expect(page.get_by_text("ServerStopped")).to_be_visible()
        # The kernel itself outlived the server: the page goes on with it.
        expect_ready(page)
    finally:
        context.close()
