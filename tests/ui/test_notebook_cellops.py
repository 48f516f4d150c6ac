"""Operations on several cells, as Notebook 7 has them: selection (Shift-J/K, Shift-Up/Down,
Shift-click), copy/cut/paste, delete and multi-step undo, moving a block, merge, split at the
cursor, line numbers, drag-and-drop, and running a selection; each checked in the file saved."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator, Page, expect

from ..support.browser import UIServer, code_cell, markdown_cell, put_notebook
from ..support.notebook_page import menu, open_notebook, output, prompt
from ..support.waiting import wait_for


def sources(page: Page) -> list[str]:
    return page.evaluate("nbApp.notebook.cells.map(c => c.source)")  # type: ignore[no-any-return]


def row(page: Page, n: int) -> Locator:
    """Cell `n` as assistive technology sees it: a row of the "Cells" grid."""
    return page.get_by_role("grid", name="Cells").get_by_role("row").nth(n - 1)


def expect_selected(page: Page, selected: list[int]) -> None:
    """Exactly the cells numbered in `selected` are selected (aria-selected and the mark)."""
    rows = page.get_by_role("grid", name="Cells").get_by_role("row")
    count = rows.count()
    for n in range(1, count + 1):
        state = "true" if n in selected else "false"
        expect(row(page, n)).to_have_attribute("aria-selected", state)
    expect(page.locator(".nb-cell.nb-selected")).to_have_count(len(selected))
    expect(page.locator(".nb-cell[tabindex='0']")).to_have_count(1)  # one tab stop: the active cell


def save(page: Page) -> None:
    page.keyboard.press("Control+s")
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")


def saved_cells(ui_server: UIServer, path: str) -> list[dict[str, Any]]:
    return ui_server.json("GET", f"api/contents/{path}", 200)["content"]["cells"]  # type: ignore[no-any-return]


def saved_sources(ui_server: UIServer, path: str) -> list[str]:
    return [cell["source"] for cell in saved_cells(ui_server, path)]


def text_of(output: dict[str, Any]) -> str:
    value = output.get("text") or output.get("data", {}).get("text/plain", "")
    return "".join(value) if isinstance(value, list) else str(value)


def command_mode_on(page: Page, n: int) -> None:
    row(page, n).locator(".cm-content").click()
    page.keyboard.press("Escape")
    expect(row(page, n)).to_be_focused()


def test_select_copy_paste_delete_undo_move_merge(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "ops.ipynb", [code_cell(s) for s in "abcde"])
    open_notebook(page, "ops.ipynb")
    expect(page.get_by_role("grid", name="Cells")).to_have_attribute("aria-multiselectable", "true")
    command_mode_on(page, 1)
    expect_selected(page, [1])

    # Extend and shrink from the anchor, by both key pairs.
    page.keyboard.press("Shift+J")
    page.keyboard.press("Shift+J")
    expect_selected(page, [1, 2, 3])
    page.keyboard.press("Shift+K")
    expect_selected(page, [1, 2])
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowUp")
    expect_selected(page, [1, 2, 3])
    expect(row(page, 3)).to_be_focused()
    page.keyboard.press("Shift+ArrowUp")
    expect_selected(page, [1, 2])

    # Copy two cells, paste them below the last cell.
    page.keyboard.press("c")
    page.keyboard.press("j")  # a plain move collapses the selection
    expect_selected(page, [3])
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("v")
    assert sources(page) == ["a", "b", "c", "d", "e", "a", "b"]
    expect_selected(page, [7])

    # Shift-click extends from the anchor with the mouse.
    row(page, 1).locator(".nb-prompt").click()
    expect_selected(page, [1])
    row(page, 2).locator(".cm-content").click(modifiers=["Shift"])  # another cell's editor too
    expect_selected(page, [1, 2])
    expect(row(page, 2)).to_be_focused()  # command mode, not editing
    row(page, 3).locator(".nb-prompt").click(modifiers=["Shift"])
    expect_selected(page, [1, 2, 3])

    # Delete the three, then one more; Z brings back the last deletion, Z again the one before.
    page.keyboard.press("d")
    page.keyboard.press("d")
    assert sources(page) == ["d", "e", "a", "b"]
    expect_selected(page, [1])
    page.keyboard.press("d")
    page.keyboard.press("d")
    assert sources(page) == ["e", "a", "b"]
    page.keyboard.press("z")
    assert sources(page) == ["d", "e", "a", "b"]
    page.keyboard.press("z")
    assert sources(page) == ["a", "b", "c", "d", "e", "a", "b"]
    expect_selected(page, [1, 2, 3])  # the cells restored, in one step
    page.keyboard.press("z")  # nothing more to restore
    assert sources(page) == ["a", "b", "c", "d", "e", "a", "b"]

    # Move the block: keys, then the toolbar's button.
    page.keyboard.press("Control+Shift+ArrowDown")
    page.keyboard.press("Control+Shift+ArrowDown")
    assert sources(page) == ["d", "e", "a", "b", "c", "a", "b"]
    expect_selected(page, [3, 4, 5])
    page.get_by_role("toolbar", name="Notebook actions").get_by_role("button", name="Move cell up").click()
    assert sources(page) == ["d", "a", "b", "c", "e", "a", "b"]
    expect_selected(page, [2, 3, 4])

    # Merge the selection (Shift-M); one selected cell merges with the one below (menu).
    page.keyboard.press("Shift+M")
    assert sources(page) == ["d", "a\n\nb\n\nc", "e", "a", "b"]
    expect_selected(page, [2])
    page.keyboard.press("j")
    page.keyboard.press("j")
    menu(page, "Edit", "Merge cell with below")
    assert sources(page) == ["d", "a\n\nb\n\nc", "e", "a\n\nb"]
    page.keyboard.press("Shift+M")  # the last cell: nothing below, nothing happens
    assert sources(page) == ["d", "a\n\nb\n\nc", "e", "a\n\nb"]

    # Cut two cells and paste them above the first; Ctrl-A selects all.
    row(page, 3).locator(".nb-prompt").click()
    page.keyboard.press("Shift+J")
    page.keyboard.press("x")
    assert sources(page) == ["d", "a\n\nb\n\nc"]
    page.keyboard.press("k")
    page.keyboard.press("Shift+V")
    assert sources(page) == ["e", "a\n\nb", "d", "a\n\nb\n\nc"]
    page.keyboard.press("Control+a")
    expect_selected(page, [1, 2, 3, 4])
    save(page)
    assert saved_sources(ui_server, "ops.ipynb") == ["e", "a\n\nb", "d", "a\n\nb\n\nc"]


def test_split_and_line_numbers(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "split.ipynb", [code_cell("x = 1\ny = 2"), code_cell("p = 1\nq = 2\nr = 3"),
                                            markdown_cell("# Title\n\ntext")])
    open_notebook(page, "split.ipynb")

    # At the cursor: two cells.
    row(page, 1).locator(".cm-content").click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Control+Shift+Minus")
    assert sources(page)[:3] == ["x = 1", "y = 2", "p = 1\nq = 2\nr = 3"]
    expect(row(page, 2).locator(".cm-content")).to_be_focused()  # editing goes on below the cut

    # Around selected text: three cells.
    row(page, 3).locator(".cm-content").click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Shift+End")
    page.keyboard.press("Control+Shift+Minus")
    assert sources(page) == ["x = 1", "y = 2", "p = 1", "q = 2", "r = 3", "# Title\n\ntext"]
    assert page.evaluate("nbApp.notebook.cells.map(c => c.type)") == ["code"] * 5 + ["markdown"]

    # Line numbers: L for the selected cell, Shift-L for all, new cells follow.
    numbers = page.locator(".nb-cell .cm-lineNumbers")
    page.keyboard.press("Escape")
    expect(numbers).to_have_count(0)
    page.keyboard.press("l")
    expect(numbers).to_have_count(1)
    expect(row(page, 4).locator(".cm-lineNumbers")).to_be_visible()
    page.keyboard.press("Shift+L")  # the active cell had them: all off
    expect(numbers).to_have_count(0)
    page.keyboard.press("Shift+L")
    expect(numbers).to_have_count(6)
    page.keyboard.press("b")
    expect(numbers).to_have_count(7)
    page.keyboard.press("l")
    expect(numbers).to_have_count(6)
    expect(row(page, 5).locator(".cm-lineNumbers")).to_have_count(0)
    page.keyboard.press("k")
    page.keyboard.press("Shift+K")
    page.keyboard.press("l")  # the active cell (3) has them: off in the selection (3 and 4)
    expect(numbers).to_have_count(4)
    menu(page, "Edit", "Toggle all line numbers")
    expect(numbers).to_have_count(7)

    save(page)
    assert saved_sources(ui_server, "split.ipynb") == ["x = 1", "y = 2", "p = 1", "q = 2", "", "r = 3", "# Title\n\ntext"]


def test_drag_and_drop(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "drag.ipynb", [code_cell(s) for s in "abcd"])
    open_notebook(page, "drag.ipynb")

    def drag(n: int, below: int) -> None:
        """Drag cell n's handle onto the lower half of cell `below`."""
        target = row(page, below)
        box = target.bounding_box()
        assert box is not None
        handle = page.get_by_role("button", name=f"Drag to move cell {n}")
        handle.drag_to(target, target_position={"x": box["width"] / 2, "y": box["height"] - 4})

    drag(1, 3)
    assert sources(page) == ["b", "c", "a", "d"]
    expect_selected(page, [3])

    # Dragging a selected cell moves the whole selection.
    row(page, 1).locator(".nb-prompt").click()
    row(page, 2).locator(".nb-prompt").click(modifiers=["Shift"])
    expect_selected(page, [1, 2])
    drag(2, 4)
    assert sources(page) == ["a", "d", "b", "c"]
    expect_selected(page, [3, 4])
    expect(page.get_by_role("button", name="Drag to move cell 4")).to_have_count(1)
    save(page)
    assert saved_sources(ui_server, "drag.ipynb") == ["a", "d", "b", "c"]


