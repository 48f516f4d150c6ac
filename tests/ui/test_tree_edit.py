"""The plain text editor (/edit/<path>) that the file browser opens text files in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from ..support.browser import UIServer
from ..support.tree_page import make_folder, open_tree

pytestmark = pytest.mark.live


def test_open_edit_and_save_a_text_file(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "editing", {"notes.md": "# Title\n"})
    open_tree(page, "editing")
    page.get_by_role("link", name="notes.md", exact=True).click()
    expect(page).to_have_url(re.compile(r"/edit/editing/notes\.md$"))
    editor = page.get_by_role("textbox", name="Contents of notes.md")
    expect(editor).to_have_value("# Title\n")
    expect(editor).to_be_focused()
    save = page.get_by_role("button", name="Save")
    expect(save).to_be_disabled()
    editor.press("Control+End")
    editor.press_sequentially("More text.\n")
    expect(page).to_have_title("● notes.md · flask-notebook")
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


def test_a_file_changed_on_disk_is_not_overwritten_without_asking(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "conflict", {"shared.txt": "original"})
    page.goto("edit/conflict/shared.txt")
    editor = page.get_by_role("textbox", name="Contents of shared.txt")
    expect(editor).to_have_value("original")
    (folder / "shared.txt").write_text("changed elsewhere")
    editor.fill("mine")
    page.get_by_role("button", name="Save").click()
    dialog = page.get_by_role("dialog", name="File changed on disk")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("#nb-editor-status")).to_have_text("Unsaved changes")
    assert (folder / "shared.txt").read_text() == "changed elsewhere"
    page.get_by_role("button", name="Save").click()
    page.get_by_role("dialog", name="File changed on disk").get_by_role("button", name="Overwrite").click()
    expect(page.locator("#nb-editor-status")).to_have_text("Saved")
    assert (folder / "shared.txt").read_text() == "mine"


def test_binary_files_are_not_editable_and_missing_files_are_a_404(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "binary", {"blob.dat": b"\xff\xfe\x00\x01"})
    page.goto("edit/binary/blob.dat")
    expect(page.get_by_role("alert")).to_contain_text("not UTF-8 text")
    expect(page.get_by_role("textbox", name="Contents of blob.dat")).not_to_be_editable()
    expect(page.get_by_role("link", name="Download")).to_have_attribute("href", "/files/binary/blob.dat?download=1")
    response = page.goto("edit/binary/missing.txt")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="No such file")).to_be_visible()
