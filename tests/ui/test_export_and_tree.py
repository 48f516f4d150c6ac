"""Issue 21's export and file-browser points, in chromium: File → "Download as", the favicon,
the new-folder dialog's Create, "1 item", the token leaving the address bar, and notebooks
opening in a tab of their own, titled with their name (as Notebook 7's)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from ..support.browser import TIMEOUT_MS, UIServer, code_cell, put_notebook
from ..support.env import TOKEN
from ..support.notebook_page import cell, expect_ready, open_notebook
from ..support.tree_page import make_folder, open_tree, row

pytestmark = pytest.mark.live


def test_download_as_html_saves_first_and_asks_for_formats_only_from_the_menu(page: Page,
                                                                               ui_server: UIServer) -> None:
    make_folder(ui_server, "export")
    put_notebook(ui_server, "export/report.ipynb", [code_cell("total = 41")])
    asked: list[str] = []

    def watch(request: Request) -> None:
        if "/api/nbconvert" in request.url:
            asked.append(request.url)

    page.on("request", watch)
    open_notebook(page, "export/report.ipynb")
    cell(page, 1).locator(".cm-content").click()
    page.keyboard.press("End")
    page.keyboard.type(" + 1")  # unsaved: the download saves it first
    assert asked == []  # the page loads without asking for the formats

    page.get_by_role("button", name="File", exact=True).click()
    file_menu = page.get_by_role("menu", name="File")
    expect(file_menu.get_by_role("menuitem", name="Download as PDF (.pdf)")).to_be_visible()  # chromium is here
    for label in ("Download as HTML (.html)", "Download as Executable Script", "Download as Markdown (.md)",
                  "Download as Notebook (.ipynb)"):
        expect(file_menu.get_by_role("menuitem", name=label)).to_be_visible()
    assert len(asked) == 1
    with page.expect_download(timeout=60_000) as info:  # a child Python converts it, on a busy machine too
        file_menu.get_by_role("menuitem", name="Download as HTML (.html)").click()
    download = info.value
    assert download.suggested_filename == "report.html"
    html = download.path().read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "total" in html and ">41</span>" in html
    assert ">1</span>" in html  # the edit was saved before the conversion
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved")


def test_favicon_is_served_and_linked(page: Page, ui_server: UIServer) -> None:
    open_tree(page, "")
    expect(page.locator("link[rel=icon]")).to_have_attribute("href", "/favicon.ico")
    response = page.request.get("favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"] == "image/x-icon"
    assert response.body().startswith(b"\x00\x00\x01\x00")  # an ICO


def test_new_folder_dialog_creates_and_counts_items(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "counted", {"only.txt": "1"})
    open_tree(page, "counted")
    count = page.locator("#nb-selection-count")
    expect(count).to_have_text("1 item")
    page.get_by_role("button", name="New Folder").click()
    dialog = page.get_by_role("dialog", name="Name the new folder")
    expect(dialog.get_by_role("button", name="Rename")).to_have_count(0)
    dialog.get_by_label("Folder name").fill("made")
    dialog.get_by_role("button", name="Create").click()
    expect(row(page, "made")).to_have_attribute("aria-selected", "true")
    with page.context.expect_page() as opened:  # the new text file opens in the editor's tab
        page.get_by_role("button", name="New Text File").click()
        page.get_by_role("dialog", name="Name the new text file").get_by_role("button", name="Create").click()
    expect(opened.value).to_have_url(re.compile(r"/edit/counted/untitled\.txt$"))
    open_tree(page, "counted")  # nothing selected: the count of entries
    expect(count).to_have_text("3 items")


def test_the_token_leaves_the_address_bar_of_every_page(browser: Browser, ui_server: UIServer) -> None:
    make_folder(ui_server, "tokens", {"notes.txt": "hi"})
    put_notebook(ui_server, "tokens/t.ipynb", [code_cell("1")])
    context = browser.new_context(base_url=ui_server.url)  # not logged in: the token logs in
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        for path in ("tree/tokens", "notebooks/tokens/t.ipynb", "edit/tokens/notes.txt", "running", "runs"):
            page.goto(f"{path}?token={TOKEN}&keep=1#here")
            expect(page).to_have_url(f"{ui_server.url}{path}?keep=1#here")
            assert "token=" not in page.evaluate("window.location.href")
        page.goto(f"tree?token={TOKEN}")
        expect(page).to_have_url(f"{ui_server.url}tree")
        page.reload()  # the login cookie carries on without the token
        expect(page.locator("html")).to_have_attribute("data-nb-ready", "true")
    finally:
        context.close()
        for session in ui_server.json("GET", "api/sessions", 200):
            ui_server.request("DELETE", f"api/sessions/{session['id']}")
    assert not errors, errors


def test_a_notebook_opens_in_a_new_tab_titled_with_its_name(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "tabs", {"a.txt": "a"})
    put_notebook(ui_server, "tabs/tabbed.ipynb", [code_cell("x = 1")])
    open_tree(page, "tabs")
    tree_url = page.url
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="tabbed.ipynb", exact=True).click()
    notebook = opened.value
    expect(notebook).to_have_url(re.compile(r"/notebooks/tabs/tabbed\.ipynb$"))
    expect_ready(notebook)
    expect(notebook).to_have_title("tabbed.ipynb")
    assert page.url == tree_url  # the file browser stays where it was
    notebook.close()

    # The keyboard's Enter on the row does the same.
    page.get_by_role("grid", name="Files").focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowDown")
    expect(row(page, "tabbed.ipynb")).to_have_attribute("aria-selected", "true")
    with page.context.expect_page() as opened:
        page.keyboard.press("Enter")
    expect(opened.value).to_have_url(re.compile(r"/notebooks/tabs/tabbed\.ipynb$"))
    expect_ready(opened.value)
    assert page.url == tree_url
