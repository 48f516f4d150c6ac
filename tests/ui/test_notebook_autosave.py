"""Autosave, on a server whose NOTEBOOK_AUTOSAVE_INTERVAL is one second: an edit reaches the
file on disk with no Save, and the unsaved-changes marker goes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.kernels import kernel_processes
from ..support.notebook_page import cell, open_notebook
from ..support.waiting import wait_for

INTERVAL = 1


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    srv = UIServer(tmp_path_factory.mktemp("ui-autosave"), env={"NOTEBOOK_AUTOSAVE_INTERVAL": str(INTERVAL)})
    yield srv
    srv.stop()
    wait_for(lambda: not kernel_processes(srv.runtime_dir), timeout=15)


def sources_on_disk(server: UIServer, name: str) -> list[str]:
    notebook: dict[str, Any] = json.loads((server.root / name).read_text())
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in notebook["cells"]]


def test_autosave_writes_an_edit_and_clears_the_marker(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "autosave.ipynb", [code_cell("x = 1")])
    checkpoints = ui_server.json("GET", "api/contents/autosave.ipynb/checkpoints", 200)
    open_notebook(page, "autosave.ipynb")
    assert page.evaluate("nbApp.config.autosaveInterval") == INTERVAL

    cell(page, 1).locator(".cm-content").click()
    page.keyboard.press("End")
    page.keyboard.type(" + 41")
    expect(page).to_have_title("* autosave.ipynb")
    # No Save: the edit reaches the file within a few intervals, and the marker goes.
    wait_for(lambda: sources_on_disk(ui_server, "autosave.ipynb") == ["x = 1 + 41"], timeout=20)
    expect(page).to_have_title("autosave.ipynb")
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")

    # It goes on: the next edit is written too. Autosaves make no checkpoint (Save does).
    page.keyboard.press("Enter")
    page.keyboard.type("y = 2")
    expect(page).to_have_title("* autosave.ipynb")
    wait_for(lambda: sources_on_disk(ui_server, "autosave.ipynb") == ["x = 1 + 41\ny = 2"], timeout=20)
    expect(page).to_have_title("autosave.ipynb")
    assert ui_server.json("GET", "api/contents/autosave.ipynb/checkpoints", 200) == checkpoints
