"""A run's public record: the ``POST /api/runs`` body it comes from (``RunRequest``), its
model, its events, and the transitions that change them (``core.runs`` drives them)."""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from . import errors
from .contents import ContentsManager
from .eventlog import EventLog, Numbered
from .execute import Execution
from .kernels import Kernel
from .paths import iso_utc, normalize_api_path

STATUSES = ("queued", "running", "completed", "failed", "cancelled")
FINAL = frozenset({"completed", "failed", "cancelled"})


@dataclass
class RunRequest:
    """A ``POST /api/runs`` body, checked (``parse_request``)."""

    path: str
    cells: list[str] | None = None
    parameters: dict[str, Any] | None = None
    output_path: str | None = None
    kernel_id: str | None = None
    kernel_name: str | None = None
    timeout: float | None = None
    allow_errors: bool = False
    allow_stdin: bool = True


def parse_request(body: Any) -> RunRequest:
    """:raises errors.Invalid: not an object, or a field of the wrong type (named in the message)."""
    if not isinstance(body, dict):
        raise errors.Invalid("The body must be a JSON object with 'path'", reason="bad body")
    path = body.get("path")
    if not isinstance(path, str) or not normalize_api_path(path):
        raise errors.Invalid("'path' is required: the notebook to run", reason="bad field: path")
    request = RunRequest(path=normalize_api_path(path))
    cells = body.get("cells")
    if cells is not None:
        if not isinstance(cells, list) or not all(isinstance(c, str) for c in cells):
            raise errors.Invalid("'cells' must be a list of cell ids", reason="bad field: cells")
        request.cells = list(cells)
    if body.get("parameters") is not None:
        if not isinstance(body["parameters"], dict):
            raise errors.Invalid("'parameters' must be an object of names to values", reason="bad field: parameters")
        request.parameters = body["parameters"]
    for name in ("output_path", "kernel_id", "kernel_name"):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip("/")):
            raise errors.Invalid(f"'{name}' must be a non-empty string", reason=f"bad field: {name}")
        setattr(request, name, value)
    if request.output_path is not None:
        request.output_path = normalize_api_path(request.output_path)
    timeout = body.get("timeout")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < 10**9:
            raise errors.Invalid("'timeout' must be a positive number of seconds per cell, or null",
                                 reason="bad field: timeout")
        request.timeout = float(timeout)
    for name in ("allow_errors", "allow_stdin"):
        value = body.get(name)
        if value is not None:
            if not isinstance(value, bool):
                raise errors.Invalid(f"'{name}' must be true or false", reason=f"bad field: {name}")
            setattr(request, name, value)
    return request


