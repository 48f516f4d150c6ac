"""Run records on disk: one JSON file per run in ``<data_dir>/flask_notebook/runs/``, written
atomically, so run history survives a restart of the server."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import orjson

from . import errors, fileio

log = logging.getLogger(__name__)


class RunStore:
    """The records of runs in `directory` (made when first written to)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def path(self, run_id: str) -> str:
        return os.path.join(self.directory, f"{run_id}.json")

    def write(self, run_id: str, record: dict[str, Any]) -> None:
        """Write a run's record, atomically. A failure is logged: the run goes on, and only its
        history is at stake."""
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            fileio.atomic_write(self.path(run_id), orjson.dumps(record), api_path=f"runs/{run_id}.json")
        except (OSError, errors.NotebookError) as exc:
            log.warning("the record of run %s could not be written in %s: %s", run_id, self.directory,
                        getattr(exc, "message", None) or exc)

    def delete(self, run_id: str) -> None:
        try:
            os.remove(self.path(run_id))
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("the record of run %s could not be removed: %s", run_id, exc.strerror)

    def load(self) -> list[dict[str, Any]]:
        """Every readable record, oldest first (by ``created``). Unreadable files are logged and left."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        records = []
        for name in names:
            if not name.endswith(".json") or name.startswith("."):
                continue
            try:
                with open(os.path.join(self.directory, name), "rb") as f:
                    record = orjson.loads(f.read())
            except (OSError, orjson.JSONDecodeError) as exc:
                log.warning("skipping run record %s: %s", name, exc)
                continue
            if not isinstance(record, dict) or record.get("id") != name[:-5] or not isinstance(record.get("created"), str):
                log.warning("skipping run record %s: not a run record", name)
                continue
            records.append(record)
        records.sort(key=lambda record: str(record["created"]))
        return records


def expired(finished: list[tuple[float, str]], *, keep: int, age: float, now: float | None = None) -> list[str]:
    """The ids of finished runs to forget: older than `age` seconds, then the oldest past `keep`.

    :param finished: (when it finished, run id) of each finished run.
    """
    horizon = (time.time() if now is None else now) - age
    ordered = sorted(finished)
    gone = [run_id for when, run_id in ordered if when < horizon]
    left = [run_id for when, run_id in ordered if when >= horizon]
    if len(left) > keep:
        gone += left[: len(left) - keep]
    return gone
