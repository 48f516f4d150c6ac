"""Uploads from the file browser: by button, in chunks with progress, replacing, and by drag and drop."""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, Request, Route, expect

from ..support.browser import UIServer
from ..support.tree_page import make_folder, open_tree, row

pytestmark = pytest.mark.live

CHUNK = 1024 * 1024  # js/upload.js's chunk size


def upload_with_button(page: Page, *files: dict[str, Any]) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload").click()
    chooser.value.set_files(list(files))


def record_puts(page: Page) -> list[dict[str, Any]]:
    """The bodies of the contents PUTs the page sends from now on (without their content)."""
    bodies: list[dict[str, Any]] = []

    def on_request(request: Request) -> None:
        if request.method == "PUT" and "/api/contents/" in request.url:
            body = json.loads(request.post_data or "{}")
            body["content_length"] = len(body.pop("content", "") or "")
            bodies.append(body)

    page.on("request", on_request)
    return bodies


def test_upload_by_button_keeps_binary_bytes_and_notebooks(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "up-button")
    open_tree(page, "up-button")
    puts = record_puts(page)
    binary = bytes(range(256)) * 40  # not UTF-8: must travel as base64
    notebook = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    upload_with_button(
        page,
        {"name": "blob.bin", "mimeType": "application/octet-stream", "buffer": binary},
        {"name": "small.ipynb", "mimeType": "application/x-ipynb+json", "buffer": json.dumps(notebook).encode()},
    )
    expect(row(page, "blob.bin")).to_be_visible()
    expect(row(page, "small.ipynb")).to_be_visible()
    uploads = page.get_by_role("region", name="Uploads")
    expect(uploads.locator('.nb-upload[data-state="done"]')).to_have_count(2)
    assert (folder / "blob.bin").read_bytes() == binary
    assert json.loads((folder / "small.ipynb").read_text())["nbformat"] == 4
    kinds = {body["type"]: body.get("format") for body in puts}
    assert kinds == {"file": "base64", "notebook": "json"}
    assert all("chunk" not in body for body in puts)


def test_large_upload_goes_in_chunks_with_progress(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "up-chunks")
    open_tree(page, "up-chunks")
    puts = record_puts(page)
    # Every value the progress bar takes, seen as it changes.
    page.evaluate("""() => {
        window.nbProgress = [];
        new MutationObserver((records) => {
            for (const record of records) {
                if (record.target.tagName === "PROGRESS") window.nbProgress.push(Number(record.target.value));
            }
        }).observe(document.getElementById("nb-uploads"), {subtree: true, attributes: true, attributeFilter: ["value"]});
    }""")
    data = os.urandom(2 * CHUNK + 12345)
    upload_with_button(page, {"name": "big.bin", "mimeType": "application/octet-stream", "buffer": data})
    bar = page.get_by_role("progressbar", name="Uploading big.bin")
    expect(bar).to_have_attribute("value", str(len(data)))
    expect(bar).to_have_attribute("max", str(len(data)))
    entry = page.get_by_role("region", name="Uploads").locator('.nb-upload[data-name="big.bin"]')
    expect(entry).to_have_attribute("data-state", "done")
    expect(entry.last).to_contain_text("Uploaded")  # the cancelled row stays above it
    assert (folder / "big.bin").read_bytes() == data
    assert [body["chunk"] for body in puts] == [1, 2, -1]
    assert all(body["type"] == "file" and body["format"] == "base64" for body in puts)
    assert page.evaluate("window.nbProgress") == [0, CHUNK, 2 * CHUNK, len(data)]
    expect(row(page, "big.bin").locator(".nb-col-size")).to_have_text("2.0 MB")


def test_uploading_over_an_existing_file_asks_first(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "up-replace", {"same.txt": "old"})
    open_tree(page, "up-replace")
    upload_with_button(page, {"name": "same.txt", "mimeType": "text/plain", "buffer": b"new"})
    dialog = page.get_by_role("dialog", name="Replace files?")
    expect(dialog).to_contain_text('"same.txt" already exists')
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert (folder / "same.txt").read_text() == "old"

    upload_with_button(page, {"name": "same.txt", "mimeType": "text/plain", "buffer": b"new"})
    page.get_by_role("dialog", name="Replace files?").get_by_role("button", name="Replace").click()
    expect(page.locator('.nb-upload[data-name="same.txt"]')).to_have_attribute("data-state", "done")
    assert (folder / "same.txt").read_text() == "new"


