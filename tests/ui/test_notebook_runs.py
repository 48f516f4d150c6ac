"""Cells run as runs on the server (issue 20): a closed page loses nothing, a reopened page
shows the run going on, edits made during a run survive its saves, input() works, and the
Run history and Run with parameters dialogs."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from ..support.browser import UIServer, code_cell, markdown_cell, put_notebook
from ..support.notebook_page import cell, expect_ready, menu, open_notebook, output, prompt
from ..support.waiting import wait_for


def slow_cell(n: int) -> dict[str, Any]:
    return code_cell(f"import time\ntime.sleep(1)\nprint('cell {n}', flush=True)")


def on_disk(server: UIServer, path: str) -> dict[str, Any]:
    return json.loads((server.root / path).read_text())  # type: ignore[no-any-return]


def text_of(outputs: list[dict[str, Any]]) -> str:
    return "".join("".join(o.get("text", "")) for o in outputs if o["output_type"] == "stream")


def open_running(page: Page, path: str) -> None:
    """Open a notebook whose kernel is busy with a run (so not "Kernel Idle")."""
    page.goto(f"notebooks/{path}")
    expect(page.locator("#nb-notebook")).to_have_attribute("data-state", "ready")
    expect(page.get_by_role("status").filter(has_text="Kernel")).to_have_text("Kernel Busy")


def runs_of(server: UIServer, path: str) -> list[dict[str, Any]]:
    return server.json("GET", "api/runs", 200, params={"path": path})["runs"]  # type: ignore[no-any-return]


def gated_cell(n: int, gate: str) -> dict[str, Any]:
    """A cell that waits (at most 60 s) for the test to create the file `gate`, then prints."""
    return code_cell(f"import os, time\ndeadline = time.monotonic() + 60\nwhile not os.path.exists({gate!r}) "
                     f"and time.monotonic() < deadline:\n    time.sleep(0.05)\nprint('cell {n}', flush=True)")


def test_run_all_goes_on_with_the_page_closed_and_a_reopened_page_follows_it(
    page: Page, context: BrowserContext, ui_server: UIServer
) -> None:
    # Slow cells, and one that waits for the test, so the reopened page surely finds the run
    # going on however slow the machine is.
    put_notebook(ui_server, "slow.ipynb", [slow_cell(1), slow_cell(2), gated_cell(3, "slow.go"), slow_cell(4)])
    open_notebook(page, "slow.ipynb")
    menu(page, "Cell", "Run all cells")
    expect(prompt(page, 4)).to_have_text("[*]:")  # queued
    expect(output(page, 1)).to_have_text("cell 1")
    page.close(run_before_unload=True)

    # Another page (as after closing the tab, or from another browser of this user) shows
    # what ran, what runs and what is queued, then the outputs as they come.
    again = context.new_page()
    open_running(again, "slow.ipynb")
    expect(output(again, 1)).to_have_text("cell 1")
    expect(prompt(again, 3)).to_have_text("[*]:")
    expect(again.locator(".nb-cell.nb-running")).to_have_count(1)
    expect(prompt(again, 4)).to_have_text("[*]:")
    (ui_server.root / "slow.go").touch()
    expect(output(again, 3)).to_have_text("cell 3")
    expect(output(again, 4)).to_have_text("cell 4")
    expect(prompt(again, 4)).to_have_text("[4]:")
    expect(again.locator(".nb-cell[aria-busy=true]")).to_have_count(0)
    # The run's outputs are the server's to save: the page has nothing unsaved.
    expect(again).to_have_title("slow.ipynb")

    # The file has everything.
    def complete() -> bool:
        cells = on_disk(ui_server, "slow.ipynb")["cells"]
        return all(c["execution_count"] == n and text_of(c["outputs"]) == f"cell {n}\n"
                   for n, c in enumerate(cells, start=1))
    wait_for(complete, timeout=20)
    [run] = runs_of(ui_server, "slow.ipynb")
    assert run["status"] == "completed" and run["cells_done"] == 4


def test_edits_made_during_a_run_survive_its_saves(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "edits.ipynb", [markdown_cell("# Before"), slow_cell(1), slow_cell(2),
                                            gated_cell(3, "edits.go")])
    open_notebook(page, "edits.ipynb")
    menu(page, "Cell", "Run all cells")
    expect(output(page, 2)).to_have_text("cell 1")
    # While the run writes the file: edit the Markdown, add a cell, and save.
    cell(page, 1).dblclick()
    page.keyboard.press("Control+a")
    page.keyboard.type("# After")
    page.keyboard.press("Escape")
    cell(page, 4).locator(".nb-prompt").click()
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type("'new cell'")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")
    assert runs_of(ui_server, "edits.ipynb")[0]["status"] == "running"  # the save came mid-run
    (ui_server.root / "edits.go").touch()
    expect(prompt(page, 4)).to_have_text("[3]:", timeout=30_000)

    def merged() -> bool:
        cells = on_disk(ui_server, "edits.ipynb")["cells"]
        return ("".join(cells[0]["source"]) == "# After" and "".join(cells[4]["source"]) == "'new cell'"
                and [text_of(c["outputs"]) for c in cells[1:4]] == ["cell 1\n", "cell 2\n", "cell 3\n"])
    wait_for(merged, timeout=20)
    # The run's own saves are not "changed on disk": the next save just saves.
    cell(page, 5).locator(".nb-prompt").click()
    page.keyboard.press("Enter")
    page.keyboard.press("Control+End")
    page.keyboard.type(" # edited after")
    page.keyboard.press("Control+s")
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")
    expect(page.get_by_role("dialog", name="Notebook changed on disk")).to_have_count(0)
    cells = on_disk(ui_server, "edits.ipynb")["cells"]
    assert "".join(cells[4]["source"]) == "'new cell' # edited after"
    assert [text_of(c["outputs"]) for c in cells[1:4]] == ["cell 1\n", "cell 2\n", "cell 3\n"]


def test_input_in_a_run_is_asked_again_by_a_reopened_page(
    page: Page, context: BrowserContext, ui_server: UIServer
) -> None:
    put_notebook(ui_server, "ask.ipynb", [code_cell("name = input('Your name: ')\nprint('hi', name)")])
    open_notebook(page, "ask.ipynb")
    cell(page, 1).locator(".nb-prompt").click()
    page.keyboard.press("Control+Enter")
    expect(output(page, 1).get_by_role("textbox", name="Your name:")).to_be_focused()
    page.close(run_before_unload=True)

    again = context.new_page()
    open_running(again, "ask.ipynb")
    expect(prompt(again, 1)).to_have_text("[*]:")
    box = output(again, 1).get_by_role("textbox", name="Your name:")
    box.fill("Ada")
    box.press("Enter")
    expect(output(again, 1).locator(".nb-stream-stdout")).to_have_text("hi Ada")
    expect(prompt(again, 1)).to_have_text("[1]:")
    wait_for(lambda: runs_of(ui_server, "ask.ipynb")[0]["status"] == "completed", timeout=10)


def test_run_history_lists_a_finished_run_with_a_working_link(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "history.ipynb", [code_cell("6 * 7")])
    open_notebook(page, "history.ipynb")
    menu(page, "Cell", "Run all cells")
    expect(output(page, 1)).to_have_text("Out[1]:42")
    menu(page, "Cell", "Run history…")
    dialog = page.get_by_role("dialog", name="Run history")
    table = dialog.get_by_role("table", name="Runs of this notebook")
    row = table.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator(".nb-run-status")).to_have_text("completed")
    expect(row.get_by_role("button", name="Cancel")).to_have_count(0)  # it has ended
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)

    # The Runs tab beside Running lists it too, and its link opens the notebook.
    page.goto("tree")
    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page.get_by_role("link", name="Runs", exact=True)).to_have_attribute("aria-current", "page")
    row = page.get_by_role("table", name="Runs").locator("tbody tr").filter(has_text="history.ipynb")
    expect(row.locator(".nb-run-status")).to_have_text("completed")
    row.get_by_role("link", name="history.ipynb").click()
    expect(page).to_have_url(f"{ui_server.url}notebooks/history.ipynb")
    expect_ready(page)
    expect(output(page, 1)).to_have_text("Out[1]:42")


def test_run_with_parameters_writes_the_output_notebook_with_the_injected_cell(page: Page, ui_server: UIServer) -> None:
    parameters = code_cell("alpha = 1  # how much\nname = 'world'")
    parameters["metadata"]["tags"] = ["parameters"]
    put_notebook(ui_server, "report.ipynb", [parameters, code_cell("print(alpha * 2, name)")])
    source_before = (ui_server.root / "report.ipynb").read_text()
    (ui_server.root / "out").mkdir()
    open_notebook(page, "report.ipynb")
    menu(page, "File", "Run with parameters…")
    dialog = page.get_by_role("dialog", name="Run with parameters")
    expect(dialog.get_by_role("textbox", name="alpha")).to_have_value("1")
    expect(dialog.get_by_role("textbox", name="name")).to_have_value("'world'")
    output_box = dialog.get_by_role("textbox", name="Output notebook")
    expect(output_box).to_have_value(re.compile(r"^report-\d{8}-\d{6}\.ipynb$"))
    dialog.get_by_role("textbox", name="alpha").fill("21")
    dialog.get_by_role("textbox", name="name").fill("runs")  # a text parameter, quotes optional
    output_box.fill("out/report-21.ipynb")
    dialog.get_by_role("button", name="Run").click()
    history = page.get_by_role("dialog", name="Run history")
    expect(history.get_by_role("link", name="out/report-21.ipynb")).to_be_visible()

    def written() -> dict[str, Any] | None:
        path = ui_server.root / "out" / "report-21.ipynb"
        if not path.exists():
            return None
        notebook = on_disk(ui_server, "out/report-21.ipynb")
        return notebook if text_of(notebook["cells"][-1]["outputs"]) == "42 runs\n" else None
    notebook = wait_for(written, timeout=30)
    injected = notebook["cells"][1]
    assert injected["metadata"]["tags"] == ["injected-parameters"]
    assert "alpha = 21" in "".join(injected["source"]) and "name = 'runs'" in "".join(injected["source"])
    assert (ui_server.root / "report.ipynb").read_text() == source_before  # the source is untouched
    expect(history.get_by_role("row").filter(has_text="out/report-21.ipynb").locator(".nb-run-status")).to_have_text("completed")


def test_a_run_started_in_another_tab_shows_live_in_this_one(
    page: Page, context: BrowserContext, ui_server: UIServer
) -> None:
    put_notebook(ui_server, "shared.ipynb", [gated_cell(1, "shared.go"), code_cell("print('two')")])
    open_notebook(page, "shared.ipynb")
    other = context.new_page()
    open_notebook(other, "shared.ipynb")
    menu(other, "Cell", "Run all cells")
    expect(prompt(page, 1)).to_have_text("[*]:")
    expect(prompt(page, 2)).to_have_text("[*]:")
    (ui_server.root / "shared.go").touch()
    expect(output(page, 1)).to_have_text("cell 1")
    expect(output(page, 2)).to_have_text("two")
    expect(prompt(page, 2)).to_have_text("[2]:")
    expect(page).to_have_title("shared.ipynb")
