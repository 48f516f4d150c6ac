"""The audit trail (NOTEBOOK_AUDIT_LOG): one JSON line per action, who did what to which
resource, and how it went. No requests here: the web layer says what happened (``record``).

Writing never holds up the event loop: ``record`` only queues the line. A file is written by
a thread of its own (a real OS thread, not a greenlet: a slow disk must not stall the hub),
opened in append mode with mode 0600; a ``logger:<name>`` target gets its lines from a
greenlet, as any other log record of the process. ``close`` (``NotebookState.shutdown_all``,
at a clean stop and at exit) writes every line queued before it returns, and lines recorded
after it are written at once: none is lost on a clean stop.

A line never holds a token, password, cookie or header: it is built only from the fields
below, which the web layer fills from ids, paths and the user's name.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import deque
from datetime import datetime, timezone
from typing import Any

import gevent
import orjson
from gevent import monkey

log = logging.getLogger(__name__)

_start_new_thread = monkey.get_original("_thread", "start_new_thread")
_allocate_lock = monkey.get_original("_thread", "allocate_lock")
LOGGER_PREFIX = "logger:"
CODE_MODES = ("full", "hash", "none")
#: How long ``close`` waits for the writer thread to write what is queued.
CLOSE_TIMEOUT = 10.0


def _private(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_CLOEXEC, 0o600)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Audit:
    """The sink of one app's audit lines: a file path, or ``logger:<name>``.

    :param code: what an ``execute`` line says of the code: ``"full"`` (the code itself),
        ``"hash"`` (``code_sha256``) or ``"none"``.
    :raises OSError: the file cannot be opened for appending.
    """

    def __init__(self, target: str, *, code: str = "hash") -> None:
        if code not in CODE_MODES:
            raise ValueError(f"code must be one of {CODE_MODES}")
        self.target = target
        self.code = code
        self._queue: deque[bytes] = deque()
        self._closed = False
        self._logger: logging.Logger | None = None
        self._file: Any = None
        self._greenlet: Any = None
        if target.startswith(LOGGER_PREFIX):
            self._logger = logging.getLogger(target[len(LOGGER_PREFIX):].strip())
        else:
            self._file = open(target, "ab", opener=_private)
            # Released when there is something to write (or to stop): the writer waits on it.
            self._wake = _allocate_lock()
            self._wake.acquire()
            self._done = _allocate_lock()
            self._done.acquire()
            _start_new_thread(self._run, ())

    def record(self, action: str, *, user: str | None, remote_addr: str | None, outcome: str = "ok",
               status: int | None = None, resource: str | None = None, path: str | None = None,
               code: str | None = None, **extra: Any) -> None:
        """Queue one line. `outcome` is ``ok``, ``denied`` or ``failed`` (with `status`, the
        HTTP status, when there is one); `code`, for executions, is written as
        NOTEBOOK_AUDIT_CODE says. `extra` fields (ids, a new path, how a request came) are
        added as they are; None values are left out."""
        line: dict[str, Any] = {"time": utc_now(), "user": user, "remote_addr": remote_addr, "action": action,
                                "resource": resource, "path": path, "outcome": outcome}
        if status is not None:
            line["status"] = status
        line.update((key, value) for key, value in extra.items() if value is not None)
        if code is not None:
            if self.code == "full":
                line["code"] = code
            elif self.code == "hash":
                line["code_sha256"] = hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()
        data = orjson.dumps(line, default=str)
        if self._closed:  # at exit, after close: written at once rather than lost
            self._write_late(data)
            return
        self._queue.append(data)
        if self._logger is not None:
            if self._greenlet is None:
                self._greenlet = gevent.spawn(self._drain)
        else:
            self._signal()

    def close(self) -> None:
        """Write every queued line, then stop. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self._logger is not None:
            self._drain()  # (a greenlet still draining finds the queue empty: nothing twice, nothing lost)
            return
        self._signal()
        if not self._done.acquire(timeout=CLOSE_TIMEOUT):
            log.warning("the audit log writer did not finish within %.0f s", CLOSE_TIMEOUT)
            return
        self._drain_queue()  # lines that came while it was stopping
        self._file.close()

    # -- the writers ----------------------------------------------------------------------

    def _signal(self) -> None:
        try:
            self._wake.release()
        except RuntimeError:  # released already: the writer has yet to wake up
            pass

    def _run(self) -> None:
        """The writer thread: write what is queued whenever woken, until closed."""
        try:
            while True:
                self._wake.acquire()
                self._drain_queue()
                if self._closed:
                    return
        finally:
            self._done.release()

    def _drain_queue(self) -> None:
        lines = []
        while self._queue:
            lines.append(self._queue.popleft())
        if lines:
            self._write(lines)

    def _drain(self) -> None:
        """The logger's greenlet: hands queued lines to the logger, one at a time."""
        try:
            while self._queue:
                self._write([self._queue.popleft()])
        finally:
            self._greenlet = None

    def _write_late(self, data: bytes) -> None:
        if self._logger is not None:
            self._write([data])
            return
        try:
            with open(self.target, "ab", opener=_private) as file:
                file.write(data + b"\n")
        except OSError as exc:
            log.error("an audit line could not be written to %s: %s", self.target, exc)

    def _write(self, lines: list[bytes]) -> None:
        if self._logger is not None:
            for data in lines:
                self._logger.info("%s", data.decode())
            return
        try:
            self._file.write(b"\n".join(lines) + b"\n")
            self._file.flush()
        except (OSError, ValueError) as exc:  # a full disk, or a file closed under us
            log.error("%d audit lines could not be written to %s: %s", len(lines), self.target, exc)
