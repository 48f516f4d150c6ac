"""Rough edges of the notebook page found by a new user (issue 21): the Settings menu shows the
current theme and line-numbers setting; a notebook whose kernel is not installed asks which
kernel to start; the menus and palette show the move shortcuts and the script's extension; a
kernel that died and was restarted is told once, without a Restart button."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from playwright.sync_api import Page, expect

from ..support.browser import UIServer, code_cell, put_notebook
from ..support.kernels import add_kernelspec
from ..support.notebook_page import cell, kernel_state, menu, open_notebook, output, prompt
from ..support.waiting import wait_for

WHICH = "import os\nos.environ.get('WHICH_KERNEL', 'python3')"


def put_with_kernelspec(server: UIServer, path: str, cells: list[dict[str, Any]], kernelspec: dict[str, str]) -> None:
    for i, one in enumerate(cells):
        one.setdefault("id", f"cell-{i}")
    content = {"cells": cells, "metadata": {"kernelspec": kernelspec}, "nbformat": 4, "nbformat_minor": 5}
    server.json("PUT", f"api/contents/{path}", (200, 201), json={"type": "notebook", "content": content})


def sessions_of(server: UIServer, path: str) -> list[dict[str, Any]]:
    return [s for s in server.json("GET", "api/sessions", 200) if s["path"] == path]


def on_disk(server: UIServer, path: str) -> dict[str, Any]:
    return json.loads((server.root / path).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_settings_menu_checks_the_current_theme(page: Page, ui_server: UIServer) -> None:
    ui_server.json("PUT", "api/config/flask_notebook", 204, json={})
    put_notebook(ui_server, "checks.ipynb", [code_cell("")])
    open_notebook(page, "checks.ipynb")
    page.get_by_role("button", name="Settings", exact=True).click()
    settings = page.get_by_role("menu", name="Settings")
    expect(settings.get_by_role("menuitemradio", name="Theme of the system", checked=True)).to_be_visible()
    expect(settings.get_by_role("menuitemradio", checked=False)).to_have_count(2)
    expect(settings.get_by_role("menuitemcheckbox", name="Line numbers by default", checked=False)).to_be_visible()
    # The keyboard reaches them as the other items; Enter chooses.
    expect(settings.get_by_role("menuitemradio", name="Light theme")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.get_by_role("button", name="Settings", exact=True).click()
    dark = settings.get_by_role("menuitemradio", name="Dark theme", checked=True)
    expect(dark).to_be_visible()
    expect(settings.get_by_role("menuitemradio", name="Theme of the system", checked=False)).to_be_visible()
    # A visible check mark beside the checked one only.
    assert dark.evaluate("(item) => getComputedStyle(item, '::before').content").startswith('"✓"')
    light = settings.get_by_role("menuitemradio", name="Light theme")
    assert light.evaluate("(item) => getComputedStyle(item, '::before').content") in ("none", "normal")
    settings.get_by_role("menuitemcheckbox", name="Line numbers by default").click()
    expect(cell(page, 1).locator(".cm-lineNumbers")).to_be_visible()
    page.get_by_role("button", name="Settings", exact=True).click()
    expect(settings.get_by_role("menuitemcheckbox", name="Line numbers by default", checked=True)).to_be_visible()
    page.keyboard.press("Escape")
    wait_for(lambda: ui_server.json("GET", "api/config/flask_notebook", 200).get("lineNumbers") is True, timeout=10)

    # Changed in another tab: the closed menu follows at once (no reopening needed).
    other = page.context.new_page()
    try:
        open_notebook(other, "checks.ipynb")
        menu(other, "Settings", "Light theme")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        expect(page.locator('[data-action="theme-light"]')).to_have_attribute("aria-checked", "true")
        expect(page.locator('[data-action="theme-dark"]')).to_have_attribute("aria-checked", "false")
        page.get_by_role("button", name="Settings", exact=True).click()
        expect(settings.get_by_role("menuitemradio", name="Light theme", checked=True)).to_be_visible()
        page.keyboard.press("Escape")
    finally:
        other.close()
        ui_server.json("PUT", "api/config/flask_notebook", 204, json={})

