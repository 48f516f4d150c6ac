"""The terminal page (``/terminals/<name>``, xterm.js) in chromium, on real shells: started from
the file browser's New Terminal, typing, resizing, copy and paste, reconnecting after the
network drops, the end of the shell, and a server with terminals switched off.

What the terminal shows is read from xterm's buffer (``window.nbTerminal.term``, the page's
hook for tests): xterm draws on a canvas, so the DOM does not hold the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from ..support.browser import TIMEOUT_MS, UIServer
from ..support.env import TOKEN
from ..support.terminal_client import TerminalSocket
from ..support.waiting import wait_for

pytestmark = pytest.mark.live

SCREEN = """() => {
  const buffer = window.nbTerminal.term.buffer.active;
  const lines = [];
  for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
  return lines.join("\\n");
}"""


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    """The module's server, with an empty HOME: the shells are login shells (the server's
    stdout is no terminal) and must not read this machine's profile."""
    base = tmp_path_factory.mktemp("ui-terminal")
    (base / "home").mkdir()
    srv = UIServer(base, env={"HOME": str(base / "home")})
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def end_terminals(ui_server: UIServer) -> Iterator[None]:
    yield
    TerminalSocket.close_all()
    for terminal in ui_server.json("GET", "api/terminals", 200):
        ui_server.request("DELETE", f"api/terminals/{terminal['name']}")


def screen(page: Page) -> str:
    return str(page.evaluate(SCREEN))


def wait_screen(page: Page, pattern: str, timeout: float = 15) -> re.Match[str]:
    """The first match of `pattern` on the terminal's screen (scrollback included), once there."""
    try:
        match: re.Match[str] = wait_for(lambda: re.search(pattern, screen(page)), timeout=timeout, interval=0.05)
    except AssertionError:
        raise AssertionError(f"{pattern!r} not on the terminal's screen:\n{screen(page)}") from None
    return match


def run(page: Page, command: str, pattern: str) -> re.Match[str]:
    """Type `command` and Enter into the terminal; what `pattern` matches of its output."""
    page.keyboard.type(command)
    page.keyboard.press("Enter")
    return wait_screen(page, pattern)


def open_new_terminal(page: Page, context: BrowserContext) -> Page:
    """New Terminal in the file browser; the terminal's page, opened in a new tab."""
    page.goto("tree")
    with context.expect_page() as opened:
        page.get_by_role("button", name="New Terminal").click()
    term = opened.value
    term.wait_for_url(re.compile(r"/terminals/\w+$"))
    expect(term.locator(".xterm")).to_be_visible()
    wait_screen(term, r"\S")  # the shell's prompt
    return term


def test_new_terminal_from_the_file_browser(page: Page, context: BrowserContext, ui_server: UIServer) -> None:
    (ui_server.root / "sub").mkdir(exist_ok=True)
    page.goto("tree/sub")  # a terminal starts in the user's root folder, wherever the browser is
    with context.expect_page() as opened:
        page.get_by_role("button", name="New Terminal").click()
    term = opened.value
    term.wait_for_url(re.compile(r"/terminals/\w+$"))
    name = term.url.rsplit("/", 1)[1]
    assert [t["name"] for t in ui_server.json("GET", "api/terminals", 200)] == [name]
    expect(term).to_have_title(f"Terminal {name}")
    expect(term.get_by_role("heading", name=f"Terminal {name}")).to_be_visible()
    expect(term.get_by_role("region", name=f"Terminal {name}")).to_be_visible()
    wait_screen(term, r"\S")
    run(term, "echo hi-$((6*7))", r"hi-42\n")
    assert Path(run(term, "pwd", r"\n(/\S+)\n").group(1)) == ui_server.root.resolve()

    rows, cols = term.evaluate("[window.nbTerminal.term.rows, window.nbTerminal.term.cols]")
    size = run(term, "stty size", r"\n(\d+) (\d+)\n")
    assert (int(size.group(1)), int(size.group(2))) == (rows, cols)  # fitted, and told to the server
    term.set_viewport_size({"width": 700, "height": 500})
    wait_for(lambda: term.evaluate("window.nbTerminal.term.cols") < cols)
    new_rows, new_cols = term.evaluate("[window.nbTerminal.term.rows, window.nbTerminal.term.cols]")
    assert new_rows < rows
    run(term, "clear; stty size", rf"\n?{new_rows} {new_cols}\n")

    # The Running view lists it, linked to its page.
    page.goto("running")
    table = page.get_by_role("table", name="Terminals")
    expect(table.get_by_role("link", name=f"Terminal {name}")).to_have_attribute("href", f"/terminals/{name}")


