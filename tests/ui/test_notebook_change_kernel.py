"""Kernel > Change kernel…: the session moves to a kernel of another kernelspec, the old kernel
is shut down, cells run on the new one, and the notebook records it."""

from __future__ import annotations

import json
import sys
from typing import Any

from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.kernels import add_kernelspec
from ..support.notebook_page import cell, kernel_state, menu, open_notebook, output
from ..support.waiting import wait_for

WHICH = "import os\nos.environ.get('WHICH_KERNEL', 'python3')"


def session_of(server: UIServer, path: str) -> dict[str, Any]:
    sessions = [s for s in server.json("GET", "api/sessions", 200) if s["path"] == path]
    assert len(sessions) == 1, sessions
    return sessions[0]  # type: ignore[no-any-return]


def run_first_cell(page: Page) -> None:
    cell(page, 1).locator(".nb-prompt").click()
    page.get_by_role("button", name="Run", exact=True).click()


def test_change_kernel_from_the_menu(page: Page, ui_server: UIServer) -> None:
    # A second kernelspec, told apart by an environment variable its kernel sees.
    add_kernelspec(ui_server.base / "data", "other", [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                      "{connection_file}"],
                   display_name="Other Python", env={"WHICH_KERNEL": "other"})
    put_notebook(ui_server, "switch.ipynb", [code_cell(WHICH)])
    open_notebook(page, "switch.ipynb")
    before = session_of(ui_server, "switch.ipynb")
    assert before["kernel"]["name"] == "python3"
    run_first_cell(page)
    expect(output(page, 1)).to_have_text("Out[1]:'python3'")

    menu(page, "Kernel", "Change kernel…")
    dialog = page.get_by_role("dialog", name="Change kernel")
    dialog.get_by_label("Kernel").select_option(label="Other Python")
    dialog.get_by_label("Kernel").press("Enter")  # confirms from the list, as in a text field
    expect(dialog).to_have_count(0)

    after = wait_for(lambda: (s := session_of(ui_server, "switch.ipynb"))["kernel"]["name"] == "other" and s,
                     timeout=20)
    assert after["id"] == before["id"] and after["kernel"]["id"] != before["kernel"]["id"]
    wait_for(lambda: ui_server.request("GET", f"api/kernels/{before['kernel']['id']}").status_code == 404,
             timeout=20)  # the old kernel is shut down
    expect(page.locator(".nb-kernel-name")).to_have_text("Other Python")
    expect(kernel_state(page)).to_have_text("Kernel Idle")
    run_first_cell(page)
    expect(output(page, 1)).to_have_text("Out[1]:'other'")
    # The cell is done (its reply came, after the output): a save now has nothing left to miss.
    expect(cell(page, 1)).to_have_attribute("aria-busy", "false")

    # The notebook now names its kernel: a change, saved before the run (issue 20: a run
    # executes the notebook as the page shows it).
    expect(page).to_have_title("switch.ipynb")
    saved = json.loads((ui_server.root / "switch.ipynb").read_text())
    assert saved["metadata"]["kernelspec"] == {"name": "other", "display_name": "Other Python", "language": "python"}
