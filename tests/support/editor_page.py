"""Helpers for the file editor's browser tests (/edit/<path>, src/edit/)."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


def open_editor(page: Page, path: str) -> Locator:
    """Open /edit/<path> and wait until its text is in the editor; the editor's text box."""
    page.goto(f"edit/{path}")
    expect(page.locator("html")).to_have_attribute("data-nb-ready", "true")
    return editor(page, path.rsplit("/", 1)[-1])


def editor(page: Page, name: str) -> Locator:
    return page.get_by_role("textbox", name=f"Contents of {name}")


def editor_text(page: Page) -> str:
    """The text in the page's editor (CodeMirror's document), lines joined by newlines."""
    text: str = page.evaluate("nbEditor.view.state.doc.toString()")
    return text


def expect_editor_text(page: Page, text: str) -> None:
    page.wait_for_function("(text) => nbEditor.view && nbEditor.view.state.doc.toString() === text", arg=text)


def status(page: Page) -> Locator:
    """The save state: Saved, Unsaved changes, Saving…, Save failed: …, Changed on disk."""
    return page.get_by_role("toolbar", name="File").get_by_role("status")
