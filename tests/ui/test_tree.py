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

from .conftest import UIServer, put_notebook

pytestmark = pytest.mark.live


def make_folder(server: UIServer, name: str, files: dict[str, str | bytes] | None = None) -> Path:
    """A fresh folder `name` under the served root, holding `files` (name -> text or bytes)."""
    folder = server.root / name
    folder.mkdir()
    for file_name, data in (files or {}).items():
        target = folder / file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            target.write_bytes(data)
        else:
            target.write_text(data)
    return folder


def open_tree(page: Page, path: str) -> None:
    page.goto(f"tree/{path}")
    expect(page.locator("html")).to_have_attribute("data-nb-ready", "true")


def row(page: Page, name: str):  # type: ignore[no-untyped-def]
    """The grid row of the entry called `name`."""
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))


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
    expect(row(page, "notes.txt").get_by_role("link")).to_have_attribute("href", re.compile(r"/files/listing/notes\.txt$"))
    expect(page.get_by_role("grid", name="Files")).to_have_attribute("aria-rowcount", "5")
