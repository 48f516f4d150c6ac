"""The browser never shows an old answer of the API (issue 16, "Stale notebooks after a save").

A file last changed days ago comes back with ``Last-Modified`` days old. Without
``Cache-Control`` a browser may then reuse that answer by itself for about a tenth of its age
(heuristic freshness, RFC 9111 4.2.2): hours. A save (PUT) evicts only the URL without our
query (``?type=notebook``, ``?content=1``), so reopening the notebook showed the copy from
before the save, the next save met a 409, and "Overwrite" wrote the old copy over the saved one.
The fix has two sides, the server's ``Cache-Control: no-store`` (blueprints/api.py) and the
UI's ``fetch(..., {cache: "no-store"})`` (static/flask_notebook/js/api.js); each alone passes.

Checked by hand (chromium 156, Playwright 1.65): with both sides reverted both tests fail
here (the reopened notebook shows the old cell; the new folder is missing, after a page reload
too), and the reopening GET has transferSize 0: headless chromium does reuse such answers.
Playwright's ``browser.new_context()`` is an incognito-like profile with its own in-memory HTTP
cache, which behaved here exactly as a persistent profile's disk cache
(``launch_persistent_context``) did. Playwright turns that cache off while requests are
intercepted (``page.route``): these tests would then pass whatever the code does, so
``expect_http_cache`` first checks the context really has a cache.

Each test works in a folder of its own, since the server is shared by the module.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.notebook_page import cell, expect_ready, menu
from ..support.tree_page import make_folder, open_tree, row

pytestmark = pytest.mark.live

DAY = 24 * 3600


def age(path: Path, seconds: float) -> None:
    """Make `path` look last changed `seconds` ago, as a file nobody touched for a while."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def expect_http_cache(page: Page, url: str) -> None:
    """The page's browser context has an HTTP cache: a second ``force-cache`` fetch of `url`
    comes from it (transferSize 0). Without one, the tests in this module prove nothing."""
    sizes = page.evaluate("""async (url) => {
        for (let i = 0; i < 2; i++) await (await fetch(url, { cache: "force-cache" })).text();
        const entries = performance.getEntriesByType("resource").filter((e) => e.name.endsWith(url));
        return entries.map((e) => e.transferSize);
    }""", url)
    assert sizes[-1] == 0 and sizes[0] > 0, sizes


def source_on_disk(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]


def test_reopening_a_saved_old_notebook_shows_what_was_saved(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "fresh-notebook")
    put_notebook(ui_server, "fresh-notebook/old.ipynb", [code_cell("x = 1")])
    notebook = folder / "old.ipynb"
    age(notebook, 3 * DAY)
    age(folder, 3 * DAY)
    open_tree(page, "fresh-notebook")
    expect_http_cache(page, "/files/fresh-notebook/old.ipynb")
    tree = page
    with tree.context.expect_page() as opened:  # a notebook opens in a tab of its own
        tree.get_by_role("link", name="old.ipynb", exact=True).click()
    page = opened.value
    expect_ready(page)
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.press("End")
    page.keyboard.type(" + 41")
    page.keyboard.press("Control+s")
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")
    assert source_on_disk(notebook) == ["x = 1 + 41"]

    # Back to the file browser and open it again: the saved version, not the one from before.
    page.close()
    with tree.context.expect_page() as opened:
        tree.get_by_role("link", name="old.ipynb", exact=True).click()
    page = opened.value
    expect_ready(page)
    expect(cell(page, 1).locator(".cm-content")).to_have_text("x = 1 + 41")
    expect(page).to_have_title("old.ipynb")

    with page.expect_navigation():
        menu(page, "File", "Reload from disk")
    expect_ready(page)
    expect(cell(page, 1).locator(".cm-content")).to_have_text("x = 1 + 41")

    # The next save is no conflict: the editor holds what is on disk and its ETag.
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\ny = 2")
    page.keyboard.press("Control+s")
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert source_on_disk(notebook) == ["x = 1 + 41\ny = 2"]


def test_a_new_folder_in_an_old_folder_is_listed(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "fresh-listing", {"notes.txt": "hi"})
    age(folder, 5 * 3600)
    open_tree(page, "fresh-listing")
    expect_http_cache(page, "/files/fresh-listing/notes.txt")
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name")).to_have_text(["notes.txt"])

    page.get_by_role("button", name="New Folder").click()
    dialog = page.get_by_role("dialog", name="Name the new folder")
    dialog.get_by_label("Folder name").fill("results")
    dialog.get_by_role("button", name="Create").click()
    expect(row(page, "results")).to_have_attribute("aria-selected", "true")

    # One made by someone else shows on Refresh; both stay after reloading the page.
    ui_server.json("POST", "api/contents/fresh-listing", 201, json={"type": "directory"})
    page.get_by_role("button", name="Refresh the file list").click()
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name")).to_have_text(["results", "Untitled Folder", "notes.txt"])
    page.reload()
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name")).to_have_text(["results", "Untitled Folder", "notes.txt"])
