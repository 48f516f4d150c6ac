"""A folder of 10,000 entries stays responsive: the grid keeps only the rows in view in the DOM."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from ..support.browser import UIServer
from ..support.tree_page import open_tree, row

pytestmark = pytest.mark.live

COUNT = 10_000


def test_ten_thousand_entries_render_scroll_and_open(page: Page, ui_server: UIServer) -> None:
    folder = ui_server.root / "huge"
    folder.mkdir()
    for index in range(COUNT):
        (folder / f"file-{index:05d}.txt").write_text(str(index))
    started = time.monotonic()
    open_tree(page, "huge")
    grid = page.get_by_role("grid", name="Files")
    expect(grid).to_have_attribute("aria-rowcount", str(COUNT + 1))
    expect(row(page, "file-00000.txt")).to_be_visible()
    loaded = time.monotonic() - started
    rendered = page.locator("#nb-grid-sizer .nb-row").count()
    assert rendered < 120, f"{rendered} rows in the DOM: the grid should render only what is in view"
    assert loaded < 15, f"the listing took {loaded:.1f} s to show"

    # Scrolling to the middle brings those rows in; the first ones leave the DOM.
    page.locator("#nb-grid-body").evaluate("body => body.scrollTop = body.scrollHeight / 2")
    middle = page.get_by_role("link", name="file-05000.txt", exact=True)
    expect(middle).to_be_visible()
    expect(row(page, "file-00000.txt")).to_have_count(0)
    row(page, "file-05000.txt").locator(".nb-col-size").click()
    expect(row(page, "file-05000.txt")).to_have_attribute("aria-selected", "true")

    # Sorting and filtering 10,000 entries answer at once.
    page.get_by_role("button", name="Name", exact=True).click()
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name").first).to_have_text("file-09999.txt")
    page.get_by_role("searchbox", name="Filter files by name").fill("file-0421")
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name")).to_have_count(10)
    expect(grid).to_have_attribute("aria-rowcount", "11")

    # The keyboard reaches the last entry and opens it in the text editor.
    page.get_by_role("searchbox", name="Filter files by name").fill("")
    grid.focus()
    page.keyboard.press("End")
    expect(row(page, "file-00000.txt")).to_have_attribute("aria-selected", "true")  # sorted descending
    expect(page.get_by_role("link", name="file-00000.txt", exact=True)).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/edit/huge/file-00000\.txt$"))
    expect(page.get_by_role("textbox", name="Contents of file-00000.txt")).to_have_text("0")
