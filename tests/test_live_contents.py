"""Contents against the real server: big notebooks in the worker pool, and saves cut short by a kill."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests

from .support.env import AUTH
from .support.server import LiveServer
from .support.waiting import wait_for

pytestmark = pytest.mark.live


def big_notebook(cells: int, lines_per_cell: int) -> dict[str, Any]:
    """A valid v4 notebook of many stream lines, built as a plain dict (nbformat is slow at this size)."""
    text = "".join(f"line {n}: some output text\n" for n in range(lines_per_cell))
    return {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [
            {"id": f"cell-{index}", "cell_type": "code", "execution_count": index + 1, "metadata": {},
             "source": f"print({index})",
             "outputs": [{"output_type": "stream", "name": "stdout", "text": text}]}
            for index in range(cells)
        ],
    }


def test_server_keeps_serving_while_a_big_notebook_loads(live_server: LiveServer) -> None:
    (live_server.root / "big.ipynb").write_text(json.dumps(big_notebook(400, 2000)))
    done = threading.Event()
    result: dict[str, Any] = {}

    def load() -> None:
        try:
            # The headers come once the server has read, parsed and serialised the notebook.
            result["response"] = live_server.request("GET", "/api/contents/big.ipynb", stream=True)
        finally:
            done.set()

    small_during = 0
    worker = threading.Thread(target=load)
    worker.start()
    deadline = time.monotonic() + 60
    while not done.is_set() and time.monotonic() < deadline:
        response = live_server.request("GET", "/api/status")
        assert response.status_code == 200
        if not done.is_set():
            small_during += 1
    worker.join(timeout=60)
    assert result["response"].status_code == 200
    assert len(result["response"].json()["content"]["cells"]) == 400
    # Served inline, the load would block the event loop: at most one small request could finish.
    assert small_during >= 5


def _temp_files(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if name.startswith(".~")]


def test_killed_mid_save_leaves_previous_notebook_intact(
    start_server: Callable[..., LiveServer], root: Path
) -> None:
    server = start_server()
    original = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('keep me')")])
    target = root / "precious.ipynb"
    target.write_text(nbformat.writes(original))
    before = target.read_bytes()
    body = {"type": "notebook", "format": "json", "content": big_notebook(300, 1000)}
    payload = json.dumps(body).encode()

    def save() -> None:
        try:
            requests.put(server.url + "api/contents/precious.ipynb", data=payload, headers=AUTH, timeout=60)
        except requests.RequestException:
            pass  # the server dies under us: that is the point

    saver = threading.Thread(target=save)
    saver.start()
    wait_for(lambda: _temp_files(root), timeout=60, interval=0.001)  # the new bytes are being written
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=10)
    saver.join(timeout=30)
    assert target.read_bytes() == before
    assert nbformat.reads(target.read_text(), as_version=4).cells[0].source == "print('keep me')"
    # A later server does not list the leftover temporary file, and saves over it fine.
    again = start_server()
    names = [entry["name"] for entry in again.request("GET", "/api/contents").json()["content"]]
    assert names == ["precious.ipynb"]
    small = {"type": "notebook", "content": json.loads(nbformat.writes(original))}
    assert again.request("PUT", "/api/contents/precious.ipynb", json=small).status_code == 200


def test_killed_mid_upload_leaves_previous_file_intact(start_server: Callable[..., LiveServer], root: Path) -> None:
    server = start_server()
    target = root / "data.txt"
    target.write_text("old contents")
    received, release = threading.Event(), threading.Event()

    def slow_body() -> Any:
        yield b'{"type": "file", "format": "text", "content": "'
        received.set()
        release.wait(timeout=30)  # the server is killed while it waits for the rest
        yield b'"}'

    def upload() -> None:
        try:
            requests.put(server.url + "api/contents/data.txt", data=slow_body(), headers=AUTH, timeout=60)
        except requests.RequestException:
            pass

    uploader = threading.Thread(target=upload, daemon=True)
    uploader.start()
    try:
        assert received.wait(timeout=10)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=10)
    finally:
        release.set()
        uploader.join(timeout=30)
    assert target.read_text() == "old contents"
    assert _temp_files(root) == []


@pytest.mark.parametrize("chunked", [False, True])
def test_body_over_the_limit_is_413_json(start_server: Callable[..., LiveServer], root: Path, chunked: bool) -> None:
    server = start_server(env={"NOTEBOOK_MAX_BODY_SIZE": "1000"})
    (root / "keep.txt").write_text("old")
    payload = json.dumps({"type": "file", "format": "text", "content": "x" * 5000}).encode()
    data: Any = iter([payload[:2000], payload[2000:]]) if chunked else payload
    response = requests.put(server.url + "api/contents/keep.txt", data=data, headers=AUTH, timeout=30)
    assert response.status_code == 413, response.text
    assert response.json()["message"] == "Request body is larger than the limit of 1000 bytes (NOTEBOOK_MAX_BODY_SIZE)"
    assert (root / "keep.txt").read_text() == "old"
    assert server.request("GET", "/api/contents/keep.txt").json()["content"] == "old"