def test_run_a_selection_after_moves_and_merges(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "run-sel.ipynb", [code_cell("print('one')"), code_cell("print('two')"),
                                              code_cell("print('three')"), code_cell("x = 4\nx")])
    open_notebook(page, "run-sel.ipynb")
    command_mode_on(page, 1)
    page.keyboard.press("Shift+J")
    page.keyboard.press("Shift+Enter")  # runs both, selects the next cell
    expect(output(page, 1)).to_have_text("one")
    expect(output(page, 2)).to_have_text("two")
    expect_selected(page, [3])
    expect(prompt(page, 3)).to_have_text("[ ]:")

    # Merge cells 2 and 3 (the code's outputs go), move cell 3 to the top, run all with Ctrl-Enter.
    page.keyboard.press("k")
    page.keyboard.press("Shift+M")
    assert sources(page) == ["print('one')", "print('two')\n\nprint('three')", "x = 4\nx"]
    expect(output(page, 2)).to_have_count(0)  # an empty output area is hidden
    expect(prompt(page, 2)).to_have_text("[ ]:")
    expect(output(page, 1)).to_have_text("one")
    page.keyboard.press("j")
    page.keyboard.press("Control+Shift+ArrowUp")
    page.keyboard.press("Control+Shift+ArrowUp")
    page.keyboard.press("Control+a")
    page.keyboard.press("Control+Enter")
    expect(output(page, 1)).to_have_text("Out[3]:4")
    expect(output(page, 2)).to_have_text("one")
    expect(output(page, 3)).to_have_text("two three")
    expect(prompt(page, 3)).to_have_text("[5]:")
    expect_selected(page, [1, 2, 3])

    def outputs_saved() -> list[str] | None:
        cells = saved_cells(ui_server, "run-sel.ipynb")
        texts = ["".join(text_of(o) for o in cell["outputs"]) for cell in cells]
        return texts if texts == ["4", "one\n", "two\nthree\n"] else None

    wait_for(outputs_saved, timeout=20)
    assert saved_sources(ui_server, "run-sel.ipynb") == ["x = 4\nx", "print('one')", "print('two')\n\nprint('three')"]
