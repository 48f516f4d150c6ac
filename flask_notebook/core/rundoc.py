"""The notebook document a run executes, and its saves to disk while the run goes on.

A ``RunDocument`` holds the nbformat dict being run (``notebook``): loaded from the run's
notebook when the run starts, then changed by the run as its cells start, produce outputs
and finish. It writes itself to its target (the notebook itself for a run in place, else
``output_path``) through the user's ``ContentsManager.save``, so every write is atomic and
validated as a client's save is: debounced to one save per `save_interval` while outputs
come in, and as soon as it can at each cell's end; one save at a time, in a worker thread
(a big notebook's serialisation must not stall the server), the next one coalescing
whatever changed meanwhile.

A cell is found by its id every time (never by its index), so whoever rearranges
``notebook["cells"]`` (the merge of a user's save during an in-place run) only has to keep
the ids. Documents of runs in place are registered by (contents root, path) while they are
open (``in_place``), for that merge to find.

Nothing here knows HTTP or the run's queue: ``core.runs`` drives it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import gevent
import orjson
from gevent import monkey
from gevent.event import Event

from . import errors
from .contents import ContentsManager
from .paths import iso_utc, normalize_api_path

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Open documents of runs in place, by (contents root, api path).
_IN_PLACE: dict[tuple[str, str], RunDocument] = {}


def in_place(contents: ContentsManager, path: str) -> RunDocument | None:
    """The open document of the run executing the notebook at `path` of `contents` in place, if any."""
    return _IN_PLACE.get((contents.root.os_root, normalize_api_path(path)))


def load_notebook(contents: ContentsManager, path: str) -> dict[str, Any]:
    """The notebook at `path`, with cell ids (``ensure_cell_ids``) and each code cell marked
    trusted or not (``metadata.trusted``, from the signature store), as a client reads it.

    :raises errors.NotFound: no such notebook. :raises errors.Invalid: not a notebook.
    """
    model = offload(contents.get, path, type="notebook")
    model = contents.finish_get(model)
    nb: dict[str, Any] = model["content"]
    ensure_cell_ids(nb)
    return nb


def ensure_cell_ids(nb: dict[str, Any]) -> None:
    """Give every cell an id, in place, as nbformat 4.5 requires: a notebook of an older minor
    format is brought to 4.5, and a cell without an id or with one used before it gets a new one.

    The new ids are derived from the cell's place (the first 8 hex digits of a hash, as long as
    nbformat's random ones), not drawn at random: the same file gives the same ids whenever it
    is read, so a run created now names the cells it will find when it starts.
    """
    cells = nb.get("cells")
    if not isinstance(cells, list):
        return
    if not isinstance(nb.get("nbformat_minor"), int) or nb["nbformat_minor"] < 5:
        nb["nbformat_minor"] = 5
    seen: set[str] = set()
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            continue
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not cell_id or cell_id in seen:
            salt = 0
            while True:
                cell_id = hashlib.sha256(f"{index}:{salt}".encode()).hexdigest()[:8]
                if cell_id not in seen:
                    break
                salt += 1
            cell["id"] = cell_id
        seen.add(cell_id)


def offload(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking file work in gevent's thread pool (inline where threads are not patched)."""
    if not monkey.is_module_patched("threading"):
        return fn(*args, **kwargs)
    ok, value = gevent.get_hub().threadpool.apply(_capture, (fn, args, kwargs))
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def _capture(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, Any]:
    try:
        return True, fn(*args, **kwargs)
    except Exception as exc:  # re-raised in the calling greenlet
        return False, exc


