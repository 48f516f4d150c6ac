"""The file editor (/edit/<path>) after a new-user pass: it autosaves at the person's own
interval (Settings, per user; the server's by default) and follows a change made in another
tab; YAML, TOML and INI files show keys, strings, numbers, booleans and comments in colours of
the shared code theme, light and dark; Tab inside a line inserts indentation at the cursor,
as JupyterLab's file editor does (at the start of a line it still indents the line)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from ..support.browser import UIServer, put_notebook
from ..support.editor_page import editor_text, open_editor, status
from ..support.notebook_page import menu, open_notebook
from ..support.tree_page import make_folder
from ..support.waiting import wait_for

pytestmark = pytest.mark.live

#: The user's interval, seconds; the server's default (NOTEBOOK_AUTOSAVE_INTERVAL) is 120.
MINE = 3


def test_the_editor_autosaves_at_the_persons_interval_and_follows_a_change(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "mine", {"log.md": "# Log\n", "other.md": "# Other\n"})
    put_notebook(ui_server, "mine/settings.ipynb")
    try:
        # Opened with the server's 120 s; the person sets 3 s in the notebook page's Settings, in
        # another tab: the open editor autosaves at once at the new interval.
        box = open_editor(page, "mine/log.md")
        box.press("Control+End")
        box.press_sequentially("- typed")
        expect(status(page)).to_have_text("Unsaved changes")
        other = page.context.new_page()
        open_notebook(other, "mine/settings.ipynb")
        menu(other, "Settings", "Settings…")
        dialog = other.get_by_role("dialog", name="Settings")
        dialog.get_by_role("spinbutton", name="Autosave interval (seconds)").fill(str(MINE))
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden()
        other.close()
        wait_for(lambda: (folder / "log.md").read_text() == "# Log\n- typed", timeout=MINE + 5)
        expect(status(page)).to_have_text("Saved")

        # A page opened later starts with the person's interval.
        box = open_editor(page, "mine/other.md")
        box.press("Control+End")
        box.press_sequentially("- more")
        wait_for(lambda: (folder / "other.md").read_text() == "# Other\n- more", timeout=MINE + 5)
        assert editor_text(page) == "# Other\n- more"
    finally:
        ui_server.json("PATCH", "api/config/flask_notebook", 200, json={"autosaveInterval": None})


COLOUR_OF = """(text) => {
  const walker = document.createTreeWalker(document.querySelector('.cm-content'), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    if (walker.currentNode.textContent.trim() === text) return getComputedStyle(walker.currentNode.parentElement).color;
  }
  return null;
}"""

#: file, its text, and the words of it that must not be plain: [keys], [values].
SAMPLES = [
    ("c.yaml", 'name: plain\ncount: 3\nok: true\nquoted: "q"\n# a note\n',
     ["name", "count", "ok", "quoted"], ["plain", "3", "true", '"q"', "# a note"]),
    ("c.toml", '[tool]\nname = "x"\ncount = 3\nok = true\n# a note\n', ["name", "count", "ok"], ['"x"', "3", "true", "# a note"]),
    ("c.ini", "[section]\nkey = value\n# a note\n", ["key"], ["value", "# a note"]),
]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_yaml_toml_and_ini_keys_and_values_are_coloured(page: Page, ui_server: UIServer, theme: str) -> None:
    make_folder(ui_server, f"colours-{theme}", {name: text for name, text, _, _ in SAMPLES})
    ui_server.json("PATCH", "api/config/flask_notebook", 200, json={"theme": theme})
    try:
        seen: dict[str, str] = {}
        for name, _, keys, values in SAMPLES:
            box = open_editor(page, f"colours-{theme}/{name}")
            expect(page.locator("html")).to_have_attribute("data-theme", theme)
            plain = box.evaluate("(box) => getComputedStyle(box).color")
            expect(box.locator("[class*='tok-']").first).to_be_visible()  # the grammar is in
            for word in keys + values:
                colour = page.evaluate(COLOUR_OF, word)
                assert colour and colour != plain, (name, word, colour, plain, box.inner_html()[:600])
                seen[f"{name}:{word}"] = colour
            for key in keys:
                assert seen[f"{name}:{key}"] != seen[f"{name}:{values[0]}"], (name, key)  # a key is not a value
        assert seen["c.yaml:3"] != seen["c.yaml:plain"]  # a number is not a string
        assert seen["c.yaml:name"] == seen["c.toml:name"] == seen["c.ini:key"]  # one colour for keys
    finally:
        ui_server.json("PATCH", "api/config/flask_notebook", 200, json={"theme": None})


def test_tab_inside_a_line_inserts_spaces_at_the_cursor(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "tabs", {"t.py": "x = 1\nab\ny = 2\n", "t.yaml": "a: 1\n"})
    box = open_editor(page, "tabs/t.py")
    lines = lambda: editor_text(page).split("\n")  # noqa: E731
    # At the end of a line: spaces to the next stop (4 columns), the line's start untouched.
    box.press("Control+Home")
    box.press("End")
    box.press("Tab")
    assert lines()[0] == "x = 1   ", lines()
    box.press_sequentially("# c")
    assert lines()[0] == "x = 1   # c"
    # In the middle of a line: at the cursor ("a|b" -> "a   b").
    box.press("ArrowDown")
    box.press("Home")
    box.press("ArrowRight")
    box.press("Tab")
    assert lines()[1] == "a   b", lines()
    # At the start of a line: the line is indented; Shift-Tab dedents it.
    box.press("Home")
    box.press("Tab")
    assert lines()[1] == "    a   b", lines()
    box.press("Shift+Tab")
    assert lines()[1] == "a   b"
    # A selection over lines: every line indented.
    box.press("Control+Home")
    box.press("Shift+ArrowDown")
    box.press("Shift+End")
    box.press("Tab")
    assert lines()[:2] == ["    x = 1   # c", "    a   b"], lines()
    box.press("Shift+Tab")
    assert lines()[:3] == ["x = 1   # c", "a   b", "y = 2"], lines()
    # Esc then Tab leaves the editor, wherever the cursor is.
    box.press("End")
    box.press("Escape")
    box.press("Tab")
    expect(box).not_to_be_focused()
    # YAML's unit is two spaces: "a: 1|" -> "a: 1  " (column 4 to 6).
    box = open_editor(page, "tabs/t.yaml")
    box.press("Control+Home")
    box.press("End")
    box.press("Tab")
    assert editor_text(page).split("\n")[0] == "a: 1  "
