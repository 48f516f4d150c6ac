"""The notebook editor in a real browser, against real kernels: run, outputs, save, rename."""

from __future__ import annotations

import base64
import os
import re
import struct
import zlib

from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, markdown_cell, put_notebook, screenshot_path
from ..support.notebook_page import cell, menu, open_notebook, output, run_code
from ..support.waiting import wait_for


def test_type_code_shift_enter_shows_the_result(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "first.ipynb")
    open_notebook(page, "first.ipynb")
    run_code(page, 1, "1+1")
    expect(output(page, 1)).to_have_text("Out[1]:2")
    expect(cell(page, 1).locator(".nb-prompt")).to_have_text("[1]:")
    # Shift-Enter on the last cell inserts a new one and edits it.
    expect(page.locator(".nb-cell")).to_have_count(2)
    expect(cell(page, 2)).to_have_class("nb-cell nb-selected nb-editing")


def test_stream_error_image_html_markdown_math(page: Page, ui_server: UIServer) -> None:
    png = tiny_png()
    put_notebook(ui_server, "outputs.ipynb", [
        code_cell("import sys\nprint('hello')\nprint('\\x1b[31mred\\x1b[0m', file=sys.stderr)"),
        code_cell(f"from IPython.display import Image\nImage(data=__import__('base64').b64decode('{base64.b64encode(png).decode()}'))"),
        code_cell("from IPython.display import HTML\nHTML('<b id=\"bold\">bold</b>')"),
        code_cell("from IPython.display import Markdown\nMarkdown('**strong** and $x^2$')"),
        markdown_cell("# Title\n\nInline $e^{i\\pi}+1=0$ and\n\n$$\\int_0^1 x\\,dx$$"),
        code_cell("1/0"),  # last: an error stops the cells queued after it, as in Jupyter
    ])
    open_notebook(page, "outputs.ipynb")
    menu(page, "Cell", "Run all cells")
    expect(output(page, 1).locator(".nb-stream-stdout")).to_have_text("hello")
    expect(output(page, 1).locator(".nb-stream-stderr .nb-ansi-red")).to_have_text("red")
    image = output(page, 2).locator("img")
    expect(image).to_have_attribute("src", f"data:image/png;base64,{base64.b64encode(png).decode()}")
    assert image.evaluate("img => img.complete && img.naturalWidth") == 2
    expect(output(page, 3).locator("b#bold")).to_have_text("bold")
    expect(output(page, 4).locator("strong")).to_have_text("strong")
    expect(output(page, 4).locator(".katex")).to_have_count(1)
    markdown = cell(page, 5).locator(".nb-rendered-markdown")
    expect(markdown.get_by_role("heading", name="Title")).to_be_visible()
    expect(markdown.locator(".katex")).to_have_count(2)
    expect(markdown.locator(".katex-display")).to_have_count(1)
    expect(output(page, 6)).to_contain_text("ZeroDivisionError")
    expect(output(page, 6).locator(".nb-output-error [class*=nb-ansi-]").first).to_be_visible()


def test_untrusted_html_is_sanitised(page: Page, ui_server: UIServer) -> None:
    html = {"output_type": "display_data", "metadata": {},
            "data": {"text/html": "<i id=ok>ok</i><img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script>"}}
    put_notebook(ui_server, "untrusted.ipynb", [code_cell("", [html])])
    open_notebook(page, "untrusted.ipynb")
    expect(output(page, 1).locator("i#ok")).to_have_text("ok")
    expect(output(page, 1).locator("script")).to_have_count(0)
    assert output(page, 1).locator("img").get_attribute("onerror") is None
    assert page.evaluate("window.pwned") is None


def test_input_box_answers_input(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "input.ipynb", [code_cell("name = input('Your name: ')\nprint('hi', name)")])
    open_notebook(page, "input.ipynb")
    cell(page, 1).locator(".nb-prompt").click()
    page.keyboard.press("Control+Enter")
    box = output(page, 1).get_by_role("textbox", name="Your name:")
    expect(box).to_be_focused()
    box.fill("Ada")
    box.press("Enter")
    expect(output(page, 1).locator(".nb-stream-stdout")).to_have_text("hi Ada")


def test_interrupt_a_long_cell(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "long.ipynb", [code_cell("import time\nprint('sleeping', flush=True)\ntime.sleep(600)")])
    open_notebook(page, "long.ipynb")
    menu(page, "Cell", "Run all cells")
    expect(output(page, 1)).to_contain_text("sleeping")
    expect(page.get_by_role("status").filter(has_text="Kernel")).to_have_text("Kernel Busy")
    expect(cell(page, 1).locator(".nb-prompt")).to_have_text("[*]:")
    page.get_by_role("button", name="Interrupt", exact=True).click()
    # Interrupt cancels the page's run (issue 20), which interrupts the kernel: the cell shows
    # the KeyboardInterrupt, or the run's own note in its place.
    expect(output(page, 1)).to_contain_text(re.compile("KeyboardInterrupt|cancel"))
    expect(page.get_by_role("status").filter(has_text="Kernel")).to_have_text("Kernel Idle")
    expect(cell(page, 1).locator(".nb-prompt")).to_have_text("[1]:")


