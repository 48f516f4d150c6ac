"""The Running view and the running marker of the file browser, with real kernels."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from ..support.browser import UIServer, put_notebook
from ..support.tree_page import open_tree, row
from ..support.waiting import wait_for

pytestmark = pytest.mark.live


@pytest.fixture
def bare_kernels(ui_server: UIServer) -> Iterator[list[str]]:
    """Kernels a test starts without a session; shut down at teardown."""
    kernel_ids: list[str] = []
    yield kernel_ids
    for kernel_id in kernel_ids:
        ui_server.request("DELETE", f"api/kernels/{kernel_id}")


def start_session(server: UIServer, path: str) -> dict[str, object]:
    put_notebook(server, path)
    body = {"path": path, "type": "notebook", "name": "", "kernel": {"name": "python3"}}
    return server.json("POST", "api/sessions", 201, json=body)  # type: ignore[no-any-return]


def test_running_view_lists_sessions_and_kernels_and_shuts_them_down(
    page: Page, ui_server: UIServer, bare_kernels: list[str]
) -> None:
    (ui_server.root / "run").mkdir()
    session = start_session(ui_server, "run/busy.ipynb")
    kernel = ui_server.json("POST", "api/kernels", 201, json={"name": "python3"})
    bare_kernels.append(kernel["id"])
    page.goto("running")
    expect(page.locator("html")).to_have_attribute("data-nb-ready", "true")
    expect(page.get_by_role("link", name="Running")).to_have_attribute("aria-current", "page")

    sessions = page.get_by_role("table", name="Notebooks and other sessions")
    expect(sessions.get_by_role("link", name="run/busy.ipynb")).to_have_attribute("href", "/notebooks/run/busy.ipynb")
    kernels = page.get_by_role("table", name="Kernels")
    bare_row = kernels.locator(f'tr[data-kernel-id="{kernel["id"]}"]')
    display_name = ui_server.json("GET", "api/kernelspecs/python3", 200)["spec"]["display_name"]
    expect(bare_row).to_contain_text(display_name)
    session_kernel = session["kernel"]["id"]  # type: ignore[index]
    expect(kernels.locator(f'tr[data-kernel-id="{session_kernel}"]')).to_contain_text("run/busy.ipynb")

    sessions.get_by_role("button", name="Shut down run/busy.ipynb").click()
    expect(sessions.get_by_role("link", name="run/busy.ipynb")).to_have_count(0)
    expect(kernels.locator(f'tr[data-kernel-id="{session_kernel}"]')).to_have_count(0)
    assert ui_server.json("GET", "api/sessions", 200) == []

    bare_row.get_by_role("button", name=f"Shut down {display_name} kernel {kernel['id'][:8]}").click()
    expect(page.get_by_text("No kernels are running.")).to_be_visible()
    assert ui_server.json("GET", "api/kernels", 200) == []


def test_running_notebook_is_marked_in_the_tree_and_shut_down_there(page: Page, ui_server: UIServer) -> None:
    (ui_server.root / "marked").mkdir()
    put_notebook(ui_server, "marked/idle.ipynb")
    start_session(ui_server, "marked/live.ipynb")
    open_tree(page, "marked")
    expect(row(page, "live.ipynb").get_by_text("Running", exact=True)).to_be_visible()
    expect(row(page, "idle.ipynb").get_by_text("Running", exact=True)).to_have_count(0)
    shut_down = page.get_by_role("toolbar", name="Selected items").get_by_role("button", name="Shut Down")
    expect(shut_down).to_be_disabled()

    row(page, "live.ipynb").get_by_role("checkbox", name="Select live.ipynb").check()
    shut_down.click()
    expect(row(page, "live.ipynb").get_by_text("Running", exact=True)).to_have_count(0)
    wait_for(lambda: ui_server.json("GET", "api/sessions", 200) == [], timeout=20)


def test_renaming_a_running_notebook_moves_its_session(page: Page, ui_server: UIServer) -> None:
    (ui_server.root / "moving").mkdir()
    session = start_session(ui_server, "moving/old.ipynb")
    open_tree(page, "moving")
    expect(row(page, "old.ipynb").get_by_text("Running", exact=True)).to_be_visible()
    row(page, "old.ipynb").locator(".nb-col-size").click()
    page.keyboard.press("F2")
    dialog = page.get_by_role("dialog", name="Rename")
    dialog.get_by_label("File name").fill("new.ipynb")
    dialog.get_by_label("File name").press("Enter")
    expect(row(page, "new.ipynb").get_by_text("Running", exact=True)).to_be_visible()
    moved = ui_server.json("GET", f"api/sessions/{session['id']}", 200)
    assert moved["path"] == "moving/new.ipynb"


def test_shut_down_all_asks_first(page: Page, ui_server: UIServer, bare_kernels: list[str]) -> None:
    for _ in range(2):
        bare_kernels.append(ui_server.json("POST", "api/kernels", 201, json={"name": "python3"})["id"])
    page.goto("running")
    kernels = page.get_by_role("table", name="Kernels")
    expect(kernels.locator("tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Shut Down All").click()
    dialog = page.get_by_role("dialog", name="Shut down all kernels")
    dialog.get_by_role("button", name="Cancel").click()
    assert len(ui_server.json("GET", "api/kernels", 200)) == 2
    page.get_by_role("button", name="Shut Down All").click()
    page.get_by_role("dialog", name="Shut down all kernels").get_by_role("button", name="Shut Down All").click()
    expect(page.get_by_text("No kernels are running.")).to_be_visible()
    expect(page.get_by_role("button", name="Shut Down All")).to_be_disabled()
    assert ui_server.json("GET", "api/kernels", 200) == []
