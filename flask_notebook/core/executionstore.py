"""Finished REST execution records in the database (``core.store``'s ``executions`` table), so
that ``GET /api/execute/<id>`` and ``GET /api/kernels/<id>/requests/<id>`` still answer after
a restart of the server, for NOTEBOOK_EXECUTE_RECORD_TTL seconds after the request finished.

A record is written once, when its request finishes, queued to the store's writer thread
without waiting for it (an execute's latency does not include the database). The rows'
``created`` is when the request finished: the TTL counts from then. Expired rows are deleted
now and then (`purge`), and are never answered before that.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .store import Store, executions_table

log = logging.getLogger(__name__)

#: Seconds between two deletions of expired rows, at most one per interval.
PURGE_INTERVAL = 60.0


class StoredExecutions:
    """This server's finished execution records in `store`, each kept `ttl` seconds."""

    def __init__(self, store: Store, *, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.ttl = ttl
        self._clock = clock
        self._purged = float("-inf")

    def save(self, record: dict[str, Any], *, kernel_id: str, owner: str | None, finished: float) -> None:
        """Queue the write of a finished request's `record` (which must not change after)."""
        self.store.put_later(executions_table, str(record["id"]), record, what=f"execution record {record['id']}",
                             kernel_id=kernel_id, owner=owner, status=str(record["status"]), created=finished)

    def get(self, request_id: str) -> tuple[dict[str, Any], str | None] | None:
        """The record of `request_id` and its owner, if this server wrote it and it has not
        expired; else None (and when the database cannot be read, which is logged)."""
        table = executions_table
        query = sa.select(table.c.record, table.c.owner).where(
            table.c.id == request_id, table.c.server == self.store.server,
            table.c.created >= self._clock() - self.ttl)
        try:
            row = self.store.read(lambda conn: conn.execute(query).first())
        except sa.exc.SQLAlchemyError as exc:
            text = str(exc)
            log.warning("execution record %s could not be read from the database: %s", request_id,
                        text.splitlines()[0] if text else type(exc).__name__)
            return None
        if row is None:
            return None
        record = orjson.loads(row[0])
        return (record, row[1]) if isinstance(record, dict) else None

    def purge(self) -> None:
        """Queue the deletion of this server's expired rows, at most once every `PURGE_INTERVAL` seconds."""
        now = self._clock()
        if now - self._purged < PURGE_INTERVAL:
            return
        self._purged = now
        table, server, horizon = executions_table, self.store.server, now - self.ttl

        def delete(conn: Connection) -> None:
            conn.execute(table.delete().where(table.c.server == server, table.c.created < horizon))

        self.store.write_later(delete, what="the expired execution records")
