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
the ids. Open documents are registered by (contents root, the path they write: the notebook
for a run in place, else the output path) while they are open (``writing``), for that merge
to find.

A user's save of a notebook that a run writes (in place, or its output copy) goes through
``save_user_version``:
merged by cell id (``runmerge``: the user's sources, order, metadata and new cells, the run's
outputs, counts and timing), and from then on the user's version is what the run writes its
outputs into. The run's saves and the user's hold one lock per document (a gevent lock: both
come from greenlets of the server's loop; the file work itself is offloaded under it), so
neither writes a version made before the other's was written. The bytes each wrote are
remembered (``known_hashes``), so a browser whose ``If-Match`` names one of them is not told
the file changed: the run changed it, and the merge keeps both parts. That holds for the
first save after the run too (``finished_run``, ``save_after_run``): a page that was open
during the run and saves later is no conflict either, as long as nothing but the run wrote
the file since; its save is merged with the outputs the run left in the file.

Each executed cell's outputs are kept bounded (``runoutputs.BoundedOutputs``): what is
written of a cell is at most ``max_output_bytes``, then a notice; the run's event stream,
which is not written here, carries everything.

Nothing here knows HTTP or the run's queue: ``core.runs`` drives it.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import gevent
import gevent.lock
import orjson
from gevent.event import Event

from . import errors, notebooks
from .contents import ContentsManager
from .fileio import offload
from .models import ContentsModel
from .paths import iso_utc, normalize_api_path
from .runmerge import CellResult, METADATA_KEY, adopt_ids, overlay
from .runoutputs import BoundedOutputs

log = logging.getLogger(__name__)

#: Open documents of runs, by (contents root, the api path they write).
_OPEN: dict[tuple[str, str], RunDocument] = {}
#: What runs that ended left for the next save of the notebook they wrote, by (root, path).
_FINISHED: dict[tuple[str, str], Finished] = {}
#: How many of those are kept (the oldest go first): a few hashes each.
FINISHED_KEPT = 256
#: How many hashes of its own saves a document remembers (a save a second, for hours).
HASHES_KEPT = 1024


@dataclass
class Finished:
    """A run that ended: the versions of the file it wrote (and, in place, read), and its last."""

    run_id: str
    known_hashes: set[str]
    last_hash: str | None


def finished_run(contents: ContentsManager, path: str) -> Finished | None:
    """What the last run that wrote `path` left, until the file's next save through us."""
    return _FINISHED.get((contents.root.os_root, normalize_api_path(path)))


def save_after_run(contents: ContentsManager, finished: Finished, model: dict[str, Any],
                   path: str) -> tuple[ContentsModel, bool]:
    """Save a client's notebook model that was read before or during the run `finished`,
    merged with what the run left in the file: the outputs, counts and timing of the cells
    whose ``metadata.flask_notebook.execution`` names the run. Blocking (a worker thread);
    the record is used up (the next save is an ordinary one).

    :raises errors.NotebookError: as ``ContentsManager.save``.
    """
    _FINISHED.pop((contents.root.os_root, normalize_api_path(path)), None)
    content = model.get("content")
    if model.get("type") != "notebook" or not isinstance(content, dict) or notebooks.save_problem(content):
        return contents.save(model, path)
    on_disk: dict[str, Any] = contents.get(path, type="notebook")["content"]
    owned: dict[str, CellResult] = {}
    for cell in on_disk.get("cells", []):
        ours = cell.get("metadata", {}).get(METADATA_KEY) if isinstance(cell, dict) else None
        execution = ours.get("execution") if isinstance(ours, dict) else None
        if isinstance(execution, dict) and execution.get("run_id") == finished.run_id and \
                cell.get("cell_type") == "code" and isinstance(cell.get("id"), str):
            owned[cell["id"]] = CellResult(outputs=cell.get("outputs", []), execution_count=cell.get("execution_count"),
                                           execution=execution)
    notebooks.normalize(content)
    merged = overlay(adopt_ids(content, on_disk), owned)
    _trust(merged, owned)
    return contents.save({**model, "content": merged}, path)


def _trust(nb: dict[str, Any], cell_ids: Any) -> None:
    """Mark the run's cells trusted: its outputs are as trusted as its own saves make them."""
    for cell_id in cell_ids:
        cell = _find(nb, cell_id)
        if cell is not None and cell.get("cell_type") == "code":
            cell["metadata"]["trusted"] = True


def writing(contents: ContentsManager, path: str) -> RunDocument | None:
    """The open document of the run writing the notebook at `path` of `contents` (in place, or
    as its output path), if any."""
    return _OPEN.get((contents.root.os_root, normalize_api_path(path)))


def load_notebook(contents: ContentsManager, path: str) -> dict[str, Any]:
    """The notebook at `path`, with cell ids (``ensure_cell_ids``) and each code cell marked
    trusted or not (``metadata.trusted``, from the signature store), as a client reads it.

    :raises errors.NotFound: no such notebook. :raises errors.Invalid: not a notebook.
    """
    return _load(contents, path)[0]


def _load(contents: ContentsManager, path: str) -> tuple[dict[str, Any], str | None]:
    """``load_notebook``, and the sha256 of the bytes read."""
    model = offload(contents.get, path, type="notebook")
    model = contents.finish_get(model)
    nb: dict[str, Any] = model["content"]
    ensure_cell_ids(nb)
    return nb, model.pop("_sha256", None)


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
        self.notebook, digest = _load(contents, self.path)
        if self.output_path is not None:
            digest = None  # the file it read is not the one it writes
        #: sha256 of the versions of its target this document read or wrote: a client that
        #: read one of them is no conflict (``save_user_version`` merges its save).
        self.known_hashes: set[str] = {digest} if digest else set()
        self._recent_hashes: list[str] = []
        self.last_hash: str | None = digest
        #: What is written of each executed cell's outputs, bounded.
        self._outputs: dict[str, BoundedOutputs] = {}
        #: display id -> the executed cells that showed it (where in the cell's outputs, its
        #: ``BoundedOutputs`` knows): a later cell's ``update_display`` reaches them all.
        self._displays: dict[str, set[str]] = {}
        self._lock = gevent.lock.RLock()
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
        self._key = (contents.root.os_root, self.target)
        _OPEN[self._key] = self
        before = _FINISHED.pop(self._key, None)
        if before is not None:  # a page open since before the last run is no conflict either
            self.known_hashes |= before.known_hashes

    # -- what the run tells it -----------------------------------------------------------------

    def cell(self, cell_id: str) -> dict[str, Any] | None:
        """The cell `cell_id` of ``notebook``, or None (never there, or deleted by the user)."""
        for cell in self.notebook.get("cells", []):
            if isinstance(cell, dict) and cell.get("id") == cell_id:
                return cell
        return None

    def set_language_info(self, language_info: dict[str, Any]) -> None:
        """The kernel's ``language_info`` (from its ``kernel_info_reply``) goes into the notebook's
        metadata whole, as papermill and Notebook 7 write it."""
        with self._lock:
            metadata = self.notebook.setdefault("metadata", {})
            if metadata.get("language_info") != language_info:
                metadata["language_info"] = copy.deepcopy(language_info)
                self._save_soon(urgent=False)

    def cell_started(self, cell_id: str) -> None:
        """The cell starts: its outputs and count are cleared, its execution marked running."""
        now = time.time()
        self._started[cell_id] = now
        self.executed.add(cell_id)
        cell = self.cell(cell_id)
        if cell is None:
            return
        self._outputs[cell_id] = BoundedOutputs(self.max_output_bytes)
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
        """The cell's outputs so far (nbformat outputs, the whole list). Each call measures
        the whole list again: as outputs arrive, ``output``, ``clear_output`` and
        ``update_display`` cost only what is new."""
        self._measure(cell_id, outputs)
        if self.cell(cell_id) is not None:
            self._save_soon(urgent=False)

    def output(self, cell_id: str, output: dict[str, Any]) -> None:
        """An output of the cell (the ``output`` event's: an nbformat output; a display's id,
        for ``update_display``, in its ``transient.display_id``)."""
        display_id = _display_id(output)
        self._bound(cell_id).add(output, display_id=display_id)
        if display_id is not None:
            self._displays.setdefault(display_id, set()).add(cell_id)
        self._save_soon(urgent=False)

    def clear_output(self, cell_id: str, wait: bool) -> None:
        """``clear_output`` in the cell: now, or (`wait`) at its next output."""
        self._bound(cell_id).clear(wait=wait)
        self._save_soon(urgent=False)

    def update_display(self, output: dict[str, Any]) -> None:
        """``update_display_data`` (the ``update_display`` event's output, with
        ``transient.display_id``): every executed cell's outputs showing that display, this
        cell's or an earlier one's."""
        display_id = _display_id(output)
        if display_id is None:
            return
        updated = False
        for cell_id in self._displays.get(display_id, ()):
            bound = self._outputs.get(cell_id)
            if bound is not None and bound.update_display(display_id, output.get("data"), output.get("metadata")):
                updated = True
        if updated:
            self._save_soon(urgent=False)

    def _measure(self, cell_id: str, outputs: list[dict[str, Any]]) -> None:
        """The cell's bounded outputs made anew from `outputs` (its displays' ids in their
        ``transient``)."""
        bound = self._outputs[cell_id] = BoundedOutputs(self.max_output_bytes)
        for output in outputs:
            display_id = _display_id(output)
            bound.add(output, display_id=display_id)
            if display_id is not None:
                self._displays.setdefault(display_id, set()).add(cell_id)

    def _bound(self, cell_id: str) -> BoundedOutputs:
        bound = self._outputs.get(cell_id)
        if bound is None:
            bound = self._outputs[cell_id] = BoundedOutputs(self.max_output_bytes)
        return bound

    def cell_finished(self, cell_id: str, execution_count: int | None, outputs: list[dict[str, Any]],
                      status: str) -> None:
        """The cell ended with `status` ("ok", "error" or "aborted"); saved as soon as can be."""
        now = time.time()
        cell = self.cell(cell_id)
        if cell is None:
            return
        started = self._started.get(cell_id, now)
        # Measured once more, whole (once per cell): the final list may hold what no event
        # carried (the error the run adds for a timeout, a cancel or a dead kernel). Its
        # displays' ids (``transient``) are kept, for later cells' updates.
        self._measure(cell_id, outputs)
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
            if _OPEN.get(self._key) is self:
                del _OPEN[self._key]
                _FINISHED[self._key] = Finished(self.run_id, set(self.known_hashes), self.last_hash)
                while len(_FINISHED) > FINISHED_KEPT:
                    del _FINISHED[next(iter(_FINISHED))]

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
        with self._lock:
            self._dirty = False
            # A copy, taken now: the save runs in a thread while the run goes on changing
            # `notebook`, and the contents manager normalises what it is given in place.
            snapshot = _copy(self._for_disk())
            try:
                model, _ = self._write({"type": "notebook", "content": snapshot})
                self.contents.finish_save(model)
                self.save_error = None
            except errors.NotebookError as exc:
                self.save_error = exc
                log.warning("run %s could not save %s: %s", self.run_id, self.target, exc.message)
            finally:
                self._last_save = time.monotonic()

    def _write(self, model: dict[str, Any]) -> tuple[ContentsModel, bool]:
        """Save `model` to the target (offloaded), and remember the hash of what is there
        now. Under the lock: no other save of ours comes between the two."""
        saved, created = offload(self.contents.save, model, self.target)
        digest = offload(self.contents.file_hash, self.target)
        if digest:
            self.last_hash = digest
            self.known_hashes.add(digest)
            self._recent_hashes.append(digest)
            if len(self._recent_hashes) > HASHES_KEPT:
                self.known_hashes.discard(self._recent_hashes.pop(0))
        return saved, created

    def _for_disk(self) -> dict[str, Any]:
        """What is written: ``notebook``, each executed cell with its bounded outputs."""
        cells = {cell.get("id"): cell for cell in self.notebook.get("cells", []) if isinstance(cell, dict)}
        for cell_id, bound in self._outputs.items():
            cell = cells.get(cell_id)
            if cell is not None and cell.get("cell_type") == "code":
                cell["outputs"] = bound.saved()
        return self.notebook

    # -- the user's saves ----------------------------------------------------------------------

    def save_user_version(self, model: dict[str, Any]) -> tuple[ContentsModel, bool]:
        """Save a client's notebook model to this run's notebook, merged with the run's part
        (``runmerge.overlay``): returns what ``ContentsManager.save`` returns. The merged
        version is the document from now on: the run's later saves keep the user's sources,
        order, metadata and new cells; a cell the user deleted is no longer written to.

        A model that is no notebook (or that the contents manager will refuse) is saved as
        it is, for the contents manager to judge; the run's next save writes its document.

        :raises errors.NotebookError: as ``ContentsManager.save``.
        """
        content = model.get("content")
        if model.get("type") != "notebook" or not isinstance(content, dict) or notebooks.save_problem(content):
            with self._lock:
                return self._write(model)
        with self._lock:
            notebooks.normalize(content)
            user = adopt_ids(content, self.notebook)
            self._for_disk()
            merged = overlay(user, self._owned())
            _trust(merged, self.executed)
            self.notebook = merged
            saved, created = self._write({**model, "content": _copy(merged)})
            self.contents.finish_save(saved)
            return saved, created

    def _owned(self) -> dict[str, CellResult]:
        """The run's part of each executed cell still in the document."""
        owned: dict[str, CellResult] = {}
        for cell_id in self.executed:
            cell = self.cell(cell_id)
            if cell is None or cell.get("cell_type") != "code":
                continue
            ours = cell.get("metadata", {}).get(METADATA_KEY)
            execution = ours.get("execution") if isinstance(ours, dict) else None
            owned[cell_id] = CellResult(outputs=cell.get("outputs", []), execution_count=cell.get("execution_count"),
                                        execution=execution if isinstance(execution, dict) else {})
        return owned


def _find(nb: dict[str, Any], cell_id: str) -> dict[str, Any] | None:
    for cell in nb.get("cells", []):
        if isinstance(cell, dict) and cell.get("id") == cell_id:
            return cell
    return None


def _display_id(output: Any) -> str | None:
    """The display an output shows or updates (its ``transient.display_id``), if any."""
    transient = output.get("transient") if isinstance(output, dict) else None
    display_id = transient.get("display_id") if isinstance(transient, dict) else None
    return display_id if isinstance(display_id, str) else None


def _copy(nb: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a notebook, fast; the slow way for what orjson cannot encode (an
    integer past 64 bits, a lone surrogate)."""
    try:
        return orjson.loads(orjson.dumps(nb))  # type: ignore[no-any-return]
    except (TypeError, orjson.JSONEncodeError):
        return copy.deepcopy(nb)


def _execution(cell: dict[str, Any]) -> dict[str, Any]:
    """The cell's ``metadata.flask_notebook`` (made if missing)."""
    metadata = cell.setdefault("metadata", {})
    ours = metadata.get("flask_notebook")
    if isinstance(ours, dict):
        return ours
    fresh: dict[str, Any] = {}
    metadata["flask_notebook"] = fresh
    return fresh
