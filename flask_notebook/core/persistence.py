"""Kernels that outlive the server (NOTEBOOK_PERSIST_KERNELS): re-attachment at start-up.

The kernel registry keeps a record of each kernel in the store (``kernelrecords.KernelRecords``),
and the sessions keep theirs (``sessions.Sessions``). A server started on the same data
directory (or database, and root) runs `reattach` in the background: every kernel record of
this host is tried at once, each in a greenlet (``KernelRegistry.adopt``: its process still
the one recorded, and answering a ``kernel_info_request`` on its control channel within a
short deadline); those that answer are listed again with their sessions, the others are
killed and their records and sessions deleted. The records are read before the server
serves (`start`); the rest happens in the background, while the API answers: a request for a
kernel being re-attached waits for it (``KernelRegistry.await_reattach``), and listings of
kernels and sessions wait for the whole pass (``KernelRegistry.await_reattached``), each for
at most ``KernelRegistry.REATTACH_WAIT`` seconds; ``/api/status`` does not wait.

With persistence off, the same pass stops whatever a server that died (SIGKILL, a crash) may
have left behind, and deletes its records: no kernel outlives the server.

Replicas (several servers on one database): each record names the replica that wrote it
(``NOTEBOOK_REPLICA_ID``, the host name by default), and a server takes at start-up only the
records of its own name (``kernelrecords.adoptable_here``): those its predecessor wrote, and of
local kernels only those on this host. Another replica's records, and their sessions, are
never touched here; its gateway kernels are adopted on demand (``KernelRegistry.claim``).
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from typing import Any

import gevent
import orjson
import sqlalchemy as sa
from gevent import Greenlet
from gevent.event import Event
from sqlalchemy.engine import Connection

from .kernelrecords import HOST, adoptable_here, writer_alive
from .kernels import KernelRegistry
from .sessions import Sessions
from .store import Store, kernels_table, sessions_table

log = logging.getLogger(__name__)

#: Seconds a re-attached kernel has to answer its ``kernel_info_request``.
PROBE_TIMEOUT = 2.0


def start(kernels: KernelRegistry, sessions: Sessions, store: Store, *, keep: bool,
          timeout: float = PROBE_TIMEOUT) -> Greenlet | None:
    """At start-up, before the server serves: read this host's kernel records and the
    sessions now (a request for one of those kernels then waits for it:
    ``KernelRegistry.await_reattach``), and re-attach to (`keep`), or stop, those kernels in
    the background: the greenlet doing it, None when there is nothing to do. Never raises."""
    try:
        found, rows = store.read(lambda conn: (_rows(conn, store, kernels_table), _rows(conn, store, sessions_table)))
    except Exception:
        log.exception("the kernel records could not be read: no kernel re-attached")
        return None
    replica = _replica(kernels)
    records = [r for r in found if adoptable_here(r, replica)]
    # Another server of this root and data directory may be running now: two `flask-notebook`
    # in one folder (its kernels are its own, not leftovers of a crash), or the old worker of a
    # rolling restart, about to exit (its kernels are re-attached once it has: `_late_pass`).
    live = {str(r["id"]) for r in records if writer_alive(r)}
    records = [r for r in records if str(r["id"]) not in live]
    if not records and not rows and not (keep and live):
        return None
    for kernel_id in [str(r["id"]) for r in records] + (sorted(live) if keep else []):
        kernels.reattaching[kernel_id] = Event()
    return gevent.spawn(reattach, kernels, sessions, store, records, rows, keep=keep, timeout=timeout,
                        live=live if keep else set())


def reattach(kernels: KernelRegistry, sessions: Sessions, store: Store, records: list[dict[str, Any]],
             rows: list[dict[str, Any]], *, keep: bool, timeout: float = PROBE_TIMEOUT,
             live: set[str] | None = None) -> list[str]:
    """Re-attach to (`keep`), or stop, the kernels of `records`, all in parallel; restore
    the sessions (`rows`) of those re-attached, delete the others'. Returns the ids
    re-attached."""
    started = time.monotonic()
    by_kernel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_kernel[str(row.get("kernel_id"))].append(row)
    attached: list[str] = []

    def one(record: dict[str, Any]) -> None:
        kernel_id = str(record["id"])
        try:
            kernel = kernels.adopt(record, timeout=timeout, keep=keep)
            if kernel is not None:
                sessions.restore(by_kernel.pop(kernel_id, []))
                attached.append(kernel_id)
        except Exception:
            log.exception("re-attaching kernel %s failed", kernel_id)
        finally:
            done = kernels.reattaching.pop(kernel_id, None)
            if done is not None:
                done.set()

    gevent.joinall([gevent.spawn(one, record) for record in records])
    if records:
        log.info("%d of %d kernel(s) of the previous server re-attached in %.2f s%s", len(attached), len(records),
                 time.monotonic() - started, "" if keep else " (NOTEBOOK_PERSIST_KERNELS is off: the others stopped)")
    if keep:
        attached += _late_pass(kernels, sessions, store, {str(r["id"]) for r in records}, timeout=timeout,
                               live=live or set())
    other_hosts = {str(r["id"]) for r in _records_elsewhere(store, _replica(kernels))}
    stale = [str(row["id"]) for kernel_id, group in by_kernel.items() for row in group
             if kernel_id not in kernels.kernels and kernel_id not in other_hosts]
    try:
        store.delete(sessions_table, *stale)
    except Exception:
        log.exception("sessions of kernels not re-attached could not be deleted")
    return attached


#: Seconds after the first pass before the second (`_late_pass`).
LATE_PASS = 3.0
#: Seconds the late pass waits, looking again every second, for the server that holds
#: kernels of this one's records to exit (a rolling restart's old worker); then it leaves them
#: to that server.
LATE_WINDOW = 30.0


def _late_pass(kernels: KernelRegistry, sessions: Sessions, store: Store, seen: set[str], *,
               timeout: float, live: set[str]) -> list[str]:
    """The records and sessions the previous server wrote after they were read: in a rolling
    restart (gunicorn's HUP) the old worker serves on for a moment beside the new one, and a
    kernel it started, or a session it made, then would be left out until the next restart.
    Read again, a little later; adopt the kernels of records not `seen` in the first pass and
    written by another process (never one this server started, or is shutting down), and the
    sessions not known of kernels listed. A record whose writer still runs (`live`, and any
    found now) is adopted once that server has exited, looked for every second for
    `LATE_WINDOW` seconds; a request waiting for one (``await_reattach``) is let go then.
    Returns the ids re-attached."""
    attached: list[str] = []
    deadline = time.monotonic() + LATE_PASS + LATE_WINDOW
    gevent.sleep(LATE_PASS)
    try:
        while True:
            try:
                records = [r for r in store.records(kernels_table)
                           if adoptable_here(r, _replica(kernels)) and str(r["id"]) not in seen
                           and r.get("writer") != os.getpid()
                           and str(r["id"]) not in kernels.kernels]
                rows = store.records(sessions_table)
            except Exception:
                log.exception("the kernel records could not be read again")
                return attached
            known = sessions.ids()
            sessions.restore(row for row in rows
                             if str(row.get("kernel_id")) in kernels.kernels and str(row["id"]) not in known)
            waiting = False
            for record in records:
                kernel_id = str(record["id"])
                if writer_alive(record):
                    waiting = True
                    continue
                seen.add(kernel_id)
                kernel = kernels.adopt(record, timeout=timeout)
                if kernel is not None:
                    sessions.restore(row for row in rows if row.get("kernel_id") == kernel.id)
                    attached.append(kernel.id)
                _release(kernels, kernel_id)
            if not waiting or time.monotonic() >= deadline:
                return attached
            gevent.sleep(1.0)
    finally:
        for kernel_id in live:
            _release(kernels, kernel_id)


def _release(kernels: KernelRegistry, kernel_id: str) -> None:
    """Let requests waiting for `kernel_id`'s re-attachment go on."""
    done = kernels.reattaching.pop(kernel_id, None)
    if done is not None:
        done.set()


def _rows(conn: Connection, store: Store, table: sa.Table) -> list[dict[str, Any]]:
    """This server's records of `table` (as ``Store.records``), in one connection's read."""
    query = sa.select(table.c.record).where(table.c.server == store.server)
    return [orjson.loads(row) for row in conn.execute(query).scalars().all()]


def _replica(kernels: KernelRegistry) -> str:
    return kernels.records.replica if kernels.records is not None else HOST


def _records_elsewhere(store: Store, replica: str) -> list[dict[str, Any]]:
    """The records another replica would re-attach, or another server running now holds
    (their sessions are their own)."""
    try:
        return [r for r in store.records(kernels_table) if not adoptable_here(r, replica) or writer_alive(r)]
    except Exception:
        return []