DROP = """([selector, files]) => {
    const transfer = new DataTransfer();
    for (const [name, text] of files) transfer.items.add(new File([text], name, {type: "text/plain"}));
    const target = document.querySelector(selector);
    for (const type of ["dragenter", "dragover", "drop"]) {
        target.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: transfer}));
    }
}"""


def test_drag_and_drop_uploads_into_the_folder_or_onto_a_subfolder(page: Page, ui_server: UIServer) -> None:
    folder = make_folder(ui_server, "up-drop", {"inbox/.keep-me": ""})
    open_tree(page, "up-drop")
    page.evaluate(DROP, ["#nb-grid-body", [["dropped.txt", "first"], ["second.txt", "two"]]])
    expect(row(page, "dropped.txt")).to_be_visible()
    expect(row(page, "second.txt")).to_be_visible()
    expect(page.locator("#nb-grid")).not_to_have_class(re.compile("nb-dropping"))
    assert (folder / "dropped.txt").read_text() == "first"
    assert (folder / "second.txt").read_text() == "two"

    selector = "#nb-grid-sizer .nb-row[data-type=directory] .nb-col-size"
    page.evaluate(DROP, [selector, [["into-inbox.txt", "sorted"]]])
    expect(page.locator('.nb-upload[data-name="into-inbox.txt"]')).to_have_attribute("data-state", "done")
    assert (folder / "inbox" / "into-inbox.txt").read_text() == "sorted"
    expect(row(page, "into-inbox.txt")).to_have_count(0)


def test_cancelling_a_chunked_upload_drops_it_on_the_server_and_keeps_the_old_file(
        page: Page, ui_server: UIServer) -> None:
    """Cancel between chunks: the server forgets the upload at once (the same file can be
    sent again straight away, not 409 for two minutes) and the file it was replacing stays."""
    folder = make_folder(ui_server, "up-cancel", {"big.bin": "old"})
    open_tree(page, "up-cancel")
    held: list[Route] = []

    def hold_second_chunk(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}") if route.request.method == "PUT" else {}
        if body.get("chunk") == 2 and not held:
            held.append(route)  # left unanswered: the upload waits on it until cancelled
        else:
            route.continue_()

    page.route(re.compile(r".*/api/contents/up-cancel/big\.bin(\?.*)?$"), hold_second_chunk)
    data = os.urandom(2 * CHUNK + 10)
    upload_with_button(page, {"name": "big.bin", "mimeType": "application/octet-stream", "buffer": data})
    page.get_by_role("dialog", name="Replace files?").get_by_role("button", name="Replace").click()
    deadline = time.monotonic() + 20  # route handlers run while playwright is called
    while not held:
        assert time.monotonic() < deadline, "the second chunk was never sent"
        page.wait_for_timeout(50)
    assert [name for name in os.listdir(folder) if name.startswith(".~upload-")]  # chunk 1 is there
    with page.expect_request(lambda r: r.method == "DELETE" and "upload=1" in r.url) as cancel:
        page.get_by_role("button", name="Cancel uploading big.bin").click()
    entry = page.get_by_role("region", name="Uploads").locator('.nb-upload[data-name="big.bin"]')
    expect(entry).to_contain_text("Cancelled")
    assert cancel.value.response() is not None and cancel.value.response().status == 204
    assert os.listdir(folder) == ["big.bin"] and (folder / "big.bin").read_text() == "old"
    page.unroute(re.compile(r".*/api/contents/up-cancel/big\.bin(\?.*)?$"))
    upload_with_button(page, {"name": "big.bin", "mimeType": "application/octet-stream", "buffer": data})
    page.get_by_role("dialog", name="Replace files?").get_by_role("button", name="Replace").click()
    expect(entry.last).to_contain_text("Uploaded")  # the cancelled row stays above it
    assert (folder / "big.bin").read_bytes() == data
