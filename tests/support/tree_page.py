"""Helpers for the file browser's browser tests (the tree page)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from .browser import UIServer


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


def row(page: Page, name: str) -> Locator:
    """The grid row of the entry called `name`."""
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
