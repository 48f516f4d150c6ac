"""Progress bars of ipywidgets (IntProgress, FloatProgress, tqdm.notebook's bar) are progressbars
for assistive technology (issue 21): named by their description, else "Progress", with
aria-valuemin, aria-valuemax and aria-valuenow in step with the kernel's model."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.notebook_page import cell, open_notebook, output

CELLS = [
    "import ipywidgets as w\np = w.IntProgress(value=2, min=0, max=8, description='Done')\np",
    "p.value = 5\np.max = 10",
    "f = w.FloatProgress(value=0.25, min=0, max=1)\nf",
    "from tqdm.notebook import tqdm\nfor i in tqdm(range(12)):\n    pass",
]


def number(value: float) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(str(value))}(\.0+)?$")


def run_cell(page: Page, n: int) -> None:
    cell(page, n).locator(".cm-content").click()
    page.keyboard.press("Control+Enter")


def test_progress_bars_have_role_name_and_values(page: Page, ui_server: UIServer) -> None:
    path = "progress.ipynb"
    put_notebook(ui_server, path, [code_cell(source) for source in CELLS])
    open_notebook(page, path)

    run_cell(page, 1)
    done = output(page, 1).get_by_role("progressbar", name="Done")
    expect(done).to_have_attribute("aria-valuenow", number(2))
    expect(done).to_have_attribute("aria-valuemin", number(0))
    expect(done).to_have_attribute("aria-valuemax", number(8))

    # The kernel changes the model: the attributes follow.
    run_cell(page, 2)
    expect(done).to_have_attribute("aria-valuenow", number(5))
    expect(done).to_have_attribute("aria-valuemax", number(10))

    # No description: the name is "Progress".
    run_cell(page, 3)
    expect(output(page, 3).get_by_role("progressbar", name="Progress")).to_have_attribute("aria-valuenow", number(0.25))

    # tqdm.notebook's bar, once the loop is done.
    run_cell(page, 4)
    bar = output(page, 4).get_by_role("progressbar", name="Progress")
    expect(bar).to_have_attribute("aria-valuenow", number(12))
    expect(bar).to_have_attribute("aria-valuemax", number(12))
