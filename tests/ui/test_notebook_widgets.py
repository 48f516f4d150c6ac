"""Jupyter widgets (ipywidgets 8) in the notebook page, on a real kernel: an IntSlider synced
both ways, interact's Output widget, a tqdm.notebook bar, and the widget state saved in the
notebook's metadata, from which the widgets render again once their kernel is gone."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.notebook_page import cell, open_notebook, output

STATE_MIME = "application/vnd.jupyter.widget-state+json"

CELLS = [
    "import ipywidgets as w\ns = w.IntSlider(value=3, min=0, max=10, description='Level')\ns",
    "print('value', s.value)",
    "s.value = 7",
    "@w.interact(x=(0, 10))\ndef square(x=2):\n    print(f'square {x * x}')",
    "from tqdm.notebook import tqdm\nimport time\nfor i in tqdm(range(20), desc='Work'):\n    time.sleep(0.01)",
]


#: A stored widget view whose model exists nowhere (no kernel has it, no saved state).
ORPHAN = {"output_type": "display_data", "metadata": {}, "data": {
    "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0, "model_id": "0" * 32},
    "text/plain": "IntSlider(value=1)"}}


def run_cell(page: Page, n: int) -> None:
    """Click into cell `n`'s editor and run it (Ctrl-Enter: the cell stays selected)."""
    cell(page, n).locator(".cm-content").click()
    page.keyboard.press("Control+Enter")


def test_widgets_sync_interact_tqdm_and_saved_state(page: Page, ui_server: UIServer) -> None:
    path = "widgets.ipynb"
    put_notebook(ui_server, path, [code_cell(source) for source in CELLS] + [code_cell("", [ORPHAN])])
    open_notebook(page, path)
    orphan = output(page, 6).get_by_role("status")
    expect(orphan).to_have_text("Loading widget…")

    # An IntSlider: a slider named by its description, at its value.
    run_cell(page, 1)
    level = output(page, 1).get_by_role("slider", name="Level")
    expect(level).to_have_attribute("aria-valuenow", re.compile(r"^3(\.0+)?$"))

    # Page -> kernel: the keyboard moves it; the kernel sees the new value.
    level.focus()
    page.keyboard.press("ArrowRight")
    expect(level).to_have_attribute("aria-valuenow", re.compile(r"^4(\.0+)?$"))
    expect(output(page, 1)).to_contain_text("4")
    run_cell(page, 2)
    expect(output(page, 2)).to_have_text("value 4\n")

    # Kernel -> page.
    run_cell(page, 3)
    expect(level).to_have_attribute("aria-valuenow", re.compile(r"^7(\.0+)?$"))

    # interact: its Output widget shows the function's output, and again when x moves.
    run_cell(page, 4)
    x = output(page, 4).get_by_role("slider", name="x")
    expect(x).to_have_attribute("aria-valuenow", re.compile(r"^2(\.0+)?$"))
    expect(output(page, 4)).to_contain_text("square 4")
    x.focus()
    page.keyboard.press("ArrowRight")
    expect(output(page, 4)).to_contain_text("square 9")
    expect(output(page, 4)).not_to_contain_text("square 4")

    # tqdm.notebook: a progress bar that reaches 100%.
    run_cell(page, 5)
    expect(output(page, 5)).to_contain_text("100%")
    expect(output(page, 5)).to_contain_text("20/20")

    # The view without a model said so, in the end (its text/plain too).
    expect(orphan).to_contain_text("The widget cannot be shown")
    expect(orphan).to_contain_text("IntSlider(value=1)")

    # Save: the widgets' state goes into the notebook's metadata, as Notebook 7 writes it.
    page.keyboard.press("Control+s")
    expect(page.get_by_text("Saved", exact=True)).to_be_visible()
    model = ui_server.json("GET", f"api/contents/{path}", 200)
    saved = model["content"]["metadata"]["widgets"][STATE_MIME]
    assert (saved["version_major"], saved["version_minor"]) == (2, 0)
    sliders = [m for m in saved["state"].values() if m["model_name"] == "IntSliderModel"]
    assert any(m["state"].get("value") == 7 and m["state"].get("description") == "Level" for m in sliders), sliders
    assert all(m["model_module"] == "@jupyter-widgets/controls" and m["model_module_version"] for m in sliders)

    # The kernel goes away; opened again, the page has a new kernel without those widgets:
    # they render from the saved state.
    for session in ui_server.json("GET", "api/sessions", 200):
        if session["path"] == path:
            ui_server.json("DELETE", f"api/sessions/{session['id']}", 204)
    open_notebook(page, path)
    level = output(page, 1).get_by_role("slider", name="Level")
    expect(level).to_have_attribute("aria-valuenow", re.compile(r"^7(\.0+)?$"))
    expect(output(page, 4)).to_contain_text("square 9")
    expect(output(page, 5)).to_contain_text("100%")
