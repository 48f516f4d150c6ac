"""The notebook page itself: served with its bundle, a 404 for a missing notebook."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.notebook_page import expect_ready, menu, open_notebook
from ..support.waiting import wait_for


def test_missing_notebook_is_a_404_page(page: Page, ui_server: UIServer) -> None:
    response = page.goto("notebooks/missing.ipynb")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_bundle_and_styles_are_served_from_our_server(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "assets.ipynb")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("notebooks/assets.ipynb")
    expect(page.locator("#nb-notebook")).to_have_attribute("data-state", "ready")
    assert requests and all(url.startswith(ui_server.url) for url in requests), requests


def test_controls_have_names_and_outputs_are_labelled_regions(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "a11y.ipynb", [code_cell("'out'")])
    open_notebook(page, "a11y.ipynb")
    for name in ("Save", "Run", "Interrupt", "Restart", "Insert cell below"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    unnamed = page.evaluate("""() => [...document.querySelectorAll('button, select, input, [role=textbox]')]
        .filter((el) => el.offsetParent !== null)
        .filter((el) => !(el.getAttribute('aria-label') || el.textContent.trim() || el.labels?.length))
        .map((el) => el.outerHTML.slice(0, 80))""")
    assert unnamed == []
    menu(page, "Cell", "Run all cells")
    expect(page.get_by_role("region", name="Cell 1 output")).to_have_text("Out[1]:'out'")
    expect(page.get_by_role("textbox", name="Code cell 1 source")).to_be_visible()


def test_menus_work_from_the_keyboard(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "menu-keys.ipynb", [code_cell("1")])
    open_notebook(page, "menu-keys.ipynb")
    page.get_by_role("button", name="Help", exact=True).focus()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("menuitem", name="Keyboard shortcuts")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()


def test_dark_theme_follows_the_system(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "theme.ipynb")
    colours = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        open_notebook(page, "theme.ipynb")
        colours[scheme] = page.evaluate("getComputedStyle(document.querySelector('.cm-editor')).backgroundColor")
    assert colours["light"] != colours["dark"]


def test_download_and_revert_to_checkpoint(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "revert.ipynb", [code_cell("original")])
    open_notebook(page, "revert.ipynb")
    page.keyboard.press("Control+s")  # saves and makes the checkpoint
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")
    # The download link is caught in the page and fetched here, not by chromium's download
    # manager: chromium can hang closing a page, or its context, after a download, even a
    # finished one (seen three times in full runs; microsoft/playwright#22185).
    page.evaluate("""() => {
        window.downloadsAsked = [];
        document.addEventListener("click", (event) => {
            const link = event.target.closest && event.target.closest("a[download]");
            if (link) { window.downloadsAsked.push([link.href, link.download]); event.preventDefault(); }
        }, true);
    }""")
    menu(page, "File", "Download .ipynb")
    wait_for(lambda: page.evaluate("window.downloadsAsked.length") > 0, timeout=20)
    assert page.evaluate("window.downloadsAsked") == [[f"{ui_server.url}files/revert.ipynb?download=1", "revert.ipynb"]]
    download = ui_server.request("GET", "files/revert.ipynb?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "revert.ipynb" in download.headers["Content-Disposition"]
    source = json.loads(download.content)["cells"][0]["source"]
    assert ("".join(source) if isinstance(source, list) else source) == "original"
    put_notebook(ui_server, "revert.ipynb", [code_cell("changed elsewhere")])
    # Revert reloads the page: the old page already shows "original", so the test waits for
    # the new one (closing a page in the middle of its reload can hang chromium).
    page.evaluate("window.beforeRevert = true")
    menu(page, "File", "Revert to checkpoint…")
    with page.expect_navigation():
        page.get_by_role("dialog", name="Revert to checkpoint").get_by_role("button", name="Revert").click()
    expect_ready(page)
    assert page.evaluate("window.beforeRevert") is None
    expect(page.get_by_role("textbox", name="Code cell 1 source")).to_have_text("original")
    source = ui_server.json("GET", "api/contents/revert.ipynb", 200)["content"]["cells"][0]["source"]
    assert source == "original"
