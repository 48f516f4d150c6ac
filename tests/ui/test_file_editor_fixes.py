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
