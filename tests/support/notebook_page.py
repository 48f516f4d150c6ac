"""Helpers for the notebook editor's browser tests."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


def kernel_state(page: Page) -> Locator:
    return page.get_by_role("status").filter(has_text="Kernel")


def expect_ready(page: Page) -> None:
    """The open notebook is loaded and its kernel idle."""
    expect(page.locator("#nb-notebook")).to_have_attribute("data-state", "ready")
    expect(kernel_state(page)).to_have_text("Kernel Idle")


def open_notebook(page: Page, path: str) -> None:
    page.goto(f"notebooks/{path}")
    expect_ready(page)


def cell(page: Page, n: int) -> Locator:
    return page.locator(".nb-cell").nth(n - 1)


def prompt(page: Page, n: int) -> Locator:
    """Cell `n`'s prompt: "[ ]:", "[*]:" (queued or running), "[3]:"."""
    return cell(page, n).locator(".nb-prompt")


def run_code(page: Page, n: int, code: str) -> None:
    """Type `code` into cell `n`'s editor and run it with Shift-Enter."""
    cell(page, n).locator(".cm-content").click()
    page.keyboard.type(code)
    page.keyboard.press("Shift+Enter")


def output(page: Page, n: int) -> Locator:
    return page.get_by_role("region", name=f"Cell {n} output")


def menu(page: Page, name: str, item: str) -> None:
    """Choose `item` from the menu `name` (a plain item, or a radio or checkbox one)."""
    page.get_by_role("button", name=name, exact=True).click()
    popup = page.get_by_role("menu", name=name)
    popup.get_by_role("menuitem", name=item).or_(popup.get_by_role("menuitemradio", name=item)).or_(
        popup.get_by_role("menuitemcheckbox", name=item)).click()