class Run:
    """One run's public record and events (see ``core.execute.Execution`` for the pattern).

    Transitions: ``queued`` -> ``running`` (``start``) -> a final status (``finish``); a queued
    run may finish without starting (cancelled). While it runs: ``cell_started``, ``event``
    (outputs), ``ask_input``/``input_answered``, ``cell_finished``. Each wakes waiters.
    Events are numbered from 0 (the SSE ids); a finished run's are dropped after a while
    but for ``done``, which keeps its number.
    """

    def __init__(self, request: RunRequest, *, kernel_name: str, cells: list[str], owner: str | None,
                 injected_cell: str | None, run_id: str | None = None) -> None:
        self.id = run_id or uuid.uuid4().hex
        self.path = request.path
        self.output_path = request.output_path
        self.status = "queued"
        self.kernel_id = request.kernel_id
        self.kernel_name = kernel_name
        self.cells = cells
        self.cells_done = 0
        self.current_cell: str | None = None
        self.parameters = request.parameters or {}
        self.allow_errors = request.allow_errors
        self.allow_stdin = request.allow_stdin
        self.timeout = request.timeout
        self.owner = owner
        self.created = time.time()
        self.started: float | None = None
        self.finished: float | None = None
        self.error: dict[str, Any] | None = None
        self.input_request: dict[str, Any] | None = None
        #: The id of the ``injected-parameters`` cell this run puts in, if it has parameters.
        self.injected_cell = injected_cell
        # What only the engine sees.
        self.contents: ContentsManager | None = None
        self.kernel: Kernel | None = None
        self.own_kernel = False
        #: The current cell's request; those sent to the kernel behind it, with their cells'
        #: index and id (None: a cell no longer in the notebook, counted in its turn).
        self.execution: Execution | None = None
        self.sent: deque[tuple[int, str, Execution | None]] = deque()
        self.cancelling: dict[str, Any] | None = None
        #: Its numbered events (the SSE stream's) and the signal of any change.
        self.events = EventLog()

    # -- reading -----------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.status in FINAL

    @property
    def root(self) -> str | None:
        return self.contents.root.os_root if self.contents is not None else None

    def model(self) -> dict[str, Any]:
        """The run model of the API (without ``owner``, which only administrators are shown)."""
        model: dict[str, Any] = {
            "id": self.id, "path": self.path, "output_path": self.output_path, "status": self.status,
            "kernel_id": self.kernel_id, "kernel_name": self.kernel_name, "cells": list(self.cells),
            "cells_total": len(self.cells), "cells_done": self.cells_done, "current_cell": self.current_cell,
            "parameters": self.parameters, "allow_errors": self.allow_errors, "timeout": self.timeout,
            "created": iso_utc(self.created),
            "started": iso_utc(self.started) if self.started is not None else None,
            "finished": iso_utc(self.finished) if self.finished is not None else None,
            "input_request": self.input_request,
        }
        if self.error is not None:
            model["error"] = self.error
        return model

    def record(self) -> dict[str, Any]:
        """What is kept on disk: the model, its owner and what the model leaves out."""
        return {**self.model(), "owner": self.owner, "allow_stdin": self.allow_stdin,
                "injected_cell": self.injected_cell, "created_ts": self.created, "started_ts": self.started,
                "finished_ts": self.finished, "own_kernel": self.own_kernel}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Run:
        """A run read back from disk (``record``); its events are ``done`` alone."""
        request = RunRequest(path=str(record["path"]), parameters=record.get("parameters") or {},
                             output_path=record.get("output_path"), kernel_id=record.get("kernel_id"),
                             timeout=record.get("timeout"), allow_errors=bool(record.get("allow_errors")),
                             allow_stdin=bool(record.get("allow_stdin", True)))
        run = cls(request, kernel_name=str(record.get("kernel_name") or ""), cells=list(record.get("cells") or []),
                  owner=record.get("owner"), injected_cell=record.get("injected_cell"), run_id=str(record["id"]))
        run.status = str(record.get("status"))
        run.cells_done = int(record.get("cells_done") or 0)
        run.current_cell = record.get("current_cell")
        run.error = record.get("error")
        run.created = float(record.get("created_ts") or time.time())
        run.started = record.get("started_ts")
        run.finished = record.get("finished_ts")
        run.own_kernel = bool(record.get("own_kernel"))
        if run.done:
            run.events.append("done", run.model())
        return run

    def stream(self, start: int = 0, *, keepalive: float = 15) -> Iterator[Numbered | None]:
        """Events from number `start` as they come, ending after ``done`` (at once for a finished
        run asked for events after its ``done``); None every `keepalive` seconds without one."""
        return self.events.stream(start, ended=lambda: self.done, keepalive=keepalive)

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        return self.events.wait_until(predicate, timeout)

    def forget_events(self) -> None:
        """Drop every event but ``done`` (its number kept): a long finished run's outputs are in its file."""
        if self.done:
            self.events.forget_all_but_last()

    # -- transitions --------------------------------------------------------------------------

    def accept(self) -> None:
        """The run is queued: its first event, ``accepted``, with its model."""
        self._event("accepted", self.model())

    def start(self, kernel_id: str) -> None:
        """:raises RuntimeError: not queued."""
        if self.status != "queued":
            raise RuntimeError(f"run {self.id} cannot start: it is {self.status}")
        self.status = "running"
        self.kernel_id = kernel_id
        self.started = time.time()
        self._changed_now()

    def cell_started(self, cell_id: str, index: int) -> None:
        self.current_cell = cell_id
        self._event("cell_started", {"cell_id": cell_id, "index": index})

    def event(self, name: str, payload: dict[str, Any]) -> None:
        """An output event of the current cell (``output``, ``clear_output``, ``update_display``)."""
        self._event(name, payload)

    def ask_input(self, cell_id: str, prompt: str, password: bool) -> None:
        self.input_request = {"cell_id": cell_id, "prompt": prompt, "password": password}
        self._event("input_required", dict(self.input_request))

    def input_answered(self) -> None:
        self.input_request = None
        self._changed_now()

    def cell_finished(self, cell_id: str, status: str, execution_count: int | None, outputs: list[dict[str, Any]],
                      duration: float) -> None:
        self.cells_done += 1
        self.input_request = None
        self._event("cell_finished", {"cell_id": cell_id, "status": status, "execution_count": execution_count,
                                      "outputs": outputs, "duration": round(duration, 6)})

    def cell_skipped(self) -> None:
        """A cell the run was to execute is no longer in the notebook (deleted meanwhile)."""
        self.cells_done += 1
        self._changed_now()

    def finish(self, status: str, error: dict[str, Any] | None = None) -> bool:
        """Pending -> `status` (a final one). The first final status wins: False if finished already.

        :raises RuntimeError: `status` is not a final one.
        """
        if status not in FINAL:
            raise RuntimeError(f"run {self.id} cannot finish as {status}")
        if self.done:
            return False
        self.status = status
        self.error = error
        self.current_cell = None
        self.input_request = None
        self.finished = time.time()
        self._event("done", self.model())
        return True

    def _changed_now(self) -> None:
        self.events.notify()

    def _event(self, name: str, payload: Any) -> None:
        self.events.append(name, payload)
