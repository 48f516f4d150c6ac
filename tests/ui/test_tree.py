"""The file browser in a real browser: listing, navigation, create, rename, delete, duplicate,
download, sorting and the running marker. Uploads are in test_tree_upload.py.

Each test works in a folder of its own, since the server is shared by the module.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ..support.browser import UIServer, put_notebook
from ..support.notebook_page import expect_ready, output, run_code
from ..support.tree_page import make_folder, open_tree, row

pytestmark = pytest.mark.live


def names(page: Page) -> list[str]:
    return page.locator("#nb-grid-sizer .nb-row .nb-name").all_inner_texts()


def test_listing_shows_entries_with_icons_times_and_sizes(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "listing", {"data.csv": "a,b\n" * 300, "notes.txt": "hi"})
    (folder / "sub").mkdir()
    put_notebook(ui_server, "listing/analysis.ipynb")
    open_tree(page, "listing")
    expect(page).to_have_title("listing · flask-notebook")
    # Folders first, then by name.
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name")).to_have_text(["sub", "analysis.ipynb", "data.csv", "notes.txt"])
    csv = row(page, "data.csv")
    expect(csv.locator(".nb-col-size")).to_have_text("1.2 KB")
    expect(csv.locator("time")).to_have_text("seconds ago")
    expect(row(page, "sub").locator(".nb-col-size")).to_have_text("")
    expect(row(page, "sub").locator("svg.nb-icon-directory")).to_have_count(1)
    expect(row(page, "analysis.ipynb").locator("svg.nb-icon-notebook")).to_have_count(1)
    expect(row(page, "analysis.ipynb").get_by_role("link")).to_have_attribute("href", re.compile(r"/notebooks/listing/analysis\.ipynb$"))
    expect(row(page, "notes.txt").get_by_role("link")).to_have_attribute("href", re.compile(r"/edit/listing/notes\.txt$"))
    expect(page.get_by_role("grid", name="Files")).to_have_attribute("aria-rowcount", "5")


def selection_bar(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("toolbar", name="Selected items")


def select(page: Page, name: str) -> None:
    """Select exactly the entry `name`, by clicking its row beside the name."""
    row(page, name).locator(".nb-col-modified").click()
    expect(row(page, name)).to_have_attribute("aria-selected", "true")


def test_new_notebook_is_served_disabled_until_the_page_can_act_on_it(page: Page, ui_server: UIServer) -> None:
    served = ui_server.request("GET", "tree/").text
    assert re.search(r'<button[^>]*id="nb-new-notebook"[^>]*\bdisabled\b', served)
    page.goto("tree/")
    expect(page.get_by_role("button", name="New Notebook", exact=True)).to_be_enabled()
    expect(page.get_by_label("Kernel for new notebooks").locator("option")).not_to_have_count(0)


def test_new_notebook_uses_the_chosen_kernel_and_opens_the_editor(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "newnb")
    open_tree(page, "newnb")
    kernel = page.get_by_label("Kernel for new notebooks")
    expect(kernel.locator("option")).not_to_have_count(0)
    kernel.select_option("python3")
    with page.context.expect_page() as opened:  # in a new tab, as Notebook 7 does
        page.get_by_role("button", name="New Notebook", exact=True).click()
    editor = opened.value
    editor.wait_for_url(re.compile(r"/notebooks/newnb/Untitled\.ipynb$"))
    saved = json.loads((ui_server.root / "newnb" / "Untitled.ipynb").read_text())
    assert saved["metadata"]["kernelspec"]["name"] == "python3"
    assert saved["nbformat"] == 4 and saved["cells"] == []
    # The file browser stays, and lists the new notebook.
    expect(page).to_have_url(re.compile(r"/tree/newnb$"))
    expect(row(page, "Untitled.ipynb")).to_be_visible()
    # The new notebook opens clean (filling in the kernel's language_info is no edit of
    # the person's), and runs: type code, Shift-Enter, see the result.
    expect_ready(editor)
    expect(editor).to_have_title("Untitled.ipynb")
    run_code(editor, 1, "1+1")
    expect(output(editor, 1)).to_have_text("Out[1]:2")


def test_new_notebook_records_a_kernel_other_than_the_default(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "newnb-other")
    specs = ui_server.json("GET", "api/kernelspecs", 200)
    other = next(name for name in specs["kernelspecs"] if name != specs["default"])
    # Only the file browser is under test here: the editor page is not loaded.
    page.context.route(re.compile(r".*/notebooks/.*"),
                       lambda route: route.fulfill(body="editor", content_type="text/html"))
    open_tree(page, "newnb-other")
    kernel = page.get_by_label("Kernel for new notebooks")
    expect(kernel).to_have_value(specs["default"])
    kernel.select_option(other)
    with page.context.expect_page() as opened:
        page.get_by_role("button", name="New Notebook", exact=True).click()
    opened.value.wait_for_url(re.compile(r"/notebooks/newnb-other/Untitled\.ipynb$"))
    saved = json.loads((ui_server.root / "newnb-other" / "Untitled.ipynb").read_text())
    spec = specs["kernelspecs"][other]["spec"]
    assert saved["metadata"]["kernelspec"] == {"name": other, "display_name": spec["display_name"],
                                               "language": spec["language"]}


def test_new_folder_and_text_file_are_named_in_a_dialog(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "create")
    open_tree(page, "create")
    page.get_by_role("button", name="New Folder").click()
    dialog = page.get_by_role("dialog", name="Name the new folder")
    expect(dialog.get_by_label("Folder name")).to_have_value("Untitled Folder")
    expect(dialog.get_by_label("Folder name")).to_be_focused()
    dialog.get_by_label("Folder name").fill("results")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_have_count(0)
    expect(row(page, "results")).to_have_attribute("aria-selected", "true")
    assert (folder / "results").is_dir() and not (folder / "Untitled Folder").exists()

    page.get_by_role("button", name="New Text File").click()
    dialog = page.get_by_role("dialog", name="Name the new text file")
    field = dialog.get_by_label("File name")
    expect(field).to_have_value("untitled.txt")
    # The stem is selected, so typing replaces the name and keeps the extension.
    field.press_sequentially("todo")
    expect(field).to_have_value("todo.txt")
    field.press("Enter")
    expect(row(page, "todo.txt")).to_be_visible()
    assert (folder / "todo.txt").read_text() == ""

    # Cancelling keeps the untitled name.
    page.get_by_role("button", name="New Folder").click()
    page.get_by_role("dialog", name="Name the new folder").get_by_role("button", name="Cancel").click()
    expect(row(page, "Untitled Folder")).to_be_visible()
    assert (folder / "Untitled Folder").is_dir()


def test_rename_moves_the_file_and_reports_a_clash_in_the_dialog(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "renaming", {"draft.txt": "words", "taken.txt": "other"})
    open_tree(page, "renaming")
    select(page, "draft.txt")
    selection_bar(page).get_by_role("button", name="Rename").click()
    dialog = page.get_by_role("dialog", name="Rename")
    dialog.get_by_label("File name").fill("taken.txt")
    dialog.get_by_role("button", name="Rename").click()
    expect(dialog.get_by_role("alert")).to_contain_text("already exists")
    dialog.get_by_label("File name").fill("final.txt")
    dialog.get_by_role("button", name="Rename").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name")).to_have_text(["final.txt", "taken.txt"])
    assert (folder / "final.txt").read_text() == "words" and not (folder / "draft.txt").exists()


def test_delete_asks_first_and_cancel_keeps_the_files(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "deleting", {"a.txt": "a", "b.txt": "b", "keep.txt": "k"})
    open_tree(page, "deleting")
    select(page, "a.txt")
    row(page, "b.txt").locator(".nb-col-modified").click(modifiers=["Control"])
    expect(selection_bar(page).locator("#nb-selection-count")).to_have_text("2 selected")
    selection_bar(page).get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete")
    expect(dialog).to_contain_text("the 2 selected items")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert (folder / "a.txt").exists() and (folder / "b.txt").exists()

    selection_bar(page).get_by_role("button", name="Delete").click()
    page.get_by_role("dialog", name="Delete").get_by_role("button", name="Delete").click()
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name")).to_have_text(["keep.txt"])
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]


def test_duplicate_and_download(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "copies", {"report.txt": "numbers\n"})
    open_tree(page, "copies")
    select(page, "report.txt")
    selection_bar(page).get_by_role("button", name="Duplicate").click()
    expect(row(page, "report-Copy1.txt")).to_have_attribute("aria-selected", "true")
    assert (folder / "report-Copy1.txt").read_text() == "numbers\n"

    with page.expect_download() as download_info:
        selection_bar(page).get_by_role("button", name="Download").click()
    download = download_info.value
    assert download.suggested_filename == "report-Copy1.txt"
    assert Path(download.path()).read_text() == "numbers\n"


def test_folders_open_in_place_and_breadcrumbs_lead_back(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "crumbs", {"inner/deeper/leaf.txt": "leaf", "inner/mid.txt": "mid"})
    open_tree(page, "crumbs")
    page.get_by_role("link", name="inner", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tree/crumbs/inner$"))
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name")).to_have_text(["deeper", "mid.txt"])
    page.get_by_role("link", name="deeper", exact=True).click()
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name")).to_have_text(["leaf.txt"])
    crumbs = page.get_by_role("navigation", name="Breadcrumbs")
    expect(crumbs.get_by_role("link")).to_have_text(["⌂", "crumbs", "inner", "deeper"])
    expect(crumbs.get_by_role("link", name="deeper")).to_have_attribute("aria-current", "page")
    expect(page).to_have_title("deeper · flask-notebook")

    crumbs.get_by_role("link", name="crumbs").click()
    expect(page).to_have_url(re.compile(r"/tree/crumbs$"))
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name")).to_have_text(["inner"])
    page.go_back()
    expect(page).to_have_url(re.compile(r"/tree/crumbs/inner/deeper$"))
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name")).to_have_text(["leaf.txt"])
    crumbs.get_by_role("link", name="Root folder").click()
    expect(page).to_have_url(re.compile(r"/tree/$"))
    expect(row(page, "crumbs")).to_be_visible()


def test_keyboard_moves_selects_and_opens(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "keys", {"alpha/x.txt": "x", "beta.txt": "b", "gamma.txt": "g"})
    open_tree(page, "keys")
    grid = page.get_by_role("grid", name="Files")
    grid.focus()
    page.keyboard.press("ArrowDown")  # from the first row to the second
    expect(row(page, "beta.txt")).to_have_attribute("aria-selected", "true")
    expect(grid).to_have_attribute("aria-activedescendant", "nb-row-1")
    page.keyboard.press("Shift+ArrowDown")
    expect(selection_bar(page).locator("#nb-selection-count")).to_have_text("2 selected")
    page.keyboard.press("Home")
    expect(row(page, "alpha")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/tree/keys/alpha$"))
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name")).to_have_text(["x.txt"])
    page.keyboard.press("Backspace")
    expect(row(page, "alpha")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Delete")
    expect(page.get_by_role("dialog", name="Delete")).to_contain_text('"alpha"')
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(grid).to_be_focused()


def test_sorting_by_name_time_and_size(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "sorting", {"b-medium.txt": "x" * 200, "a-big.txt": "x" * 5000,
                                                "c-small.txt": "x", "file10.txt": "", "file9.txt": ""})
    (folder / "zdir").mkdir()
    now = time.time()
    for age, name in enumerate(["c-small.txt", "a-big.txt", "b-medium.txt", "file9.txt", "file10.txt"]):
        os.utime(folder / name, (now - 1000 * (age + 1), now - 1000 * (age + 1)))
    open_tree(page, "sorting")
    listed = page.locator("#nb-grid-sizer .nb-row .nb-name")
    header = page.get_by_role("columnheader")
    # Names sort naturally (file9 before file10); folders stay first in every order.
    expect(listed).to_have_text(["zdir", "a-big.txt", "b-medium.txt", "c-small.txt", "file9.txt", "file10.txt"])
    expect(header.filter(has_text="Name")).to_have_attribute("aria-sort", "ascending")
    page.get_by_role("button", name="Name", exact=True).click()
    expect(listed).to_have_text(["zdir", "file10.txt", "file9.txt", "c-small.txt", "b-medium.txt", "a-big.txt"])
    expect(header.filter(has_text="Name")).to_have_attribute("aria-sort", "descending")
    page.get_by_role("button", name="Last Modified").click()
    expect(listed).to_have_text(["zdir", "c-small.txt", "a-big.txt", "b-medium.txt", "file9.txt", "file10.txt"])
    page.get_by_role("button", name="File Size").click()  # largest first; ties by name
    expect(listed).to_have_text(["zdir", "a-big.txt", "b-medium.txt", "c-small.txt", "file9.txt", "file10.txt"])
    expect(header.filter(has_text="File Size")).to_have_attribute("aria-sort", "descending")
    page.get_by_role("button", name="File Size").click()
    expect(listed).to_have_text(["zdir", "file9.txt", "file10.txt", "c-small.txt", "b-medium.txt", "a-big.txt"])
    # The filter narrows the list by name.
    page.get_by_role("searchbox", name="Filter files by name").fill("FILE")
    expect(listed).to_have_text(["file9.txt", "file10.txt"])


def test_listing_follows_changes_on_disk_without_a_reload(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "polled", {"before.txt": "x"})
    open_tree(page, "polled")
    select(page, "before.txt")
    (folder / "after.txt").write_text("written by a kernel")
    # The page lists the folder again every 10 s while it is in view; the selection stays.
    expect(row(page, "after.txt")).to_be_visible(timeout=40_000)
    expect(row(page, "before.txt")).to_have_attribute("aria-selected", "true")


def test_names_with_url_characters_open_and_download(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "odd", {"dir #1 & ü/a?b%20c.txt": "odd bytes", "dir #1 & ü/plus+sign.bin": b"\x00+"})
    open_tree(page, "odd")
    page.get_by_role("link", name="dir #1 & ü", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tree/odd/dir%20%231%20%26%20%C3%BC$"))
    expect(page.locator("#nb-grid-sizer .nb-row .nb-name")).to_have_text(["a?b%20c.txt", "plus+sign.bin"])
    select(page, "plus+sign.bin")
    with page.expect_download() as download_info:
        selection_bar(page).get_by_role("button", name="Download").click()
    assert Path(download_info.value.path()).read_bytes() == b"\x00+"
    page.reload()  # the folder's own URL opens it directly
    expect(page.locator("html")).to_have_attribute("data-nb-ready", "true")
    page.get_by_role("link", name="a?b%20c.txt", exact=True).click()
    expect(page.get_by_role("textbox", name="Contents of a?b%20c.txt")).to_have_text("odd bytes")
