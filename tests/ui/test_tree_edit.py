"""The file browser opens text files in the file editor (/edit/<path>); the editor itself is
tested in test_file_editor.py."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from ..support.browser import UIServer
from ..support.editor_page import editor_text
from ..support.tree_page import make_folder, open_tree

pytestmark = pytest.mark.live


def test_open_edit_and_save_a_text_file(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "editing", {"notes.md": "# Title\n"})
    open_tree(page, "editing")
    page.get_by_role("link", name="notes.md", exact=True).click()
    expect(page).to_have_url(re.compile(r"/edit/editing/notes\.md$"))
    expect(page.locator("html")).to_have_attribute("data-nb-ready", "true")
    editor = page.get_by_role("textbox", name="Contents of notes.md")
    assert editor_text(page) == "# Title\n"
    expect(editor).to_be_focused()
    save = page.get_by_role("button", name="Save")
    editor.press("Control+End")
    editor.press_sequentially("More text.\n")
    expect(page).to_have_title("* notes.md · flask-notebook")
    editor.press("Control+s")
    expect(page.locator("#nb-editor-status")).to_have_text("Saved")
    expect(page).to_have_title("notes.md · flask-notebook")
    assert (folder / "notes.md").read_text() == "# Title\nMore text.\n"

    # Saved twice in a row: the second save's If-Match is the hash of the first save's bytes.
    editor.press_sequentially("Again.")
    expect(page.locator("#nb-editor-status")).to_have_text("Unsaved changes")
    save.click()
    expect(page.locator("#nb-editor-status")).to_have_text("Saved")
    assert (folder / "notes.md").read_text() == "# Title\nMore text.\nAgain."
    page.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name="editing").click()
    expect(page).to_have_url(re.compile(r"/tree/editing$"))
