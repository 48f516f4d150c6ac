"""Find and replace across the notebook's cells (src/notebook/find.js), from the keyboard."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from ..support.browser import UIServer, code_cell, markdown_cell, put_notebook
from ..support.notebook_page import cell, open_notebook
from ..support.waiting import wait_for


def raw_cell(source: str) -> dict[str, object]:
    return {"cell_type": "raw", "source": source, "metadata": {}}


def sources(page: Page) -> list[str]:
    return page.evaluate("nbApp.notebook.cells.map(c => c.source)")  # type: ignore[no-any-return]


def find_bar(page: Page) -> Locator:
    return page.get_by_role("search", name="Find and replace")


def test_find_across_cells_with_toggles(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "find.ipynb", [
        code_cell("foo = 1\nFoo = 2"), markdown_cell("# foo title"), raw_cell("foo raw"), code_cell("print(foo)")])
    open_notebook(page, "find.ipynb")
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.press("Escape")
    expect(cell(page, 1)).to_be_focused()
    page.keyboard.press("Control+f")  # command mode: ours, not the browser's
    bar = find_bar(page)
    query = bar.get_by_role("searchbox", name="Find")
    expect(query).to_be_focused()
    page.keyboard.press("Escape")  # closes, and focus is back on the cell
    expect(bar).to_be_hidden()
    expect(cell(page, 1)).to_be_focused()

    cell(page, 4).locator(".cm-content").click()  # edit mode: ours, not CodeMirror's panel
    page.keyboard.press("Control+Home")
    page.keyboard.press("Control+f")
    expect(query).to_be_focused()
    expect(page.locator(".cm-search")).to_have_count(0)
    count = bar.get_by_role("status")
    query.fill("foo")
    expect(count).to_have_text("5 of 5")  # from where the cursor was: cell 4
    expect(page.locator(".nb-find-current")).to_have_count(1)
    expect(cell(page, 1).locator(".nb-find-match")).to_have_count(2)
    page.keyboard.press("Enter")
    expect(count).to_have_text("1 of 5")  # wraps around
    page.keyboard.press("Shift+Enter")
    expect(count).to_have_text("5 of 5")
    page.keyboard.press("F3")
    expect(count).to_have_text("1 of 5")
    page.keyboard.press("F3")
    expect(count).to_have_text("2 of 5")
    # The current match is selected in its editor: "Foo" in cell 1.
    assert page.evaluate("(() => { const v = nbApp.notebook.cells[0].editor.view; const r = v.state.selection.main;"
                         " return v.state.sliceDoc(r.from, r.to); })()") == "Foo"

    match_case = bar.get_by_role("button", name="Match case")
    match_case.click()
    expect(match_case).to_have_attribute("aria-pressed", "true")
    expect(count).to_have_text(re.compile(r"^\d of 4$"))
    regex = bar.get_by_role("button", name="Regular expression")
    regex.click()
    expect(regex).to_have_attribute("aria-pressed", "true")
    query.fill("F.o")
    expect(count).to_have_text("1 of 1")
    match_case.click()
    expect(count).to_have_text(re.compile(r"^\d of 5$"))
    query.fill(r"fo+\b")
    expect(count).to_have_text(re.compile(r"^\d of 5$"))
    # An invalid regular expression: a message, no matches, no exception (the page fixture
    # fails the test on any uncaught error).
    query.fill("fo(o")
    expect(bar.get_by_role("alert")).to_contain_text("Invalid regular expression")
    expect(count).to_have_text("")
    expect(page.locator(".nb-find-match")).to_have_count(0)
    expect(query).to_have_attribute("aria-invalid", "true")
    regex.click()  # as plain text it is fine (and found nowhere)
    expect(bar.locator(".nb-find-error")).to_have_text("")
    expect(count).to_have_text("No results")


def test_replace_one_and_all_saves_and_undoes(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "replace.ipynb", [
        code_cell("foo = 1\nFoo = 2"), markdown_cell("# foo title"), raw_cell("foo raw"), code_cell("print(foo)")])
    open_notebook(page, "replace.ipynb")
    heading = cell(page, 2).locator(".nb-rendered-markdown h1")
    expect(heading).to_have_text("foo title")
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+f")
    bar = find_bar(page)
    count = bar.get_by_role("status")
    bar.get_by_role("searchbox", name="Find").fill("foo")
    expect(count).to_have_text("1 of 5")
    bar.get_by_role("textbox", name="Replace with").fill("bar")
    bar.get_by_role("button", name="Replace", exact=True).click()
    assert sources(page)[0] == "bar = 1\nFoo = 2"
    expect(count).to_have_text("1 of 4")  # now on the next one, "Foo"
    expect(page.get_by_role("status").filter(has_text="Unsaved changes")).to_be_visible()
    # Regular expressions replace with groups: "Foo" -> "<Foo>".
    bar.get_by_role("button", name="Regular expression").click()
    bar.get_by_role("searchbox", name="Find").fill("(F)oo")
    bar.get_by_role("textbox", name="Replace with").fill("<$1oo>")
    bar.get_by_role("button", name="Replace", exact=True).click()
    assert sources(page)[0] == "bar = 1\n<Foo> = 2"
    bar.get_by_role("button", name="Regular expression").click()
    bar.get_by_role("searchbox", name="Find").fill("foo")
    bar.get_by_role("textbox", name="Replace with").fill("baz")
    expect(count).to_have_text(re.compile(r"^\d of 4$"))
    bar.get_by_role("button", name="Replace all").click()
    expect(count).to_have_text("Replaced 4")
    assert sources(page) == ["bar = 1\n<baz> = 2", "# baz title", "baz raw", "print(baz)"]
    expect(heading).to_have_text("baz title")  # the rendered Markdown cell re-rendered
    page.keyboard.press("Escape")
    expect(bar).to_be_hidden()
    expect(page.locator(".nb-find-match")).to_have_count(0)
    expect(heading).to_be_visible()

    page.keyboard.press("Control+s")
    expect(page.get_by_role("status").filter(has_text=re.compile(r"^Saved$"))).to_be_visible()
    saved = ui_server.json("GET", "api/contents/replace.ipynb", 200)
    assert ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in saved["content"]["cells"]] == \
        ["bar = 1\n<baz> = 2", "# baz title", "baz raw", "print(baz)"]

    # Undo in the cell takes the replacement back (Replace all is one step per cell).
    cell(page, 4).locator(".cm-content").click()
    page.keyboard.press("Control+z")
    wait_for(lambda: sources(page)[3] == "print(foo)", timeout=5)
