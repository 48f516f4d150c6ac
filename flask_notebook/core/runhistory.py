"""Run records in the database (``core.store``'s ``runs`` table, with their owner and status),
so run history survives a restart of the server; and which finished runs to forget.

Before the database, each record was a JSON file in ``<data_dir>/flask_notebook/runs/``: those
of an existing installation are imported once (`RunStore.import_files`), then removed."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import orjson
import sqlalchemy as sa

from .store import Store, runs_table

log = logging.getLogger(__name__)


class RunStore:
    """The records of this server's runs in `store`. Each names the replica that wrote it
    (`replica`, and its address `url`: ``NOTEBOOK_REPLICA_ID``, ``NOTEBOOK_REPLICA_URL``), the
    one executing it while it is unfinished."""

    def __init__(self, store: Store, *, replica: str | None = None, url: str | None = None) -> None:
        self.store = store
        self.replica = replica
        self.url = url

    def write(self, run_id: str, record: dict[str, Any]) -> None:
        """Write a run's record (after the writes asked for before it). A failure is logged: the
        run goes on, and only its history is at stake."""
        record = {**record, "replica": self.replica, "url": self.url}
        try:
            self.store.put(runs_table, run_id, record, owner=record.get("owner"), status=str(record["status"]),
                           created=float(record.get("created_ts") or time.time()))
        except sa.exc.SQLAlchemyError as exc:
            log.warning("the record of run %s could not be written in the database: %s", run_id, _first_line(exc))

    def delete(self, *run_ids: str) -> None:
        try:
            self.store.delete(runs_table, *run_ids)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("the records of runs %s could not be removed from the database: %s", ", ".join(run_ids),
                        _first_line(exc))

    def load(self) -> list[dict[str, Any]]:
        """Every record of this server's runs, oldest first.

        :raises sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
        """
        return [record for record in self.store.records(runs_table) if isinstance(record, dict)]

    def find(self, run_id: str) -> dict[str, Any] | None:
        """The record of run `run_id`, whichever replica wrote it; None when there is none (or
        the database cannot be read: logged)."""
        try:
            found = self.store.records(runs_table, id=run_id)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("the record of run %s could not be read: %s", run_id, _first_line(exc))
            return None
        return found[0] if found and isinstance(found[0], dict) else None

    def elsewhere(self, record: dict[str, Any]) -> bool:
        """Whether `record` is of another replica's run: one that replica executes (or did)."""
        replica, url = record.get("replica"), record.get("url")
        return isinstance(url, str) and bool(url) and replica not in (None, self.replica)

    def import_files(self, directory: str) -> None:
        """Move the run records of `directory` (one JSON file each, as flask-notebook kept
        them before the database) into the database, and remove the files (and the folder,
        once empty). Unreadable files are logged and left."""
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("the run records in %s could not be listed for import: %s", directory, exc.strerror)
            return
        imported = 0
        for name in names:
            if not name.endswith(".json") or name.startswith("."):
                continue
            path = os.path.join(directory, name)
            try:
                with open(path, "rb") as f:
                    record = orjson.loads(f.read())
            except (OSError, orjson.JSONDecodeError) as exc:
                log.warning("run record %s not imported: %s", path, exc)
                continue
            if not isinstance(record, dict) or record.get("id") != name[:-5] or not isinstance(record.get("created"), str) \
                    or not isinstance(record.get("status"), str):
                log.warning("run record %s not imported: not a run record", path)
                continue
            try:
                self.store.put(runs_table, name[:-5], record, owner=record.get("owner"), status=record["status"],
                               created=float(record.get("created_ts") or os.stat(path).st_mtime))
                os.remove(path)
            except (sa.exc.SQLAlchemyError, OSError, TypeError, ValueError) as exc:
                log.warning("run record %s not imported: %s", path, _first_line(exc))
                continue
            imported += 1
        if imported:
            log.info("imported %d run record(s) from %s into the database and removed the files", imported,
                     directory)
        try:
            os.rmdir(directory)
        except OSError:  # not empty (files left, or not ours): left as it is
            pass


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


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
