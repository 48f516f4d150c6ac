"""Help on hover: with the setting "Show help when the mouse rests on a name" on (off by
default), resting the mouse on a name in a code cell shows the kernel's help, the tooltip
Shift-Tab shows; off, nothing is asked."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, markdown_cell, put_notebook
from ..support.notebook_page import cell, kernel_state, menu, open_notebook, prompt
from ..support.waiting import wait_for

DEFINITIONS = '''def greet(name):
    """Say hello to someone by name."""
    return f"hello {name}"
'''
HELP = "Say hello to someone by name."

# Which requests the page sends to the kernel (a spy: every call goes through). With
# `window.delayInspect` set, the reply to an inspect_request reaches the page that many ms late
# (`window.lateReplies` counts those delivered).
SPY = """(() => {
    const kernel = nbApp.notebook.kernel;
    const send = kernel.send.bind(kernel);
    window.sentTypes = [];
    window.lateReplies = 0;
    kernel.send = (channel, type, content, handlers = {}) => {
        window.sentTypes.push(type);
        if (type !== "inspect_request" || !window.delayInspect) return send(channel, type, content, handlers);
        const onReply = handlers.onReply;
        return send(channel, type, content, { ...handlers, onReply: (reply) => setTimeout(() => {
            onReply(reply);
            window.lateReplies += 1;
        }, window.delayInspect) });
    };
})()"""


def stored(ui_server: UIServer) -> dict[str, object]:
    return ui_server.json("GET", "api/config/flask_notebook", 200)  # type: ignore[no-any-return]


def hover_word(page: Page, n: int, word: str) -> None:
    """Move the mouse onto the middle of `word`'s first occurrence in cell `n`'s editor."""
    box = cell(page, n).locator(".cm-content").evaluate("""(content, word) => {
        const walker = document.createTreeWalker(content, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const at = node.data.indexOf(word);
            if (at < 0) continue;
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + word.length);
            const r = range.getBoundingClientRect();
            return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
        }
        return null;
    }""", word)
    assert box is not None, word
    page.mouse.move(box["x"], box["y"], steps=3)


def inspects(page: Page) -> int:
    return len([t for t in page.evaluate("window.sentTypes") if t == "inspect_request"])


def away(page: Page) -> None:
    """The mouse on the page's header, far from every editor."""
    box = page.locator("header").first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 5, box["y"] + 5, steps=3)


