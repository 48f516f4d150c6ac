"""Editing code with the kernel's help: Tab completion, Shift-Tab help and its pager, focus
back in the cell after input(), and Markdown lists continued once."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from ..support.browser import UIServer, code_cell, markdown_cell, put_notebook
from ..support.notebook_page import cell, kernel_state, open_notebook, output, prompt
from ..support.waiting import wait_for

DEFINITIONS = '''alpha_one = 1
alpha_two = "two"

def greet(name):
    """Say hello to someone by name."""
    return f"hello {name}"
'''


def source(page: Page, n: int) -> str:
    return page.evaluate(f"nbApp.notebook.cells[{n - 1}].source")  # type: ignore[no-any-return]


def editor(page: Page, n: int) -> Locator:
    return cell(page, n).locator(".cm-content")


def run_definitions(page: Page) -> None:
    """Run cell 1 (the definitions) and edit cell 2 once the kernel is idle again."""
    cell(page, 1).locator(".nb-prompt").click()
    page.keyboard.press("Control+Enter")
    expect(prompt(page, 1)).to_have_text("[1]:")
    expect(kernel_state(page)).to_have_text("Kernel Idle")
    editor(page, 2).click()


def test_tab_completes_from_the_kernel(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "complete.ipynb", [code_cell(DEFINITIONS), code_cell("")])
    open_notebook(page, "complete.ipynb")
    run_definitions(page)
    popup = page.get_by_role("listbox", name="Completions")

    # A module name: the popup lists candidates, typing filters them, Enter accepts.
    page.keyboard.type("import o")
    page.keyboard.press("Tab")
    expect(popup).to_be_visible()
    expect(popup.get_by_role("option", name="os", exact=False).first).to_be_visible()
    expect(popup.get_by_role("option").filter(has_text="operator")).to_have_count(1)
    page.keyboard.type("pe")
    expect(popup.get_by_role("option").filter(has_text="operator")).to_have_count(1)
    expect(popup.get_by_role("option").filter(has_text="os")).to_have_count(0)
    page.keyboard.type("rat")
    page.keyboard.press("Enter")
    expect(popup).to_be_hidden()
    assert source(page, 2) == "import operator"

    # A variable of this kernel; Tab accepts too.
    page.keyboard.press("Enter")
    page.keyboard.type("alpha_")
    page.keyboard.press("Tab")
    expect(popup.get_by_role("option")).to_have_count(2)
    # Its type from the kernel (jedi) is shown.
    expect(popup.get_by_role("option").filter(has_text="alpha_one")).to_contain_text("instance")
    page.keyboard.type("t")
    expect(popup.get_by_role("option")).to_have_count(1)
    page.keyboard.press("Tab")
    expect(popup).to_be_hidden()
    assert source(page, 2) == "import operator\nalpha_two"

    # Esc closes the popup and stays in edit mode; a second Esc leaves it.
    page.keyboard.press("Enter")
    page.keyboard.type("g")
    page.keyboard.press("Tab")
    option = popup.get_by_role("option").filter(has_text="greet")
    expect(option).to_contain_text("function")
    expect(popup.get_by_role("option").filter(has_text="getattr")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(popup).to_be_hidden()
    expect(editor(page, 2)).to_be_focused()
    assert source(page, 2) == "import operator\nalpha_two\ng"

    # Tab at the start of a line (or in its leading spaces) indents: no popup.
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert source(page, 2).endswith("\n        ")
    expect(popup).to_be_hidden()

    # A single candidate goes straight in. Code points, not UTF-16 units: an emoji before the
    # cursor still completes in place.
    page.keyboard.type('s = "😀"; alpha_o')
    page.keyboard.press("Tab")
    wait_for(lambda: source(page, 2).endswith('\n        s = "😀"; alpha_one'), timeout=20)
    expect(popup).to_have_count(0)
    page.keyboard.press("Escape")
    expect(cell(page, 2)).to_be_focused()


def test_shift_tab_shows_help_and_the_pager(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "help.ipynb", [code_cell(DEFINITIONS), code_cell("")])
    open_notebook(page, "help.ipynb")
    run_definitions(page)
    tooltip = page.get_by_role("tooltip")
    pager = page.get_by_role("complementary", name="Help pager")

    page.keyboard.type("len(")
    page.keyboard.press("Shift+Tab")
    expect(tooltip).to_contain_text("Return the number of items in a container.")
    text = tooltip.inner_text()
    assert "\x1b[" not in text
    assert source(page, 2) == "len()"  # no dedent, nothing typed

    # Shift-Tab again: the pager, while the editor keeps the focus; Esc closes it.
    page.keyboard.press("Shift+Tab")
    expect(pager).to_be_visible()
    expect(pager).to_contain_text("Return the number of items in a container.")
    expect(pager.get_by_role("heading")).to_have_text("Help: len")
    expect(tooltip).to_be_hidden()
    expect(editor(page, 2)).to_be_focused()
    page.keyboard.press("Escape")
    expect(pager).to_be_hidden()
    expect(editor(page, 2)).to_be_focused()  # that Esc did not also leave edit mode

    # One of our own functions, expanded by the tooltip's button and closed by the pager's.
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("greet")
    page.keyboard.press("Shift+Tab")
    expect(tooltip).to_contain_text("Say hello to someone by name.")
    page.keyboard.press("Escape")
    expect(tooltip).to_be_hidden()
    expect(editor(page, 2)).to_be_focused()
    page.keyboard.press("Shift+Tab")
    tooltip.get_by_role("button", name="Expand help").click()
    expect(pager).to_contain_text("Say hello to someone by name.")
    pager.get_by_role("button", name="Close help").click()
    expect(pager).to_be_hidden()
    expect(editor(page, 2)).to_be_focused()
    # Esc from inside the pager closes it too, and the editor gets the focus back.
    page.keyboard.press("Shift+Tab")
    expect(tooltip).to_be_visible()
    page.keyboard.press("Shift+Tab")
    pager.locator("pre").click()
    page.keyboard.press("Escape")
    expect(pager).to_be_hidden()
    expect(editor(page, 2)).to_be_focused()

    # Shift-Tab in leading whitespace, or on a selection, still dedents.
    page.keyboard.press("Enter")
    page.keyboard.type("    x = 1")
    page.keyboard.press("Home")
    page.keyboard.press("Shift+Tab")
    assert source(page, 2).endswith("\nx = 1")
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+End")
    page.keyboard.press("Shift+Tab")
    assert source(page, 2).endswith("\nx = 1")
    expect(tooltip).to_be_hidden()


def test_busy_kernel_no_popup_and_focus_back_after_input(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "ask.ipynb", [code_cell("name = input('Your name: ')\nprint('hi', name)"), code_cell("")])
    open_notebook(page, "ask.ipynb")
    # Which requests the page sends to the kernel (a spy: every call goes through).
    page.evaluate("""(() => {
        const kernel = nbApp.notebook.kernel;
        const send = kernel.send.bind(kernel);
        window.sentTypes = [];
        kernel.send = (channel, type, ...rest) => (window.sentTypes.push(type), send(channel, type, ...rest));
    })()""")
    editor(page, 1).click()
    page.keyboard.press("Control+Enter")
    box = output(page, 1).get_by_role("textbox", name="Your name:")
    expect(box).to_be_focused()
    expect(kernel_state(page)).to_have_text("Kernel Busy")

    # The kernel waits for input: Tab and Shift-Tab ask it nothing, show nothing, type nothing.
    editor(page, 2).click()
    page.keyboard.type("pri")
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    assert source(page, 2) == "pri"
    expect(page.get_by_role("listbox")).to_have_count(0)
    expect(page.get_by_role("tooltip")).to_have_count(0)
    sent = page.evaluate("window.sentTypes")
    assert "complete_request" not in sent and "inspect_request" not in sent, sent

    # Answering the prompt takes the focus back to the cell that asked.
    box.click()
    page.keyboard.type("Ada")
    page.keyboard.press("Enter")
    expect(editor(page, 1)).to_be_focused()
    expect(output(page, 1).locator(".nb-stream-stdout")).to_have_text("hi Ada")
    expect(editor(page, 1)).to_be_focused()


def test_markdown_list_continues_once(page: Page, ui_server: UIServer) -> None:
    put_notebook(ui_server, "list.ipynb", [markdown_cell("")])
    open_notebook(page, "list.ipynb")
    assert not page.evaluate("nbApp.notebook.cells[0].editor.grammarReady")  # not loaded with the page
    editor(page, 1).click()
    # The Markdown grammar (a chunk of its own) is fetched when a Markdown editor first gets focus.
    page.wait_for_function("nbApp.notebook.cells[0].editor.grammarReady")
    page.keyboard.type("- code")
    page.keyboard.press("Enter")
    page.keyboard.type("b")
    assert source(page, 1) == "- code\n- b"
    # Typing the marker on a continued line, as in an editor that does not continue lists:
    # still one marker.
    page.keyboard.press("Enter")
    page.keyboard.type("- code")
    assert source(page, 1) == "- code\n- b\n- code"
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # an empty item ends the list
    page.keyboard.type("1. one")
    page.keyboard.press("Enter")
    page.keyboard.type("two")
    page.keyboard.press("Enter")
    page.keyboard.type("3. three")
    assert source(page, 1).endswith("\n1. one\n2. two\n3. three")
    assert "- -" not in source(page, 1)
