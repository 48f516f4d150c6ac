"""Jupyter's keyboard model, driven from the keyboard only."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.notebook_page import cell, open_notebook, output


def cells(page: Page) -> list[str]:
    return page.evaluate("nbApp.notebook.cells.map(c => c.type[0] + ':' + c.source)")  # type: ignore[no-any-return]


def test_command_mode_keys(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "keys.ipynb", [code_cell("one"), code_cell("two")])
    open_notebook(page, "keys.ipynb")
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.press("Escape")  # command mode on cell 1
    expect(cell(page, 1)).to_be_focused()
    page.keyboard.press("b")
    assert cells(page) == ["c:one", "c:", "c:two"]
    expect(cell(page, 2)).to_be_focused()
    page.keyboard.press("a")
    assert cells(page) == ["c:one", "c:", "c:", "c:two"]
    page.keyboard.press("d")
    page.keyboard.press("d")
    assert cells(page) == ["c:one", "c:", "c:two"]
    page.keyboard.press("d")
    page.keyboard.press("d")
    assert cells(page) == ["c:one", "c:two"]
    page.keyboard.press("z")
    assert cells(page) == ["c:one", "c:", "c:two"]
    page.keyboard.press("k")
    page.keyboard.press("k")  # stops at the first cell
    page.keyboard.press("c")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("v")
    assert cells(page) == ["c:one", "c:", "c:two", "c:one"]
    page.keyboard.press("m")
    assert cells(page)[3] == "m:one"
    page.keyboard.press("r")
    assert cells(page)[3] == "r:one"
    page.keyboard.press("y")
    assert cells(page)[3] == "c:one"
    page.keyboard.press("x")
    assert cells(page) == ["c:one", "c:", "c:two"]
    page.keyboard.press("Control+Shift+ArrowUp")
    assert cells(page) == ["c:one", "c:two", "c:"]
    page.keyboard.press("Enter")  # edit mode in the selected cell ("two", now second)
    page.keyboard.type("!")
    assert cells(page)[1] == "c:two!"
    page.keyboard.press("Escape")
    page.keyboard.press("h")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_contain_text("Shift-Enter")
    expect(dialog).to_contain_text("D, D")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(cell(page, 2)).to_be_focused()


def test_run_keys_and_save(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "run-keys.ipynb", [code_cell("")])
    open_notebook(page, "run-keys.ipynb")
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.type("3*3")
    page.keyboard.press("Control+Enter")  # runs, stays, command mode
    expect(output(page, 1)).to_have_text("Out[1]:9")
    expect(cell(page, 1)).to_be_focused()
    page.keyboard.press("Alt+Enter")  # runs again and inserts below, in edit mode
    expect(output(page, 1)).to_have_text("Out[2]:9")
    expect(page.locator(".nb-cell")).to_have_count(2)
    expect(cell(page, 2).locator(".cm-content")).to_be_focused()
    # Auto-indent after a colon, Shift-Tab dedents, Tab indents.
    page.keyboard.type("if True:")
    page.keyboard.press("Enter")
    page.keyboard.type("x = 1")
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("y = 2")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.type("z")
    assert cells(page)[1] == "c:if True:\n    x = 1\ny = 2\n    z"
    page.keyboard.press("Control+s")
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")
    saved = ui_server.json("GET", "api/contents/run-keys.ipynb", 200)["content"]["cells"]
    assert [c["source"] for c in saved] == ["3*3", "if True:\n    x = 1\ny = 2\n    z"]


def test_save_conflict_asks_before_overwriting(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "conflict.ipynb", [code_cell("mine")])
    open_notebook(page, "conflict.ipynb")
    put_notebook(ui_server, "conflict.ipynb", [code_cell("theirs")])  # changed on disk meanwhile
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.type(" edited")
    page.keyboard.press("Control+s")
    dialog = page.get_by_role("dialog", name="Notebook changed on disk")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("status").filter(has_text="Unsaved")).to_be_visible()
    assert ui_server.json("GET", "api/contents/conflict.ipynb", 200)["content"]["cells"][0]["source"] == "theirs"
    page.keyboard.press("Control+s")
    page.get_by_role("dialog", name="Notebook changed on disk").get_by_role("button", name="Overwrite").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")
    assert ui_server.json("GET", "api/contents/conflict.ipynb", 200)["content"]["cells"][0]["source"] == "mine edited"
