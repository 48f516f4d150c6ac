"""Output details: clear_output(wait=True), update_display_data, carriage returns, JSON,
Markdown images from attachments and relative paths, long outputs that collapse."""

from __future__ import annotations

import base64

from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.notebook_page import cell, menu, open_notebook, output
from .test_notebook import tiny_png


def test_clear_output_display_updates_and_carriage_returns(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "streams.ipynb", [
        code_cell("from IPython.display import display\nh = display('first', display_id=True)"),
        code_cell("h.update('updated')"),
        code_cell("from IPython.display import clear_output\nfor i in range(3):\n    clear_output(wait=True)\n    print(f'count {i}')"),
        code_cell("import sys\nprint('abc\\rX')\nfor p in (10, 50, 100):\n    sys.stdout.write(f'\\rprogress {p:3d}%')\n    sys.stdout.flush()\nprint()"),
        code_cell("from IPython.display import JSON\nJSON({'a': [1, 2], 'b': {'c': None}})"),
    ])
    open_notebook(page, "streams.ipynb")
    menu(page, "Cell", "Run all cells")
    expect(output(page, 1)).to_have_text("'updated'")
    expect(cell(page, 2).locator(".nb-output")).to_have_count(0)
    expect(output(page, 3)).to_have_text("count 2")
    expect(output(page, 4)).to_have_text("Xbc\nprogress 100%\n")
    expect(output(page, 5).locator("details").first).to_contain_text('"a": Array(2)')


def test_markdown_images_from_attachments_and_relative_paths(page: Page, ui_server: UIServer) -> None:
    png = tiny_png()
    (ui_server.root / "img").mkdir(exist_ok=True)
    (ui_server.root / "img" / "dot.png").write_bytes(png)
    md = {"cell_type": "markdown", "metadata": {}, "source": "![attached](attachment:dot.png) ![relative](img/dot.png)",
          "attachments": {"dot.png": {"image/png": base64.b64encode(png).decode()}}}
    put_notebook(ui_server, "images.ipynb", [md])
    open_notebook(page, "images.ipynb")
    for name in ("attached", "relative"):
        image = cell(page, 1).get_by_role("img", name=name)
        expect(image).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth === 2", arg=image.element_handle())
    assert cell(page, 1).get_by_role("img", name="relative").get_attribute("src") == "/files/img/dot.png"


def test_long_output_scrolls_and_collapses(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "long-output.ipynb", [code_cell("for i in range(500):\n    print(i)")])
    open_notebook(page, "long-output.ipynb")
    menu(page, "Cell", "Run all cells")
    area = output(page, 1)
    expect(area).to_contain_text("499")
    assert area.evaluate("el => el.scrollHeight > el.clientHeight")  # it scrolls
    page.get_by_role("button", name="Collapse output of cell 1").click()
    expect(area).to_be_hidden()
    page.get_by_role("button", name="Expand output of cell 1").click()
    expect(area).to_be_visible()