class RunDocument:
    """The notebook a run executes, written to disk as it changes.

    :param path: the notebook, read now (``load_notebook``).
    :param output_path: where the executed copy goes; None: `path` itself (a run in place).
    :param save_interval: seconds between saves while outputs come in.
    :param max_output_bytes: a cell's outputs written in the file, in bytes.
    :raises errors.NotFound, errors.Invalid: `path` is not a readable notebook.
    """

    def __init__(self, contents: ContentsManager, path: str, output_path: str | None, *, save_interval: float,
                 max_output_bytes: int, run_id: str) -> None:
        self.contents = contents
        self.path = normalize_api_path(path)
        self.output_path = normalize_api_path(output_path) if output_path is not None else None
        self.target = self.output_path if self.output_path is not None else self.path
        self.save_interval = save_interval
        self.max_output_bytes = max_output_bytes
        self.run_id = run_id
        self.notebook: dict[str, Any] = load_notebook(contents, self.path)
        #: The ids of the cells this run has started (whose outputs are the run's).
        self.executed: set[str] = set()
        #: The last save's failure, if it failed (the run reports it).
        self.save_error: errors.NotebookError | None = None
        self.closed = False
        self._started: dict[str, float] = {}
        self._dirty = False
        self._urgent = Event()
        self._last_save = 0.0
        self._saver: gevent.Greenlet[Any, Any] | None = None
        self._key = (contents.root.os_root, self.path)
        if self.output_path is None:
            _IN_PLACE[self._key] = self

    # -- what the run tells it -----------------------------------------------------------------

    def cell(self, cell_id: str) -> dict[str, Any] | None:
        """The cell `cell_id` of ``notebook``, or None (never there, or deleted by the user)."""
        for cell in self.notebook.get("cells", []):
            if isinstance(cell, dict) and cell.get("id") == cell_id:
                return cell
        return None

    def cell_started(self, cell_id: str) -> None:
        """The cell starts: its outputs and count are cleared, its execution marked running."""
        now = time.time()
        self._started[cell_id] = now
        self.executed.add(cell_id)
        cell = self.cell(cell_id)
        if cell is None:
            return
        cell["outputs"] = []
        cell["execution_count"] = None
        # The code runs for the user who asked for the run: its outputs are as trusted as
        # those of code they run in the browser (the signature is written with the save).
        metadata = cell.setdefault("metadata", {})
        metadata["trusted"] = True
        _execution(cell)["execution"] = {"start": iso_utc(now), "end": None, "duration": None,
                                         "status": "running", "run_id": self.run_id}
        self._save_soon(urgent=False)

    def cell_output_changed(self, cell_id: str, outputs: list[dict[str, Any]]) -> None:
        """The cell's outputs so far (nbformat outputs, the whole list)."""
        cell = self.cell(cell_id)
        if cell is None:
            return
        cell["outputs"] = list(outputs)
        self._save_soon(urgent=False)

    def cell_finished(self, cell_id: str, execution_count: int | None, outputs: list[dict[str, Any]],
                      status: str) -> None:
        """The cell ended with `status` ("ok", "error" or "aborted"); saved as soon as can be."""
        now = time.time()
        cell = self.cell(cell_id)
        if cell is None:
            return
        started = self._started.get(cell_id, now)
        cell["outputs"] = list(outputs)
        cell["execution_count"] = execution_count
        _execution(cell)["execution"] = {"start": iso_utc(started), "end": iso_utc(now),
                                         "duration": round(now - started, 6), "status": status,
                                         "run_id": self.run_id}
        self._save_soon(urgent=True)

    def save_now(self) -> None:
        """Ask for a save as soon as the one in flight (if any) is done, e.g. after the run
        injected parameters: the copy at ``output_path`` exists from the run's start."""
        self._save_soon(urgent=True)

    def close(self) -> None:
        """The last save (waited for), and the document leaves the registry. Safe to call twice.

        A failure of that save is left in ``save_error``.
        """
        if self.closed:
            return
        self._dirty = True
        self._urgent.set()
        try:
            saver = self._saver
            if saver is None:
                saver = self._saver = gevent.spawn(self._save_loop)
            saver.join()
        finally:
            self.closed = True
            if _IN_PLACE.get(self._key) is self:
                del _IN_PLACE[self._key]

    # -- saving --------------------------------------------------------------------------------

    def _save_soon(self, *, urgent: bool) -> None:
        if self.closed:
            return
        self._dirty = True
        if urgent:
            self._urgent.set()
        if self._saver is None:
            self._saver = gevent.spawn(self._save_loop)

    def _save_loop(self) -> None:
        """Save while there are changes: at once when urgent, else once `save_interval` has
        passed since the last save. One save at a time: changes during a save make the next."""
        try:
            while self._dirty:
                wait = self._last_save + self.save_interval - time.monotonic()
                if wait > 0 and not self._urgent.is_set():
                    self._urgent.wait(wait)
                self._urgent.clear()
                self._save_once()
        finally:
            self._saver = None

    def _save_once(self) -> None:
        self._dirty = False
        # A copy, taken now: the save runs in a thread while the run goes on changing
        # `notebook`, and the contents manager normalises what it is given in place.
        snapshot = orjson.loads(orjson.dumps(self._for_disk()))
        try:
            model, _ = offload(self.contents.save, {"type": "notebook", "content": snapshot}, self.target)
            self.contents.finish_save(model)
            self.save_error = None
        except errors.NotebookError as exc:
            self.save_error = exc
            log.warning("run %s could not save %s: %s", self.run_id, self.target, exc.message)
        finally:
            self._last_save = time.monotonic()

    def _for_disk(self) -> dict[str, Any]:
        """What is written: ``notebook`` as it is."""
        return self.notebook


def _execution(cell: dict[str, Any]) -> dict[str, Any]:
    """The cell's ``metadata.flask_notebook`` (made if missing)."""
    metadata = cell.setdefault("metadata", {})
    ours = metadata.get("flask_notebook")
    if isinstance(ours, dict):
        return ours
    fresh: dict[str, Any] = {}
    metadata["flask_notebook"] = fresh
    return fresh