def test_restart_forgets_variables(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "restart.ipynb", [code_cell("x = 41"), code_cell("x + 1")])
    open_notebook(page, "restart.ipynb")
    menu(page, "Cell", "Run all cells")
    expect(output(page, 2)).to_have_text("Out[2]:42")
    page.evaluate("window.states = []; nbApp.kernel.addEventListener('status', (e) => states.push(e.detail.status))")
    page.get_by_role("button", name="Restart", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Restart").click()
    page.wait_for_function("states.includes('restarting') && states.at(-1) === 'idle'")
    cell(page, 2).locator(".nb-prompt").click()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(output(page, 2)).to_contain_text("NameError")


def test_save_then_reload_keeps_outputs(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "saved.ipynb", [code_cell("print('kept')\n6*7")])
    open_notebook(page, "saved.ipynb")
    menu(page, "Cell", "Run all cells")
    expect(output(page, 1)).to_contain_text("42")
    expect(cell(page, 1).locator(".nb-prompt")).to_have_text("[1]:")
    # The run saved its outputs itself: the page has nothing unsaved (issue 20).
    expect(page).to_have_title("saved.ipynb")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")
    expect(page).to_have_title("saved.ipynb")
    saved = ui_server.json("GET", "api/contents/saved.ipynb", 200)["content"]["cells"][0]
    assert saved["execution_count"] == 1
    assert [o["output_type"] for o in saved["outputs"]] == ["stream", "execute_result"]
    wait_for(lambda: ui_server.json("GET", "api/contents/saved.ipynb/checkpoints", 200))  # a checkpoint on save
    page.reload()
    expect(page.locator("#nb-notebook")).to_have_attribute("data-state", "ready")
    expect(output(page, 1).locator(".nb-stream-stdout")).to_have_text("kept")
    expect(output(page, 1)).to_contain_text("Out[1]:42")


def test_rename_moves_the_file_and_the_url(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "before.ipynb")
    open_notebook(page, "before.ipynb")
    page.get_by_role("button", name="Rename notebook").click()
    box = page.get_by_role("dialog").get_by_role("textbox", name="New name")
    box.fill("after")
    box.press("Enter")
    expect(page).to_have_url(f"{ui_server.url}notebooks/after.ipynb")
    expect(page.get_by_role("button", name="Rename notebook")).to_have_text("after")
    assert (ui_server.root / "after.ipynb").exists() and not (ui_server.root / "before.ipynb").exists()
    sessions = ui_server.json("GET", "api/sessions", 200)
    assert [s["path"] for s in sessions] == ["after.ipynb"]


def test_screenshot_for_the_readme(page: Page, ui_server: UIServer) -> None:
    """The README's picture of the editor, made from a real run."""
    put_notebook(ui_server, "Demo.ipynb", [
        markdown_cell("# A notebook\n\nMarkdown with math: $\\sum_{k=1}^n k = \\frac{n(n+1)}{2}$"),
        code_cell("def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n[fib(n) for n in range(12)]"),
        code_cell("import sys\nfor i in range(3):\n    print(f'line {i}')\nprint('\\x1b[32mgreen\\x1b[0m on stderr', file=sys.stderr)"),
        code_cell("from IPython.display import HTML\nHTML('<table><tr><th>x</th><th>x²</th></tr>' + ''.join(f'<tr><td>{i}</td><td>{i*i}</td></tr>' for i in range(4)) + '</table>')"),
    ])
    page.set_viewport_size({"width": 1100, "height": 820})
    open_notebook(page, "Demo.ipynb")
    menu(page, "Cell", "Run all cells")
    expect(output(page, 4).locator("table")).to_be_visible()
    expect(cell(page, 4).locator(".nb-prompt")).to_have_text("[3]:")
    cell(page, 2).locator(".nb-prompt").click()
    picture = page.screenshot()
    assert picture.startswith(b"\x89PNG") and len(picture) > 20_000
    # Written when missing or asked for, so a test run leaves the work tree clean.
    target = screenshot_path("notebook.png")
    if os.environ.get("UPDATE_SCREENSHOTS") or not target.exists():
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(picture)


def tiny_png() -> bytes:
    """A 2x1 PNG, made here."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"\x00" + bytes([255, 0, 0, 0, 0, 255])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
