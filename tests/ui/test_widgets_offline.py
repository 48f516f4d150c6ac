"""Saved widgets (metadata.widgets, as Notebook 7 writes it) render, static, whenever the page
has no live kernel (issue 21): the kernel shut down with the page open (the views stay) and the
page reloaded; a kernelspec whose kernel exits as it starts (dead); no session at all (a failing
POST /api/sessions; a server with NOTEBOOK_MAX_KERNELS=0; "No kernel" chosen for a kernelspec
not installed here). A kernel that comes later serves new
widgets, live; the saved views stay static until their cell runs again."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.env import TOKEN
from ..support.kernels import add_kernelspec
from ..support.notebook_page import cell, kernel_state, menu, open_notebook, output
from ..support.waiting import wait_for

STATE_MIME = "application/vnd.jupyter.widget-state+json"
VIEW_MIME = "application/vnd.jupyter.widget-view+json"

CELLS = [
    "import ipywidgets as w\ns = w.IntSlider(value=3, min=0, max=10, description='Level')\ns",
    "p = w.IntProgress(value=2, min=0, max=8, description='Done')\np",
    "p.value = 5",
    "from tqdm.notebook import tqdm\nfor i in tqdm(range(12)):\n    pass",
]


@pytest.fixture(scope="module")
def no_kernels_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    srv = UIServer(tmp_path_factory.mktemp("ui-no-kernels"), env={"NOTEBOOK_MAX_KERNELS": "0"})
    yield srv
    srv.stop()


def run_cell(page: Page, n: int) -> None:
    cell(page, n).locator(".cm-content").click()
    page.keyboard.press("Control+Enter")


def number(value: int) -> re.Pattern[str]:
    return re.compile(rf"^{value}(\.0+)?$")


def expect_saved_widgets(page: Page, level: int = 3) -> None:
    """The notebook's widgets as saved: slider at `level`, "Done" at 5 of 8, tqdm's bar full; no
    output still says "Loading widget…"."""
    expect(output(page, 1).get_by_role("slider", name="Level")).to_have_attribute("aria-valuenow", number(level))
    done = output(page, 2).get_by_role("progressbar", name="Done")
    expect(done).to_have_attribute("aria-valuenow", number(5))
    expect(done).to_have_attribute("aria-valuemax", number(8))
    expect(output(page, 4).get_by_role("progressbar", name="Progress")).to_have_attribute("aria-valuenow", number(12))
    expect(page.get_by_text("Loading widget…")).to_have_count(0)


def save_widget_state(page: Page, server: UIServer, path: str) -> None:
    """Save (Ctrl-S) and wait until the file's saved widget state has the model of every widget
    view in its outputs."""
    page.keyboard.press("Control+s")

    def saved() -> bool:
        content = server.json("GET", f"api/contents/{path}", 200)["content"]
        state = content["metadata"].get("widgets", {}).get(STATE_MIME, {}).get("state", {})
        views = [o["data"][VIEW_MIME]["model_id"] for c in content["cells"] for o in c.get("outputs", [])
                 if VIEW_MIME in o.get("data", {})]
        return bool(views) and all(model_id in state for model_id in views)

    wait_for(saved, timeout=20, interval=0.25)


def open_without_kernel(page: Page, path: str) -> None:
    page.goto(f"notebooks/{path}")
    expect(page.locator("#nb-notebook")).to_have_attribute("data-state", "ready")
    expect(kernel_state(page)).to_contain_text("Kernel Dead")


def delete_sessions(server: UIServer, path: str) -> None:
    for session in server.json("GET", "api/sessions", 200):
        if session["path"] == path:
            server.json("DELETE", f"api/sessions/{session['id']}", 204)


def test_progress_roles_and_widgets_without_a_live_kernel(page: Page, ui_server: UIServer) -> None:
    path = "offline.ipynb"
    put_notebook(ui_server, path, [code_cell(source) for source in CELLS])
    open_notebook(page, path)

    # Progress bars: role, name, values in step with the kernel's model.
    run_cell(page, 1)
    expect(output(page, 1).get_by_role("slider", name="Level")).to_have_attribute("aria-valuenow", number(3))
    run_cell(page, 2)
    done = output(page, 2).get_by_role("progressbar", name="Done")
    expect(done).to_have_attribute("aria-valuenow", number(2))
    expect(done).to_have_attribute("aria-valuemin", number(0))
    expect(done).to_have_attribute("aria-valuemax", number(8))
    run_cell(page, 3)
    expect(done).to_have_attribute("aria-valuenow", number(5))
    run_cell(page, 4)
    bar = output(page, 4).get_by_role("progressbar", name="Progress")
    expect(bar).to_have_attribute("aria-valuenow", number(12))
    expect(bar).to_have_attribute("aria-valuemax", number(12))
    # The runs wrote the widgets' views into the file, not their state: the page has unsaved
    # changes (so autosave, Save or the warning on leaving bring the state to the file).
    expect(page.get_by_role("status").filter(has_text="Unsaved changes")).to_be_visible()
    save_widget_state(page, ui_server, path)

    # The kernel is shut down with the page open: the views stay.
    session = next(s for s in ui_server.json("GET", "api/sessions", 200) if s["path"] == path)
    ui_server.json("DELETE", f"api/kernels/{session['kernel']['id']}", 204)
    expect(done).to_have_attribute("aria-valuenow", number(5))

    # Reloaded after the shutdown: the widgets render from the saved state.
    page.reload()
    expect(page.locator("#nb-notebook")).to_have_attribute("data-state", "ready")
    expect_saved_widgets(page)

    # Its kernelspec names a kernel that exits as it starts: no live kernel, the saved state renders.
    add_kernelspec(ui_server.base / "data", "exits", [sys.executable, "-c", "raise SystemExit(3)", "{connection_file}"])
    model = ui_server.json("GET", f"api/contents/{path}", 200)
    content = model["content"]
    content["metadata"]["kernelspec"] = {"name": "exits", "display_name": "exits", "language": "python"}
    ui_server.json("PUT", f"api/contents/{path}", 200, json={"type": "notebook", "content": content})
    delete_sessions(ui_server, path)
    open_without_kernel(page, path)
    expect_saved_widgets(page)

    # Its kernelspec is not installed here and the person chooses "No kernel": the same, and
    # the notebook stays saved (nothing the saved state lacks was shown).
    content["metadata"]["kernelspec"] = {"name": "not-here", "display_name": "Not here", "language": "python"}
    ui_server.json("PUT", f"api/contents/{path}", 200, json={"type": "notebook", "content": content})
    delete_sessions(ui_server, path)
    page.goto(f"notebooks/{path}")
    dialog = page.get_by_role("dialog", name="Select a kernel")
    expect(dialog).to_be_visible()
    # While the person reads the dialog, the widgets stop waiting for a kernel (within 10 s)
    # and render from the saved state (behind the modal dialog: found by CSS, not by role).
    expect(cell(page, 1).locator("[role=slider]")).to_have_attribute("aria-valuenow", number(3))
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="No kernel").click()
    expect(kernel_state(page)).to_have_text("No kernel")
    expect_saved_widgets(page)
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")


def test_widgets_render_when_sessions_fail(page: Page, ui_server: UIServer, no_kernels_server: UIServer,
                                           browser: Browser) -> None:
    """Any failure to make a session: a POST /api/sessions that fails (a route of the browser's),
    and a server that may start no kernel (NOTEBOOK_MAX_KERNELS=0: 403)."""
    path = "nosession.ipynb"
    put_notebook(ui_server, path, [code_cell(source) for source in CELLS] + [code_cell("")])
    open_notebook(page, path)
    for n in (1, 2, 3, 4):
        run_cell(page, n)
    expect(output(page, 4).get_by_role("progressbar")).to_have_attribute("aria-valuenow", number(12))
    expect(output(page, 2).get_by_role("progressbar", name="Done")).to_have_attribute("aria-valuenow", number(5))
    save_widget_state(page, ui_server, path)
    delete_sessions(ui_server, path)

    def refuse(route: Route) -> None:
        if route.request.method == "POST":
            route.fulfill(status=503, json={"message": "no kernels", "reason": "unavailable"})
        else:
            route.continue_()

    page.route("**/api/sessions", refuse)
    open_without_kernel(page, path)
    expect_saved_widgets(page)
    # Static, not dead: the keyboard moves the slider here (no kernel to tell, and no error).
    static = output(page, 1).get_by_role("slider", name="Level")
    static.focus()
    page.keyboard.press("ArrowRight")
    expect(static).to_have_attribute("aria-valuenow", number(4))

    # A kernel comes (Kernel > Change kernel…): the saved views stay as they are (static: the
    # new kernel has none of those widgets); running the cell makes a live one.
    page.unroute("**/api/sessions", refuse)
    menu(page, "Kernel", "Change kernel…")
    page.get_by_role("dialog", name="Change kernel").get_by_role("button", name="Change").click()
    expect(kernel_state(page)).to_have_text("Kernel Idle")
    expect(static).to_have_attribute("aria-valuenow", number(4))
    cell(page, 5).locator(".cm-content").click()
    page.keyboard.type("s.value = 6")
    page.keyboard.press("Control+Enter")  # no kernel has `s`: a NameError
    expect(output(page, 5)).to_contain_text("NameError")
    run_cell(page, 1)
    level = output(page, 1).get_by_role("slider", name="Level")
    expect(level).to_have_attribute("aria-valuenow", number(3))
    run_cell(page, 5)
    expect(level).to_have_attribute("aria-valuenow", number(6))
    save_widget_state(page, ui_server, path)

    # The same file on a server that may start no kernel at all.
    content = ui_server.json("GET", f"api/contents/{path}", 200)["content"]
    no_kernels_server.json("PUT", f"api/contents/{path}", 201, json={"type": "notebook", "content": content})
    context = browser.new_context(base_url=no_kernels_server.url, viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    try:
        other = context.new_page()
        other.on("pageerror", lambda error: errors.append(f"{error.name}: {error.message}"))
        other.goto(f"tree?token={TOKEN}")
        open_without_kernel(other, path)
        expect(kernel_state(other)).to_contain_text("NOTEBOOK_MAX_KERNELS")
        expect_saved_widgets(other, level=6)
    finally:
        context.close()
    assert not errors, errors
