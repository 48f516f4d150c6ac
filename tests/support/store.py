"""The database of a test server, read and written as another process would: the server's
SQLite file (``core.store.default_url``) or a PostgreSQL URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask_notebook.core.store import Store, default_url, runs_table, server_name


def server_store(base: Path, url: str | None = None) -> Store:
    """The database of the `Server` in `base` (its data in ``base/data``, its root ``base/root``),
    as this server's rows: close it after."""
    root = str(base / "root")
    return Store(url or default_url(str(base / "data"), root), server=server_name(root))


def run_records(base: Path, url: str | None = None) -> dict[str, dict[str, Any]]:
    """The run records of the server in `base`, by id."""
    store = server_store(base, url)
    try:
        return {str(record["id"]): record for record in store.records(runs_table)}
    finally:
        store.close()