def test_copy_and_paste(page: Page, context: BrowserContext, ui_server: UIServer) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui_server.url.rstrip("/"))
    term = open_new_terminal(page, context)
    run(term, "echo copy-me-$((2+3))", r"copy-me-5\n")
    row = term.evaluate("""() => {
      const buffer = window.nbTerminal.term.buffer.active;
      for (let i = buffer.length - 1; i >= 0; i--) {
        const text = buffer.getLine(i).translateToString(true);
        if (text === "copy-me-5") return i;
      }
      return -1;
    }""")
    assert row >= 0
    term.evaluate(f"window.nbTerminal.term.select(0, {row}, 9)")
    assert term.evaluate("window.nbTerminal.term.getSelection()") == "copy-me-5"
    term.keyboard.press("Control+Shift+C")
    wait_for(lambda: term.evaluate("navigator.clipboard.readText()") == "copy-me-5")
    wait_screen(term, r"copy-me-5\n")
    assert "^C" not in screen(term)  # not an interrupt to the shell

    # Ctrl+Shift+V: the browser's paste, which xterm takes (the clipboard as the page wrote it).
    term.evaluate("navigator.clipboard.writeText('echo pasted-$((3*3))')")
    term.keyboard.press("Control+Shift+V")
    wait_screen(term, r"echo pasted-\$\(\(3\*3\)\)")
    term.keyboard.press("Enter")
    wait_screen(term, r"\npasted-9\n")
    # A paste event (what a context menu's Paste sends).
    term.evaluate("""() => {
      const data = new DataTransfer();
      data.setData("text/plain", "echo event-$((4*4))");
      document.querySelector(".xterm textarea").dispatchEvent(
        new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    }""")
    term.keyboard.press("Enter")
    wait_screen(term, r"\nevent-16\n")
    # The Paste button, by keyboard.
    term.evaluate("navigator.clipboard.writeText('echo button-$((5*5))')")
    term.get_by_role("button", name="Paste").focus()
    term.keyboard.press("Enter")
    wait_screen(term, r"echo button-\$\(\(5\*5\)\)")
    wait_for(lambda: term.evaluate("document.activeElement.classList.contains('xterm-helper-textarea')"))
    term.keyboard.press("Enter")  # focus went back to the terminal
    wait_screen(term, r"\nbutton-25\n")


def test_reconnects_after_the_network_drops_without_doubling(page: Page, context: BrowserContext,
                                                              ui_server: UIServer) -> None:
    term = open_new_terminal(page, context)
    name = term.url.rsplit("/", 1)[1]
    run(term, "echo once-$((6*7))", r"once-42\n")
    context.set_offline(True)
    term.evaluate("window.nbTerminal.socket && window.nbTerminal.socket.close()")
    status = term.get_by_role("status").filter(has_text="Reconnecting…")
    expect(status).to_be_visible()
    # Output while the page is away is kept by the server and drawn on reconnection.
    other = TerminalSocket(ui_server.url, name)
    other.type("echo away-$((1+1))\r")
    other.until(r"away-2\r\n")
    context.set_offline(False)
    wait_screen(term, r"\naway-2\n")
    expect(status).to_have_count(0)
    assert len(re.findall(r"(?m)^once-42$", screen(term))) == 1  # redrawn, not doubled
    run(term, "echo back-$((7*7))", r"\nback-49\n")


def test_the_end_of_a_terminal_is_said(page: Page, context: BrowserContext, ui_server: UIServer) -> None:
    term = open_new_terminal(page, context)
    name = term.url.rsplit("/", 1)[1]
    term.keyboard.type("exit")
    term.keyboard.press("Enter")
    ended = term.get_by_role("status").filter(has_text="The shell has exited: this terminal has ended.")
    expect(ended).to_be_visible()
    expect(ended.get_by_role("link", name="Back to the files")).to_have_attribute("href", "/tree/")
    response = term.reload()
    assert response is not None and response.status == 404
    expect(term.get_by_role("heading", name="No such terminal")).to_be_visible()

    # Gone while the page was away (deleted meanwhile): said when it comes back.
    term = open_new_terminal(page, context)
    name = term.url.rsplit("/", 1)[1]
    context.set_offline(True)
    term.evaluate("window.nbTerminal.socket && window.nbTerminal.socket.close()")
    expect(term.get_by_role("status").filter(has_text="Reconnecting…")).to_be_visible()
    ui_server.json("DELETE", f"api/terminals/{name}", 204)
    context.set_offline(False)
    expect(term.get_by_role("status").filter(has_text="This terminal has ended.")).to_be_visible()


def test_switched_off_terminals(browser: Browser, tmp_path: Path) -> None:
    srv = UIServer(tmp_path, env={"NOTEBOOK_TERMINALS": "false"})
    try:
        context = browser.new_context(base_url=srv.url)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.goto(f"tree?token={TOKEN}")
        expect(page.get_by_role("button", name="New Folder")).to_be_visible()
        expect(page.get_by_role("button", name="New Terminal")).to_have_count(0)
        assert srv.request("POST", "api/terminals").status_code == 404
        assert srv.request("GET", "api/terminals").status_code == 404
        response = page.goto("terminals/1")
        assert response is not None and response.status == 404
        page.goto("running")
        expect(page.get_by_role("region", name="Kernels")).to_be_visible()
        expect(page.get_by_role("region", name="Terminals")).to_have_count(0)
        context.close()
    finally:
        srv.stop()
