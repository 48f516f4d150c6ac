"""Rich outputs in the notebook page, with a real kernel: JavaScript outputs and <script>s in
HTML run for the kernel's live outputs and for trusted notebooks only; Plotly, Altair (Vega)
and Bokeh charts draw with no network; Out[n] prompts, collapse and scroll toggles, clearing
outputs; the kernel-died notice; language_info saved into the notebook's metadata."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, Route, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.notebook_page import cell, menu, open_notebook, output, prompt

LIVE_JS = "from IPython.display import display, Javascript\ndisplay(Javascript(\"document.body.dataset.liveJs = 'ran'; element.textContent = 'drawn by JS'\"))"
LIVE_HTML = "from IPython.display import HTML\nHTML(\"<b>html</b><script>document.body.dataset.liveHtml = 'ran'</script>\")"


def body_data(page: Page, key: str) -> Any:
    return page.evaluate(f"() => document.body.dataset.{key} || null")


def save(page: Page) -> None:
    page.keyboard.press("Control+s")
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")


def test_live_javascript_runs_and_out_prompt(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "live-js.ipynb", [code_cell(LIVE_JS), code_cell(LIVE_HTML), code_cell("6 * 7")])
    open_notebook(page, "live-js.ipynb")
    menu(page, "Cell", "Run all cells")
    expect(output(page, 1)).to_have_text("drawn by JS")
    expect(page.locator("body")).to_have_attribute("data-live-js", "ran")
    expect(page.locator("body")).to_have_attribute("data-live-html", "ran")
    expect(output(page, 3).locator(".nb-output-prompt")).to_have_text("Out[3]:")
    expect(output(page, 3)).to_contain_text("42")
    expect(prompt(page, 3)).to_have_text("[3]:")


def stored_js_notebook(ui_server: UIServer, path: str) -> None:
    """A notebook with JavaScript outputs, written through the API with no signature."""
    js = {"output_type": "display_data", "metadata": {},
          "data": {"application/javascript": "document.body.dataset.storedJs = 'ran'", "text/plain": "<Javascript>"}}
    html = {"output_type": "display_data", "metadata": {},
            "data": {"text/html": "<i id='stored-html'>stored</i><script>document.body.dataset.storedHtml = 'ran'</script>"}}
    put_notebook(ui_server, path, [code_cell("js", [js]), code_cell("html", [html])])


def test_stored_javascript_runs_only_once_trusted(page: Page, ui_server: UIServer) -> None:
    stored_js_notebook(ui_server, "stored-js.ipynb")
    model = ui_server.json("GET", "api/contents/stored-js.ipynb", 200)
    assert [c["metadata"].get("trusted") for c in model["content"]["cells"]] == [False, False]
    open_notebook(page, "stored-js.ipynb")
    expect(output(page, 1)).to_have_text("<Javascript>")  # the bundle's next type
    expect(page.locator("#stored-html")).to_have_text("stored")  # sanitised, shown
    assert body_data(page, "storedJs") is None
    assert body_data(page, "storedHtml") is None

    menu(page, "File", "Trust notebook…")
    page.get_by_role("dialog").get_by_role("button", name="Trust").click()
    expect(page.locator("body")).to_have_attribute("data-stored-js", "ran")
    expect(page.locator("body")).to_have_attribute("data-stored-html", "ran")
    model = ui_server.json("GET", "api/contents/stored-js.ipynb", 200)
    assert [c["metadata"].get("trusted") for c in model["content"]["cells"]] == [True, True]

    page.reload()  # a trusted notebook's stored outputs run when it is opened
    expect(page.locator("#nb-notebook")).to_have_attribute("data-state", "ready")
    expect(page.locator("body")).to_have_attribute("data-stored-js", "ran")
    expect(page.locator("body")).to_have_attribute("data-stored-html", "ran")


def test_trust_through_the_api(page: Page, ui_server: UIServer) -> None:
    stored_js_notebook(ui_server, "api-trust.ipynb")
    ui_server.json("POST", "api/contents/api-trust.ipynb/trust", 201)
    open_notebook(page, "api-trust.ipynb")
    expect(page.locator("body")).to_have_attribute("data-stored-js", "ran")
    expect(page.locator("body")).to_have_attribute("data-stored-html", "ran")


CHARTS = [
    code_cell("import plotly.graph_objects as go\ngo.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2]))"),
    # Altair's default renderer (HTML that would load vega from a CDN), then its mimetype one.
    code_cell("import altair as alt\nchart = alt.Chart(alt.Data(values=[{'a': 1, 'b': 3}, {'a': 2, 'b': 4}]))"
              ".mark_point().encode(x='a:Q', y='b:Q')\nchart"),
    code_cell("alt.renderers.enable('mimetype')\nchart"),
    code_cell("from bokeh.plotting import figure, show, output_notebook\nfrom bokeh.resources import INLINE\n"
              "output_notebook(resources=INLINE)"),
    code_cell("p = figure(width=250, height=200)\np.line([1, 2, 3], [1, 4, 9])\nshow(p)"),
]


def test_charts_render_with_no_network(page: Page, ui_server: UIServer) -> None:
    elsewhere: list[str] = []

    def refuse(route: Route) -> None:
        elsewhere.append(route.request.url)
        route.abort()

    page.route(lambda url: not url.startswith(ui_server.url.rstrip("/")), refuse)
    put_notebook(ui_server, "charts.ipynb", CHARTS)
    open_notebook(page, "charts.ipynb")
    menu(page, "Cell", "Run all cells")
    expect(prompt(page, 5)).to_have_text(re.compile(r"\[\d+\]:"), timeout=60_000)
    expect(output(page, 1).locator(".main-svg").first).to_be_visible()
    for n in (2, 3):
        expect(output(page, n).locator(".vega-embed").locator("svg, canvas").first).to_be_visible()
    expect(output(page, 3).locator("[data-mime^='application/vnd.vegalite']")).to_have_count(1)
    expect(output(page, 5).locator("canvas").first).to_be_visible()
    assert not elsewhere


def test_kernel_death_notice_keeps_the_prompt(page: Page, ui_server: UIServer) -> None:
    flag = ui_server.root / "die.flag"
    flag.unlink(missing_ok=True)
    put_notebook(ui_server, "dies.ipynb", [code_cell("import os, pathlib\nif pathlib.Path('die.flag').exists():\n"
                                                      "    os._exit(1)\n'alive'")])
    open_notebook(page, "dies.ipynb")
    cell(page, 1).click()
    page.keyboard.press("Control+Enter")
    expect(prompt(page, 1)).to_have_text("[1]:")
    flag.write_text("")
    try:
        page.keyboard.press("Control+Enter")
        notice = page.get_by_role("alert").filter(has_text="The kernel died")
        expect(notice).to_contain_text("exited with code 1")
        expect(notice).to_contain_text("The kernel died and was restarted")
        expect(notice.get_by_role("button", name="Restart kernel")).to_have_count(0)  # restarted already
        expect(prompt(page, 1)).to_have_text(re.compile(r"\[\d+\]:"))
        expect(page.locator(".nb-kernel-state")).to_have_text("Kernel Idle")
        expect(notice).to_be_visible()  # stays after the kernel is back
        notice.get_by_role("button", name="Dismiss").click()
        expect(notice).to_be_hidden()
        expect(prompt(page, 1)).to_have_text(re.compile(r"\[\d+\]:"))
    finally:
        flag.unlink(missing_ok=True)


def test_prompts_toggles_clear_and_language_info(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "toggles.ipynb", [code_cell("for i in range(300):\n    print(i)"), code_cell("'x' * 3")])
    open_notebook(page, "toggles.ipynb")
    menu(page, "Cell", "Run all cells")
    expect(output(page, 2).locator(".nb-output-prompt")).to_have_text("Out[2]:")
    area = output(page, 1)
    expect(area).to_contain_text("299")
    assert area.evaluate("el => el.scrollHeight > el.clientHeight")
    scroll = page.get_by_role("button", name="Scroll output of cell 1")
    expect(scroll).to_have_attribute("aria-pressed", "true")
    scroll.click()
    expect(scroll).to_have_attribute("aria-pressed", "false")
    assert area.evaluate("el => el.scrollHeight <= el.clientHeight")
    cell(page, 1).click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+O")
    expect(scroll).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Collapse output of cell 1").click()
    expect(area).to_be_hidden()
    page.get_by_role("button", name="Expand output of cell 1").click()
    expect(area).to_be_visible()

    menu(page, "Cell", "Clear all outputs")
    expect(page.locator(".nb-output")).to_have_count(0)
    save(page)
    saved = ui_server.json("GET", "api/contents/toggles.ipynb", 200)["content"]
    assert [c["outputs"] for c in saved["cells"]] == [[], []]
    assert saved["cells"][0]["metadata"]["scrolled"] is True
    info = saved["metadata"]["language_info"]
    assert info["name"] == "python"
    for key in ("version", "mimetype", "file_extension", "pygments_lexer", "codemirror_mode", "nbconvert_exporter"):
        assert key in info, key

    page.reload()  # the same language_info again: the notebook is not changed by opening it
    expect(page.locator("#nb-notebook")).to_have_attribute("data-state", "ready")
    expect(page.get_by_role("status").filter(has_text="Kernel")).to_have_text("Kernel Idle")
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")
