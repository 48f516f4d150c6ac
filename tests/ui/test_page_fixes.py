"""Rough edges of the notebook page found by a new user (issue 21): the Settings menu shows the
current theme and line-numbers setting; a notebook whose kernel is not installed asks which
kernel to start; the menus and palette show the move shortcuts and the script's extension; a
kernel that died and was restarted is told once, without a Restart button."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.kernels import add_kernelspec, add_vanishing_kernelspec
from ..support.notebook_page import cell, kernel_state, menu, open_notebook, output, prompt
from ..support.waiting import wait_for

WHICH = "import os\nos.environ.get('WHICH_KERNEL', 'python3')"


def put_with_kernelspec(server: UIServer, path: str, cells: list[dict[str, Any]], kernelspec: dict[str, str]) -> None:
    for i, one in enumerate(cells):
        one.setdefault("id", f"cell-{i}")
    content = {"cells": cells, "metadata": {"kernelspec": kernelspec}, "nbformat": 4, "nbformat_minor": 5}
    server.json("PUT", f"api/contents/{path}", (200, 201), json={"type": "notebook", "content": content})


def sessions_of(server: UIServer, path: str) -> list[dict[str, Any]]:
    return [s for s in server.json("GET", "api/sessions", 200) if s["path"] == path]


def on_disk(server: UIServer, path: str) -> dict[str, Any]:
    return json.loads((server.root / path).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_a_key_pressed_as_a_dialog_closes_keeps_its_effect(page: Page, ui_server: UIServer) -> None:
    # A dialog's "close" event comes a task after it closed, and the browser may run a key
    # pressed meanwhile first: Enter on the cell the focus went back to starts editing it,
    # and the dialog's code then took the focus back to the cell (one Enter in five was lost
    # in the test above). Here the key comes exactly then: dispatched in the same task as the
    # click that closes the dialog.
    missing = {"name": "nosuchkernel", "display_name": "No Such Kernel", "language": "python"}
    put_with_kernelspec(ui_server, "quick.ipynb", [code_cell("1")], missing)
    page.goto("notebooks/quick.ipynb")
    dialog = page.get_by_role("dialog", name="Select a kernel")
    expect(dialog).to_be_visible()
    page.evaluate("""() => {
        const button = [...document.querySelectorAll("dialog button")].find((b) => b.textContent === "No kernel");
        button.click();
        document.activeElement.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    }""")
    expect(kernel_state(page)).to_have_text("No kernel")
    expect(page.locator("dialog")).to_have_count(0)  # the close event has come
    expect(cell(page, 1).locator(".cm-content")).to_be_focused()
    page.keyboard.type(" + 1")
    expect(cell(page, 1).locator(".cm-content")).to_have_text("1 + 1")


def test_settings_menu_checks_the_current_theme(page: Page, ui_server: UIServer) -> None:
    ui_server.json("PUT", "api/config/flask_notebook", 204, json={})
    put_notebook(ui_server, "checks.ipynb", [code_cell("")])
    open_notebook(page, "checks.ipynb")
    page.get_by_role("button", name="Settings", exact=True).click()
    settings = page.get_by_role("menu", name="Settings")
    expect(settings.get_by_role("menuitemradio", name="Theme of the system", checked=True)).to_be_visible()
    expect(settings.get_by_role("menuitemradio", checked=False)).to_have_count(2)
    expect(settings.get_by_role("menuitemcheckbox", name="Line numbers by default", checked=False)).to_be_visible()
    # The keyboard reaches them as the other items; Enter chooses.
    expect(settings.get_by_role("menuitemradio", name="Light theme")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    # The focus goes back to the notebook (it was left on the page's body), and a dialog
    # opened from a menu gives it back there too.
    expect(cell(page, 1)).to_be_focused()
    menu(page, "Settings", "Settings…")
    page.get_by_role("dialog", name="Settings").get_by_role("button", name="Save").click()
    expect(cell(page, 1)).to_be_focused()
    page.get_by_role("button", name="Settings", exact=True).click()
    dark = settings.get_by_role("menuitemradio", name="Dark theme", checked=True)
    expect(dark).to_be_visible()
    expect(settings.get_by_role("menuitemradio", name="Theme of the system", checked=False)).to_be_visible()
    # A visible check mark beside the checked one only.
    assert dark.evaluate("(item) => getComputedStyle(item, '::before').content").startswith('"✓"')
    light = settings.get_by_role("menuitemradio", name="Light theme")
    assert light.evaluate("(item) => getComputedStyle(item, '::before').content") in ("none", "normal")
    settings.get_by_role("menuitemcheckbox", name="Line numbers by default").click()
    expect(cell(page, 1).locator(".cm-lineNumbers")).to_be_visible()
    page.get_by_role("button", name="Settings", exact=True).click()
    expect(settings.get_by_role("menuitemcheckbox", name="Line numbers by default", checked=True)).to_be_visible()
    page.keyboard.press("Escape")
    wait_for(lambda: ui_server.json("GET", "api/config/flask_notebook", 200).get("lineNumbers") is True, timeout=10)

    # Changed in another tab: the closed menu follows at once (no reopening needed).
    other = page.context.new_page()
    try:
        open_notebook(other, "checks.ipynb")
        menu(other, "Settings", "Light theme")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        expect(page.locator('[data-action="theme-light"]')).to_have_attribute("aria-checked", "true")
        expect(page.locator('[data-action="theme-dark"]')).to_have_attribute("aria-checked", "false")
        page.get_by_role("button", name="Settings", exact=True).click()
        expect(settings.get_by_role("menuitemradio", name="Light theme", checked=True)).to_be_visible()
        page.keyboard.press("Escape")
    finally:
        other.close()
        ui_server.json("PUT", "api/config/flask_notebook", 204, json={})


def test_missing_kernel_asks_which_to_start(page: Page, ui_server: UIServer) -> None:
    add_kernelspec(ui_server.base / "data", "other", [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                      "{connection_file}"],
                   display_name="Other Python", env={"WHICH_KERNEL": "other"})
    missing = {"name": "nosuchkernel", "display_name": "No Such Kernel", "language": "python"}
    put_with_kernelspec(ui_server, "gone.ipynb", [code_cell(WHICH)], missing)
    page.goto("notebooks/gone.ipynb")
    dialog = page.get_by_role("dialog", name="Select a kernel")
    expect(dialog).to_contain_text("This notebook's kernel \u201cNo Such Kernel\u201d is not available here.")
    choice = dialog.get_by_role("combobox", name="Kernel")
    expect(choice).to_be_focused()
    expect(choice).to_have_value("python3")  # the server's default
    offered = choice.locator("option").all_text_contents()
    assert "Other Python" in offered and "Python 3 (ipykernel)" in offered and offered[-1] == "No kernel", offered
    # Nothing started and nothing changed until the person chooses.
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")
    assert sessions_of(ui_server, "gone.ipynb") == []
    choice.select_option(label="Other Python")
    expect(choice).to_be_focused()
    page.keyboard.press("Enter")  # in the list: confirms it, as in a text field
    expect(dialog).to_have_count(0)
    expect(kernel_state(page)).to_have_text("Kernel Idle")
    expect(page.locator(".nb-kernel-name")).to_have_text("Other Python")
    expect(cell(page, 1)).to_be_focused()  # focus back in the notebook
    assert [s["kernel"]["name"] for s in sessions_of(ui_server, "gone.ipynb")] == ["other"]
    expect(page.get_by_role("status").filter(has_text="Unsaved changes")).to_be_visible()  # the kernelspec changed
    page.keyboard.press("Control+Enter")
    expect(output(page, 1)).to_have_text("Out[1]:'other'")
    wait_for(lambda: on_disk(ui_server, "gone.ipynb")["metadata"]["kernelspec"]["name"] == "other", timeout=20)

    # "No kernel": the notebook opens without one, can be edited and saved, its kernelspec kept.
    put_with_kernelspec(ui_server, "gone2.ipynb", [code_cell("1")], missing)
    page.goto("notebooks/gone2.ipynb")
    dialog = page.get_by_role("dialog", name="Select a kernel")
    dialog.get_by_role("button", name="No kernel").click()
    expect(dialog).to_have_count(0)
    expect(kernel_state(page)).to_have_text("No kernel")
    expect(cell(page, 1)).to_be_focused()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")
    page.keyboard.press("Enter")  # at once: see the next test
    expect(cell(page, 1).locator(".cm-content")).to_be_focused()  # editing, as a person sees it
    page.keyboard.press("End")
    page.keyboard.type(" + 1")
    expect(cell(page, 1).locator(".cm-content")).to_have_text("1 + 1")
    page.keyboard.press("Escape")
    expect(page.get_by_role("status").filter(has_text="Unsaved changes")).to_be_visible()
    page.keyboard.press("Control+s")
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")
    saved = on_disk(ui_server, "gone2.ipynb")
    assert "".join(saved["cells"][0]["source"]) == "1 + 1"
    assert saved["metadata"]["kernelspec"] == missing
    assert sessions_of(ui_server, "gone2.ipynb") == []
    # Esc is "No kernel" too; Kernel > Change kernel… starts one later.
    page.reload()
    dialog = page.get_by_role("dialog", name="Select a kernel")
    expect(dialog.get_by_role("combobox", name="Kernel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(kernel_state(page)).to_have_text("No kernel")
    menu(page, "Kernel", "Change kernel…")
    change = page.get_by_role("dialog", name="Change kernel")
    change.get_by_label("Kernel").select_option(label="Python 3 (ipykernel)")
    change.get_by_role("button", name="Change").click()
    expect(kernel_state(page)).to_have_text("Kernel Idle")
    assert [s["kernel"]["name"] for s in sessions_of(ui_server, "gone2.ipynb")] == ["python3"]


def test_menus_and_palette_show_move_keys_and_script_extension(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "labels.ipynb", [code_cell("1"), code_cell("2")])
    open_notebook(page, "labels.ipynb")
    wait_for(lambda: page.evaluate("Boolean(nbApp.kernel.info)"), timeout=20)  # language_info: .py
    page.get_by_role("button", name="Edit", exact=True).click()
    edit = page.get_by_role("menu", name="Edit")
    expect(edit.get_by_role("menuitem", name="Move cell up")).to_contain_text("Ctrl-Shift-Up")
    expect(edit.get_by_role("menuitem", name="Move cell down")).to_contain_text("Ctrl-Shift-Down")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="File", exact=True).click()
    file_menu = page.get_by_role("menu", name="File")
    expect(file_menu.get_by_role("menuitem", name="Download as Executable Script (.py)", exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    cell(page, 1).click()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Shift+C")
    palette = page.get_by_role("dialog", name="Command palette")
    palette.get_by_role("combobox", name="Command").fill("move cell")
    expect(palette.get_by_role("option", name="Edit Move cell up Ctrl-Shift-Up", exact=True)).to_have_count(1)
    expect(palette.get_by_role("option", name="Edit Move cell down Ctrl-Shift-Down", exact=True)).to_have_count(1)
    palette.get_by_role("combobox", name="Command").fill("script")
    expect(palette.get_by_role("option", name="File Download as Executable Script (.py)", exact=True)).to_have_count(1)
    page.keyboard.press("Escape")
    expect(palette).to_be_hidden()


def test_kernel_killed_is_told_once_without_restart(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "killed.ipynb", [code_cell("print(1)"), code_cell(
        "import os, time\nn = globals().get('n', 0) + 1\nif n == 2:\n    print('before', flush=True)\n    time.sleep(0.5)\n"
        "    os.kill(os.getpid(), 9)\nn")])
    open_notebook(page, "killed.ipynb")
    cell(page, 1).click()
    page.keyboard.press("Shift+Enter")
    expect(prompt(page, 1)).to_have_text("[1]:")
    page.keyboard.press("Control+Enter")
    expect(prompt(page, 2)).to_have_text("[2]:")
    page.keyboard.press("Control+Enter")  # cell 2 again: the kernel kills itself
    notice = page.get_by_role("alert").filter(has_text="SIGKILL")
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("The kernel died and was restarted")
    expect(notice).to_contain_text("it was restarted")
    expect(kernel_state(page)).to_have_text("Kernel Idle")
    wait_for(lambda: page.evaluate("nbApp.runs.followed.length === 0 && nbApp.runs.syncing === 0"), timeout=20)
    expect(notice.get_by_role("button", name="Restart kernel")).to_have_count(0)
    expect(page.locator(".nb-toast")).to_have_count(0)  # no "The run failed: DeadKernelError" besides
    expect(page.get_by_role("alert")).to_have_count(1)
    # The cell itself says it did not finish: its output so far, then the kernel's death.
    expect(output(page, 2)).to_contain_text("before")
    expect(output(page, 2)).to_contain_text("DeadKernelError: The kernel was killed by SIGKILL")
    expect(prompt(page, 2)).to_have_text(re.compile(r"\[\d+\]:"))  # the cell keeps its prompt number
    notice.get_by_role("button", name="Dismiss").click()
    expect(notice).to_have_count(0)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(prompt(page, 2)).to_have_text(re.compile(r"\[\d+\]:"))


def test_a_kernel_that_stays_dead_keeps_the_restart_button(page: Page, ui_server: UIServer) -> None:
    program = add_vanishing_kernelspec(ui_server.base)
    put_with_kernelspec(ui_server, "stays.ipynb", [code_cell("1 + 1")],
                        {"name": "vanishing", "display_name": "vanishing", "language": "python"})
    open_notebook(page, "stays.ipynb")
    program.rename(program.with_suffix(".away"))  # its restart cannot start it: it stays dead
    try:
        menu(page, "Kernel", "Restart kernel…")
        page.get_by_role("dialog", name="Restart kernel").get_by_role("button", name="Restart").click()
        notice = page.get_by_role("alert").filter(has_text="could not be restarted")
        expect(notice).to_contain_text("The kernel died")
        expect(notice).not_to_contain_text("was restarted")
        restart = notice.get_by_role("button", name="Restart kernel")
        expect(restart).to_be_visible()
    finally:
        program.with_suffix(".away").rename(program)
    restart.click()  # a new session, a new kernel
    expect(notice).to_have_count(0)
    expect(page.locator(".nb-kernel-state")).to_have_text("Kernel Idle")  # (a toast told the failed restart)
    cell(page, 1).click()
    page.keyboard.press("Control+Enter")
    expect(output(page, 1)).to_have_text("Out[1]:2")


def test_a_kernel_shut_down_elsewhere_is_shown_so(page: Page, ui_server: UIServer) -> None:
    """DELETE /api/kernels/<id> (the running page, another tab, a script) while the notebook is
    open: the server keeps the WebSocket open, as jupyter_server does; the page still learns the
    kernel is gone (it said "Kernel Idle" for ever), and Restart kernel gives it a new one."""
    put_notebook(ui_server, "shut.ipynb", [code_cell("21 * 2")])
    open_notebook(page, "shut.ipynb")
    (session,) = sessions_of(ui_server, "shut.ipynb")
    ui_server.json("DELETE", f"api/kernels/{session['kernel']['id']}", 204)
    expect(kernel_state(page)).to_contain_text("Kernel Dead")
    notice = page.get_by_role("alert").filter(has_text="The kernel was shut down")
    expect(notice).to_have_count(1)
    expect(notice).not_to_contain_text("died")
    # Running a cell now says what to do, not the kernel's id.
    cell(page, 1).click()
    page.keyboard.press("Control+Enter")
    expect(page.locator(".nb-toast")).to_contain_text("the kernel is not running: restart it")
    expect(page.locator(".nb-toast")).not_to_contain_text(session["kernel"]["id"])
    notice.get_by_role("button", name="Restart kernel").click()
    expect(page.locator(".nb-kernel-state")).to_have_text("Kernel Idle")  # (the toast says "kernel" too)
    cell(page, 1).click()
    page.keyboard.press("Control+Enter")
    expect(output(page, 1)).to_have_text("Out[1]:42")