def test_hover_help_off_by_default_then_on_through_settings(page: Page, ui_server: UIServer) -> None:
    ui_server.json("PUT", "api/config/flask_notebook", 204, json={})
    put_notebook(ui_server, "hover.ipynb", [
        code_cell(DEFINITIONS), code_cell("print('hi')\ngreet('Ada')\nx = 42"), markdown_cell("print in Markdown"),
        code_cell("import time\ntime.sleep(4)"),
    ])
    open_notebook(page, "hover.ipynb")
    page.evaluate(SPY)
    cell(page, 1).locator(".nb-prompt").click()
    page.keyboard.press("Control+Enter")
    expect(prompt(page, 1)).to_have_text("[1]:")
    expect(kernel_state(page)).to_have_text("Kernel Idle")
    tooltip = page.get_by_role("tooltip")

    # Off (the default): resting on a name shows nothing and asks the kernel nothing. The
    # rest is twice the hover delay; with the setting on, the same rest shows help (below).
    hover_word(page, 2, "print")
    page.wait_for_timeout(1500)
    expect(tooltip).to_have_count(0)
    assert inspects(page) == 0, page.evaluate("window.sentTypes")

    # On, through the Settings dialog; applied at once, no reload.
    menu(page, "Settings", "Settings…")
    dialog = page.get_by_role("dialog", name="Settings")
    box = dialog.get_by_role("checkbox", name="Show help when the mouse rests on a name")
    expect(box).not_to_be_checked()
    box.check()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    wait_for(lambda: stored(ui_server).get("hoverHelp") is True, timeout=10)

    # The focus is in cell 1's editor, and stays there.
    cell(page, 1).locator(".cm-content").click()
    focused = cell(page, 1).locator(".cm-content")
    expect(focused).to_be_focused()
    hover_word(page, 2, "print")
    expect(tooltip).to_contain_text("Prints the values to a stream")
    assert "\x1b[" not in tooltip.inner_text()
    assert inspects(page) == 1
    expect(focused).to_be_focused()
    expect(tooltip.get_by_role("button", name="Expand help")).to_be_visible()
    away(page)
    expect(tooltip).to_have_count(0)

    # A function of the notebook's, with its docstring; its way to the pager.
    hover_word(page, 2, "greet")
    expect(tooltip).to_contain_text(HELP)
    tooltip.get_by_role("button", name="Expand help").click()
    pager = page.get_by_role("complementary", name="Help pager")
    expect(pager).to_contain_text(HELP)
    expect(pager.get_by_role("heading")).to_have_text("Help: greet")
    expect(tooltip).to_have_count(0)
    expect(focused).to_be_focused()
    pager.get_by_role("button", name="Close help").click()
    expect(pager).to_be_hidden()
    expect(focused).to_be_focused()

    # Nothing shown where the kernel finds nothing (a number), nor in a Markdown cell's editor.
    before = inspects(page)
    hover_word(page, 2, "42")
    page.wait_for_timeout(1500)
    expect(tooltip).to_have_count(0)
    cell(page, 3).dblclick()
    expect(cell(page, 3).locator(".cm-content")).to_be_focused()
    hover_word(page, 3, "print")
    page.wait_for_timeout(1500)
    expect(tooltip).to_have_count(0)
    assert inspects(page) == before, page.evaluate("window.sentTypes")
    page.keyboard.press("Escape")

    # A name the kernel does not know shows nothing: not the help of a call on an earlier
    # line of the cell (IPython's token_at_cursor on the whole cell gave print's).
    away(page)
    hover_word(page, 2, "x")
    wait_for(lambda: inspects(page) == before + 1, timeout=10)
    page.wait_for_timeout(500)  # a frame or two for a tooltip that should not come
    expect(tooltip).to_have_count(0)

    # A reply that comes after the mouse left is dropped.
    page.evaluate("window.delayInspect = 1500")
    asked = inspects(page)
    hover_word(page, 2, "greet")
    wait_for(lambda: inspects(page) == asked + 1, timeout=10)
    away(page)
    wait_for(lambda: page.evaluate("window.lateReplies") == 1, timeout=10)
    page.wait_for_timeout(300)  # a frame or two for a tooltip that should not come
    expect(tooltip).to_have_count(0)
    page.evaluate("window.delayInspect = 0")

    # While the kernel is busy nothing is asked.
    cell(page, 4).locator(".nb-prompt").click()
    page.keyboard.press("Control+Enter")
    expect(kernel_state(page)).to_have_text("Kernel Busy")
    asked = inspects(page)
    hover_word(page, 2, "greet")
    page.wait_for_timeout(1500)
    expect(tooltip).to_have_count(0)
    assert inspects(page) == asked
    expect(kernel_state(page)).to_have_text("Kernel Idle", timeout=15_000)

    # The setting survives a reload, and works in the dark theme too.
    menu(page, "Settings", "Dark theme")
    page.reload()
    open_notebook(page, "hover.ipynb")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    menu(page, "Settings", "Settings…")
    dialog = page.get_by_role("dialog", name="Settings")
    expect(dialog.get_by_role("checkbox", name="Show help when the mouse rests on a name")).to_be_checked()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    hover_word(page, 2, "greet")  # cell 1 ran in this kernel before the reload
    expect(tooltip).to_contain_text(HELP)
    # Esc closes it wherever the focus is: here the page's, after the dialog (no editor's).
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Escape")
    expect(tooltip).to_have_count(0)
    hover_word(page, 3, "print")
    hover_word(page, 2, "greet")
    expect(tooltip).to_contain_text(HELP)
    # Light text on a dark surface (the --nb-* colours of the dark set).
    background, text = tooltip.evaluate("""(dom) => [dom.closest(".cm-tooltip"), dom.querySelector("pre")]
        .map((node, i) => getComputedStyle(node)[i ? "color" : "backgroundColor"].match(/\\d+/g).slice(0, 3)
        .reduce((sum, c) => sum + Number(c), 0))""")
    assert background < 200 and text > 450, (background, text)
    away(page)
    expect(tooltip).to_have_count(0)
    ui_server.json("PUT", "api/config/flask_notebook", 204, json={})


def test_hover_help_setting_reaches_open_tabs(page: Page, ui_server: UIServer) -> None:
    ui_server.json("PUT", "api/config/flask_notebook", 204, json={})
    put_notebook(ui_server, "tabs-hover.ipynb", [code_cell("print('hi')")])
    other = page.context.new_page()
    open_notebook(other, "tabs-hover.ipynb")
    open_notebook(page, "tabs-hover.ipynb")
    menu(page, "Settings", "Settings…")
    dialog = page.get_by_role("dialog", name="Settings")
    dialog.get_by_role("checkbox", name="Show help when the mouse rests on a name").check()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    # The other tab, without a reload.
    expect(kernel_state(other)).to_have_text("Kernel Idle")
    hover_word(other, 1, "print")
    expect(other.get_by_role("tooltip")).to_contain_text("Prints the values to a stream")
    wait_for(lambda: stored(ui_server).get("hoverHelp") is True, timeout=10)
    other.close()
    ui_server.json("PUT", "api/config/flask_notebook", 204, json={})
