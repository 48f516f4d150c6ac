"""Browser tests: Debian's chromium, the server they drive, and notebooks to open in it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from .env import PROJECT
from .server import Server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
#: Deadline in milliseconds for every Playwright action and `expect`: generous, because the
#: suite runs on two shared cores next to kernels starting.
TIMEOUT_MS = 20_000

expect.set_options(timeout=TIMEOUT_MS)


class UIServer(Server):
    def json(self, method: str, path: str, status: int | tuple[int, ...], **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        expected = status if isinstance(status, tuple) else (status,)
        assert response.status_code in expected, (response.status_code, response.text)
        return response.json() if response.content else None


def code_cell(source: str, outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"cell_type": "code", "source": source, "metadata": {}, "outputs": outputs or [],
            "execution_count": None}


def markdown_cell(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "source": source, "metadata": {}}


def put_notebook(server: UIServer, path: str, cells: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Write a v4 notebook at `path` through the contents API and return its model."""
    content = {
        "cells": cells if cells is not None else [code_cell("")],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for i, cell in enumerate(content["cells"]):
        cell.setdefault("id", f"cell-{i}")
    return server.json("PUT", f"api/contents/{path}", (200, 201), json={"type": "notebook", "content": content})  # type: ignore[no-any-return]


def screenshot_path(name: str) -> Path:
    """Where the suite writes screenshots that the README shows (``UPDATE_SCREENSHOTS=1 make test``
    rewrites them; otherwise only missing ones are written)."""
    return PROJECT / "docs" / name
