"""Accessibility of the file browser and the Running view: every control has a name."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from ..support.browser import UIServer
from ..support.tree_page import make_folder, open_tree, row

pytestmark = pytest.mark.live

CONTROLS = ("button", "link", "checkbox", "textbox", "searchbox", "combobox", "grid", "dialog", "progressbar")


def unnamed_controls(snapshot: str) -> list[str]:
    """Lines of an ARIA snapshot that are a control without a name (`- button` or `- button:`)."""
    pattern = re.compile(rf"^\s*- ({'|'.join(CONTROLS)})(?:\s*\[[^\]]*\])?:?\s*$")
    return [line for line in snapshot.splitlines() if pattern.match(line)]


def test_every_control_of_the_tree_has_a_name(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "a11y", {"x.txt": "x", "sub/y.txt": "y"})
    open_tree(page, "a11y")
    row(page, "x.txt").locator(".nb-col-size").click()
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload").click()
    chooser.value.set_files([{"name": "up.txt", "mimeType": "text/plain", "buffer": b"up"}])
    expect(page.get_by_role("progressbar", name="Uploading up.txt")).to_be_visible()
    snapshot = page.locator("body").aria_snapshot()
    assert unnamed_controls(snapshot) == [], snapshot
    expect(page.get_by_role("button", name="New Notebook", exact=True)).to_have_count(1)

    page.get_by_role("button", name="New Folder").click()
    dialog = page.get_by_role("dialog", name="Name the new folder")
    expect(dialog).to_be_visible()
    assert unnamed_controls(page.locator("body").aria_snapshot()) == []
    dialog.get_by_role("button", name="Cancel").click()

    page.get_by_role("link", name="Running", exact=True).click()
    expect(page.locator("html")).to_have_attribute("data-nb-ready", "true")
    assert unnamed_controls(page.locator("body").aria_snapshot()) == []


def test_tab_order_reaches_the_toolbar_then_the_grid(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "tabbing", {"only.txt": "x"})
    open_tree(page, "tabbing")
    page.get_by_role("button", name="New Notebook", exact=True).focus()
    reached = []
    for _ in range(25):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        if reached[-1] == "nb-grid":
            break
    assert reached[:5] == ["nb-kernel", "nb-new-folder", "nb-new-file", "nb-new-terminal", "nb-upload"]
    assert reached[-1] == "nb-grid", reached
    # Rows' links and checkboxes are not tab stops (the grid's arrows move between rows).
    assert "only.txt" not in reached


def test_theme_follows_the_system_setting(page: Page, ui_server: UIServer) -> None:
    make_folder(ui_server, "themes", {"x.txt": "x"})
    background = "getComputedStyle(document.body).backgroundColor"
    page.emulate_media(color_scheme="light")
    open_tree(page, "themes")
    assert page.evaluate(background) == "rgb(255, 255, 255)"
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(background) == "rgb(13, 17, 23)"
    text = page.evaluate("getComputedStyle(document.querySelector('.nb-name')).color")
    assert text == "rgb(230, 237, 243)"  # light text on the dark background
