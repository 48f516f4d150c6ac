"""The command palette, the Settings menu (stored per user in /api/config/flask_notebook and
applied on every page) and the Help menu (shortcuts dialog, documentation and kernel links)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.notebook_page import cell, menu, open_notebook
from ..support.waiting import wait_for

DARK_BG = "rgb(13, 17, 23)"
LIGHT_BG = "rgb(255, 255, 255)"


def stored(ui_server: UIServer) -> dict[str, object]:
    return ui_server.json("GET", "api/config/flask_notebook", 200)  # type: ignore[no-any-return]


def background(page: Page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")  # type: ignore[no-any-return]


def test_palette_lists_filters_and_runs(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "palette.ipynb", [code_cell("1")])
    open_notebook(page, "palette.ipynb")
    wait_for(lambda: page.evaluate("Boolean(nbApp.kernel.info)"), timeout=20)  # its help links are in the Help menu
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Shift+C")
    dialog = page.get_by_role("dialog", name="Command palette")
    field = dialog.get_by_role("combobox", name="Command")
    expect(field).to_be_focused()
    options = dialog.get_by_role("option")
    # Every menu action, with its shortcut (Settings and Help items too).
    expect(options.filter(has_text="Insert cell below")).to_contain_text("B")
    expect(options.filter(has_text="Save and checkpoint")).to_contain_text("Ctrl-S")
    expect(options.filter(has_text="Dark theme")).to_have_count(1)
    expect(dialog.get_by_role("option", name="Help Keyboard shortcuts H", exact=True)).to_have_count(1)
    expect(dialog.get_by_role("option", name="Help Python Reference", exact=True)).to_have_count(1)  # the kernel's links too
    field.fill("zzzz")
    expect(options).to_have_count(0)
    expect(dialog).to_contain_text("No command matches.")
    field.fill("insert cell below")
    expect(options.first).to_contain_text("Insert cell below")
    expect(options.first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator(".nb-cell")).to_have_count(2)
    expect(cell(page, 2)).to_be_focused()
    # Fuzzy: the letters in order; arrows move; Esc closes and focus comes back.
    page.keyboard.press("Control+Shift+C")
    page.keyboard.type("insabv")  # at once: every key reaches the palette, none the cell
    expect(field).to_have_value("insabv")
    expect(options.first).to_contain_text("Insert cell above")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    expect(options.first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(cell(page, 2)).to_be_focused()
    expect(page.locator(".nb-cell")).to_have_count(2)
    # Also from the Edit menu, and from edit mode.
    menu(page, "Edit", "Command palette…")
    expect(field).to_be_focused()
    page.keyboard.press("Escape")
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.press("Control+Shift+C")
    expect(field).to_be_focused()
    page.keyboard.press("Escape")


def test_settings_persist_and_apply_everywhere(page: Page, ui_server: UIServer) -> None:
    ui_server.json("PUT", "api/config/flask_notebook", 204, json={})
    page.emulate_media(color_scheme="light")
    put_notebook(ui_server, "settings.ipynb", [code_cell("print('hi')")])
    open_notebook(page, "settings.ipynb")
    assert background(page) == LIGHT_BG
    menu(page, "Settings", "Dark theme")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    wait_for(lambda: background(page) == DARK_BG, timeout=5)
    wait_for(lambda: stored(ui_server).get("theme") == "dark", timeout=10)
    page.reload()
    open_notebook(page, "settings.ipynb")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert background(page) == DARK_BG
    # The tree page has it from the server, before any script runs.
    page.route(re.compile(r".*/js/theme\.js$"), lambda route: route.abort())
    for url in ("tree", "running", "runs"):
        page.goto(url)
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        assert background(page) == DARK_BG, url
    page.unroute(re.compile(r".*/js/theme\.js$"))

    open_notebook(page, "settings.ipynb")
    menu(page, "Settings", "Settings…")
    dialog = page.get_by_role("dialog", name="Settings")
    expect(dialog.get_by_role("combobox", name="Theme")).to_have_value("dark")
    dialog.get_by_role("combobox", name="Theme").select_option("light")
    size = dialog.get_by_role("spinbutton", name="Code font size (pixels)")
    size.fill("99")
    dialog.get_by_role("button", name="Save").click()
    assert size.evaluate("(input) => !input.validity.valid")  # kept open, nothing stored
    expect(dialog).to_be_visible()
    assert stored(ui_server)["theme"] == "dark"
    dialog.get_by_role("spinbutton", name="Code font size (pixels)").fill("19")
    dialog.get_by_role("spinbutton", name="Autosave interval (seconds)").fill("7")
    dialog.get_by_role("checkbox", name="Line numbers in editors by default").check()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(cell(page, 1).locator(".cm-editor")).to_have_css("font-size", "19px")
    assert page.evaluate("nbApp.saver.autosaveSeconds") == 7
    wait_for(lambda: stored(ui_server) == {"theme": "light", "codeFontSize": 19, "autosaveInterval": 7,
                                           "lineNumbers": True, "hoverHelp": False}, timeout=10)
    ui_server.json("PUT", "api/contents/notes.txt", (200, 201), json={"type": "file", "format": "text", "content": "x"})
    page.goto("edit/notes.txt")  # the text editor's font too
    expect(page.get_by_role("textbox", name="Contents of notes.txt")).to_have_css("font-size", "19px")
    open_notebook(page, "settings.ipynb")
    expect(cell(page, 1).locator(".cm-editor")).to_have_css("font-size", "19px")
    assert page.evaluate("nbApp.saver.autosaveSeconds") == 7
    assert background(page) == LIGHT_BG
    menu(page, "Settings", "Theme of the system")
    expect(page.locator("html")).not_to_have_attribute("data-theme", re.compile(".*"))
    wait_for(lambda: stored(ui_server).get("theme") == "system", timeout=10)
    ui_server.json("PUT", "api/config/flask_notebook", 204, json={})


def test_help_menu_and_shortcuts_fit_the_window(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "help.ipynb", [code_cell("")])
    page.set_viewport_size({"width": 800, "height": 600})
    open_notebook(page, "help.ipynb")
    wait_for(lambda: page.evaluate("Boolean(nbApp.kernel.info)"), timeout=20)
    page.get_by_role("button", name="Help", exact=True).click()
    help_menu = page.get_by_role("menu", name="Help")
    docs = help_menu.get_by_role("menuitem", name="flask-notebook REST API (OpenAPI)")
    expect(docs).to_have_attribute("href", re.compile(r"/api/spec\.yaml$"))
    expect(docs).to_have_attribute("target", "_blank")
    expect(docs).to_have_attribute("rel", "noopener")
    expect(help_menu.get_by_role("menuitem", name="Jupyter Notebook shortcuts")).to_have_attribute("href", re.compile("^https://"))
    # The kernel's own help links (ipykernel's kernel_info_reply help_links).
    python_docs = help_menu.get_by_role("menuitem", name="Python Reference", exact=True)
    expect(python_docs).to_have_attribute("href", re.compile(r"^https://docs\.python\.org/"))
    expect(help_menu.get_by_role("menuitem", name="NumPy Reference")).to_have_attribute("rel", "noopener")
    help_menu.get_by_role("menuitem", name="Keyboard shortcuts", exact=True).click()
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_contain_text("Ctrl-F")
    expect(dialog).to_contain_text("Ctrl-Shift-C")
    box = dialog.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 600, box
    body = dialog.get_by_role("region", name="Shortcuts")
    assert page.evaluate("(el) => el.scrollHeight > el.clientHeight", body.element_handle())
    expect(dialog.get_by_role("button", name="Close")).to_be_in_viewport()
    # Keys in one column: every key cell starts at the same x, with the same width.
    columns = page.evaluate("[...document.querySelectorAll('.nb-help th')].map(th => "
                            "{ const r = th.getBoundingClientRect(); return [Math.round(r.x), Math.round(r.width)]; })")
    assert len(columns) > 10 and len(set(map(tuple, columns))) == 1, columns
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_theme_change_reaches_open_tabs(page: Page, ui_server: UIServer) -> None:
    ui_server.json("PUT", "api/config/flask_notebook", 204, json={})
    page.emulate_media(color_scheme="light")
    put_notebook(ui_server, "tabs.ipynb", [code_cell("")])
    tree = page.context.new_page()
    tree.emulate_media(color_scheme="light")
    tree.goto("tree")
    expect(tree.get_by_role("grid", name="Files")).to_be_visible()
    assert background(tree) == LIGHT_BG
    open_notebook(page, "tabs.ipynb")
    menu(page, "Settings", "Dark theme")
    expect(tree.locator("html")).to_have_attribute("data-theme", "dark")  # the other tab, without a reload
    wait_for(lambda: background(tree) == DARK_BG, timeout=5)
    menu(page, "Settings", "Light theme")
    expect(tree.locator("html")).to_have_attribute("data-theme", "light")
    wait_for(lambda: stored(ui_server).get("theme") == "light", timeout=10)
    ui_server.json("PUT", "api/config/flask_notebook", 204, json={})
