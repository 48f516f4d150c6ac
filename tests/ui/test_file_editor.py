"""The file editor (/edit/<path>): CodeMirror with highlighting by file type, line numbers,
auto-indent, Tab, find and replace, Ctrl-S, conflicts with the file on disk, and the file
browser's New Text File opening in it. Autosave: test_file_editor_autosave.py."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from ..support.browser import UIServer
from ..support.editor_page import editor, editor_text, expect_editor_text, open_editor, status
from ..support.tree_page import make_folder, open_tree

pytestmark = pytest.mark.live

#: file name, its text, the token classes (CodeMirror's tok-*) its highlighting must show, and
#: the grammar chunk the page fetches for it (None: in a shared chunk, or no grammar at all).
SAMPLES: list[tuple[str, str, list[str], str | None]] = [
    ("a.py", "import os\n\ndef f(x):\n    return 'x'  # note\n", ["tok-keyword", "tok-string", "tok-comment"], None),
    ("a.md", "# Title\n\nSome *emphasis*.\n", ["tok-heading", "tok-emphasis"], None),
    ("a.json", '{"name": "x", "count": 3, "ok": true}\n', ["tok-propertyName", "tok-string", "tok-number"], None),
    ("a.yaml", 'name: "x"\ncount: 3\n# a comment\n', ["tok-propertyName", "tok-string", "tok-comment"], None),
    ("a.csv", 'name,count\n"Smith, J",3\n', ["tok-string", "tok-number", "tok-punctuation"], None),
    ("a.sh", '#!/bin/sh\necho "hello"  # greet\n', ["tok-string", "tok-comment"], "shell"),
    ("a.toml", '[tool]\nname = "x"\n', ["tok-string"], "toml"),
]


def test_each_file_type_is_highlighted_with_line_numbers(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "kinds", {name: text for name, text, _, _ in SAMPLES} | {"plain.txt": "def f():\n"})
    chunks: list[str] = []
    page.on("request", lambda request: chunks.append(request.url) if "/build/chunks/" in request.url else None)
    for name, text, classes, chunk in SAMPLES:
        box = open_editor(page, f"kinds/{name}")
        expect(box).to_be_focused()
        for css_class in classes:
            expect(box.locator(f"span.{css_class}").first).to_be_visible()
        lines = text.count("\n") + 1
        gutter = page.locator(".cm-lineNumbers .cm-gutterElement:visible")
        expect(gutter.filter(has_text=re.compile(rf"^{lines}$"))).to_have_count(1)
        if chunk:
            assert any(f"/chunks/{chunk}-" in url for url in chunks), (name, chunks)
        assert editor_text(page) == text
    # Plain text: no grammar, no tokens, and no grammar fetched for it.
    chunks.clear()
    box = open_editor(page, "kinds/plain.txt")
    expect(page.locator("#nb-editor-host")).to_have_attribute("data-language", "text")
    expect(box.locator("span[class^='tok-']")).to_have_count(0)
    assert not any(re.search(r"/chunks/(shell|toml|properties)-", url) for url in chunks)


def test_python_auto_indent_tab_and_leaving_by_keyboard(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "indent", {"code.py": "", "other.txt": "x\n"})
    box = open_editor(page, "indent/code.py")
    box.press_sequentially("def f():")
    box.press("Enter")
    box.press_sequentially("return g(1,")
    box.press("Enter")
    text = editor_text(page)
    first, second, third = text.split("\n")
    assert first == "def f():" and second == "    return g(1,", text  # indented after the colon
    assert len(third) - len(third.lstrip(" ")) > 4, text  # inside the brackets: indented further
    # Tab indents the line by one unit; Shift-Tab takes it back.
    box.press("Control+End")
    box.press("Enter")
    box.press_sequentially("x = 1")
    box.press("Home")
    before = editor_text(page).split("\n")[-1]
    box.press("Tab")
    assert editor_text(page).split("\n")[-1] == "    " + before
    expect(box).to_be_focused()
    box.press("Shift+Tab")
    assert editor_text(page).split("\n")[-1] == before
    # Esc then Tab leaves the editor, as the page says.
    expect(page.locator("#nb-editor-hint")).to_contain_text("Esc then Tab")
    box.press("Escape")
    box.press("Tab")
    expect(box).not_to_be_focused()
    assert editor_text(page).split("\n")[-1] == before


def test_find_and_replace(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "find", {"fruit.txt": "apple banana\nApple apple\n"})
    box = open_editor(page, "find/fruit.txt")
    box.press("Control+f")
    find = page.get_by_role("textbox", name="Find")
    expect(find).to_be_focused()
    find.press_sequentially("apple")
    find.press("Enter")  # the first match is selected
    page.get_by_role("textbox", name="Replace", exact=True).press_sequentially("pear")
    page.get_by_role("button", name="Replace", exact=True).click()
    expect_editor_text(page, "pear banana\nApple apple\n")
    page.get_by_role("checkbox", name="Match case").check()
    page.get_by_role("button", name="Replace all").click()
    expect_editor_text(page, "pear banana\nApple pear\n")
    expect(status(page)).to_have_text("Unsaved changes")
    page.get_by_role("button", name="Close find and replace").click()
    expect(page.get_by_role("textbox", name="Find")).to_have_count(0)
    box.press("Control+s")
    expect(status(page)).to_have_text("Saved")
    assert (folder / "fruit.txt").read_text() == "pear banana\nApple pear\n"


def test_ctrl_s_saves_and_focus_changes_keep_the_text(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "keep", {"draft.txt": "first\n"})
    box = open_editor(page, "keep/draft.txt")
    expect(status(page)).to_have_text("Saved")
    expect(page).to_have_title("draft.txt · flask-notebook")
    box.press("Control+End")
    box.press_sequentially("second")
    expect(status(page)).to_have_text("Unsaved changes")
    expect(page).to_have_title("* draft.txt · flask-notebook")
    # Focus goes to other controls and back, by mouse and by keyboard: the text stays.
    page.get_by_role("link", name="Download").focus()
    page.get_by_role("button", name="Save").focus()
    page.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name="keep").focus()
    expect(box).not_to_be_focused()
    box.click()
    box.press("Control+End")
    box.press_sequentially(" more")
    assert editor_text(page) == "first\nsecond more"
    assert ui_server.json("GET", "api/contents/keep/draft.txt", 200)["content"] == "first\n"  # nothing saved yet
    # Leaving now asks first (the browser's "Leave site?"); staying keeps the text.
    with page.expect_event("dialog") as leaving:
        page.close(run_before_unload=True)
    assert leaving.value.type == "beforeunload"
    leaving.value.dismiss()
    assert editor_text(page) == "first\nsecond more"
    # Ctrl-S saves, also when the focus is outside the editor (not the browser's Save Page).
    page.get_by_role("button", name="Save").focus()
    page.keyboard.press("Control+s")
    expect(status(page)).to_have_text("Saved")
    expect(page).to_have_title("draft.txt · flask-notebook")
    assert ui_server.json("GET", "api/contents/keep/draft.txt", 200)["content"] == "first\nsecond more"
    # Twice in a row: the second save's If-Match is the first save's ETag.
    box.press_sequentially("!")
    box.press("Control+s")
    expect(status(page)).to_have_text("Saved")
    assert ui_server.json("GET", "api/contents/keep/draft.txt", 200)["content"] == "first\nsecond more!"
    # Reopened, the page shows what was saved.
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-nb-ready", "true")
    assert editor_text(page) == "first\nsecond more!"


def test_a_file_changed_on_disk_is_a_conflict_to_resolve(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "conflict", {"shared.txt": "original\n"})
    box = open_editor(page, "conflict/shared.txt")
    put = {"type": "file", "format": "text"}
    ui_server.json("PUT", "api/contents/conflict/shared.txt", 200, json=put | {"content": "theirs\n"})
    box.press("Control+End")
    box.press_sequentially("mine")
    box.press("Control+s")
    expect(status(page)).to_have_text("Changed on disk")
    choice = page.get_by_role("group", name="Changed on disk")
    expect(choice.get_by_role("alert")).to_contain_text("your changes were not saved")
    expect(page).to_have_title("* shared.txt · flask-notebook")
    assert (folder / "shared.txt").read_text() == "theirs\n"
    assert editor_text(page) == "original\nmine"  # the text typed is still there
    # Typing on keeps the conflict (and the text); reloading shows the file on disk.
    box.press_sequentially("!")
    expect(status(page)).to_have_text("Changed on disk")
    choice.get_by_role("button", name="Reload from disk").click()
    expect_editor_text(page, "theirs\n")
    expect(status(page)).to_have_text("Saved")
    expect(choice).to_be_hidden()
    expect(box).to_be_focused()

    # Changed again on disk: this time ours overwrites it.
    ui_server.json("PUT", "api/contents/conflict/shared.txt", 200, json=put | {"content": "third\n"})
    box.press("Control+End")
    box.press_sequentially("ours")
    page.get_by_role("button", name="Save").click()
    expect(status(page)).to_have_text("Changed on disk")
    choice.get_by_role("button", name="Overwrite with my version").click()
    expect(status(page)).to_have_text("Saved")
    expect(choice).to_be_hidden()
    assert (folder / "shared.txt").read_text() == "theirs\nours"
    box.press_sequentially(".")
    box.press("Control+s")  # and the next save is no conflict
    expect(status(page)).to_have_text("Saved")
    assert (folder / "shared.txt").read_text() == "theirs\nours."


def test_a_failed_save_keeps_the_text_and_says_so(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "offline", {"note.txt": "a\n"})
    box = open_editor(page, "offline/note.txt")
    box.press("Control+End")
    box.press_sequentially("b")
    page.context.set_offline(True)  # the network is down: the save cannot reach the server
    box.press("Control+s")
    expect(status(page)).to_have_text(re.compile(r"^Save failed: Cannot reach the server"))
    expect(page.get_by_role("alert").filter(has_text="Saving note.txt failed")).to_be_visible()
    expect(page).to_have_title("* note.txt · flask-notebook")
    assert editor_text(page) == "a\nb"
    page.context.set_offline(False)
    box.press("Control+s")
    expect(status(page)).to_have_text("Saved")
    assert (folder / "note.txt").read_text() == "a\nb"


def test_binary_files_are_not_editable_and_missing_files_are_a_404(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "binary", {"blob.dat": b"\xff\xfe\x00\x01"})
    page.goto("edit/binary/blob.dat")
    expect(page.get_by_role("alert").filter(has_text="not UTF-8 text")).to_be_visible()
    expect(editor(page, "blob.dat")).to_have_count(0)
    expect(page.get_by_role("link", name="Download")).to_have_attribute("href", "/files/binary/blob.dat?download=1")
    response = page.goto("edit/binary/missing.txt")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="No such file")).to_be_visible()


def test_new_text_file_from_the_tree_opens_in_the_editor_in_a_new_tab(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "fresh")
    open_tree(page, "fresh")
    page.get_by_role("button", name="New Text File").click()
    field = page.get_by_role("dialog", name="Name the new text file").get_by_label("File name")
    field.press_sequentially("plan")
    with page.context.expect_page() as opened:
        field.press("Enter")
    tab = opened.value
    expect(tab).to_have_url(re.compile(r"/edit/fresh/plan\.txt$"))
    expect(tab.locator("html")).to_have_attribute("data-nb-ready", "true")
    box = editor(tab, "plan.txt")
    expect(box).to_be_focused()
    box.press_sequentially("step one")
    box.press("Control+s")
    expect(status(tab)).to_have_text("Saved")
    assert (folder / "plan.txt").read_text() == "step one"
    # The file browser stays where it was, with the new file selected.
    expect(page).to_have_url(re.compile(r"/tree/fresh$"))
    expect(page.get_by_role("row").filter(has=page.get_by_role("link", name="plan.txt", exact=True))).to_have_attribute(
        "aria-selected", "true")
