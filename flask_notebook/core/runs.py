"""Runs: notebooks executed by the server, cell after cell, their outputs saved as they come.

A run executes a notebook's code cells (all, or those named) on a kernel: the caller's
(``kernel_id``), or a new one of its own, started when the run is created (so the kernel
limits answer then) and shut down when it ends. Each cell goes through the REST execution
engine (``core.execute``), whose events become the run's; the notebook on disk follows
through a ``RunDocument`` (``core.rundoc``).

The cells are sent in batches (``BATCH``) as one pipeline: the kernel queues them and runs
one after the other with no round trip between them, and a cell starts (``cell_started``,
its timeout) when the kernel starts it. A failing cell ends the run: the kernel aborts the
cells queued behind it (``stop_on_error``; see ``core.execute`` for what ipykernel does),
which are then left alone, in the file and in the events. A batch is sent only once the one
before has ended: a request sent while a cell of ours may still fail could arrive after the
kernel's abort and run anyway. A cancel interrupts the running cell, whose
``KeyboardInterrupt`` aborts the queued ones the same way. With ``allow_errors`` the cells
are sent with ``stop_on_error`` false, so nothing would abort the queued ones on a cancel:
such a run sends one cell at a time.

Runs of one kernel execute one after another, in the order they came; at most
``max_concurrent`` runs execute at once across kernels, the others wait, queued.

A ``Run`` (``core.runrecord``) is the public record and its events; it changes only through
its transitions. Run records are kept in the database (``core.runhistory``) and loaded at
start-up.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from typing import Any

import gevent
from gevent.lock import BoundedSemaphore

from . import errors, parameters, rundoc
from .contents import ContentsManager
from .execute import Execution, Executions, Options
from .kernelrecords import HeldElsewhere, reachable
from .kernels import Kernel, KernelRegistry
from .kernelspecs import Kernelspecs
from .metrics import Metrics
from .paths import normalize_api_path
from .runhistory import RunStore, expired
from .runrecord import STATUSES, Run, RunRequest, parse_request
from .store import Store, runs_table
from .users import User

log = logging.getLogger(__name__)
__all__ = ["Runs", "Run", "RunRequest", "STATUSES", "parse_request"]

#: Seconds a finished run keeps its events (outputs included) in memory; then only ``done``.
EVENTS_KEPT = 600.0
#: Seconds ``close`` gives running runs to end once cancelled (an interrupt, the last save).
CLOSE_GRACE = 10.0
#: How many cells of a run are sent to the kernel together (the sources are read then).
BATCH = 32
#: Seconds a run waits for its kernel's kernel_info reply, for the ``language_info`` it writes
#: into the notebook (a kernel that has not answered by then: the run goes on without).
LANGUAGE_INFO_WAIT = 5.0


class Runs:
    """Every run of one app: creation, the queues and the cap, execution, history."""

    def __init__(self, *, kernels: KernelRegistry, kernelspecs: Kernelspecs, executions: Executions,
                 store: Store, history_runs: int, history_age: float, max_concurrent: int,
                 save_interval: float, max_output_bytes: int, input_timeout: float, ready_timeout: float = 60,
                 import_dir: str | None = None) -> None:
        """:param import_dir: where an older flask-notebook kept run records, one JSON file
            each: they are moved into `store` first (``RunStore.import_files``)."""
        self.kernels = kernels
        self.kernelspecs = kernelspecs
        self.executions = executions
        records = kernels.records
        self.store = RunStore(store, replica=records.replica if records is not None else None,
                              url=records.url if records is not None else None)
        self.history_runs = history_runs
        self.history_age = history_age
        self.save_interval = save_interval
        self.max_output_bytes = max_output_bytes
        self.input_timeout = input_timeout
        self.ready_timeout = ready_timeout
        self.closed = False
        self._runs: dict[str, Run] = {}
        self._queues: dict[str, deque[Run]] = {}
        self._workers: dict[str, gevent.Greenlet[Any, Any]] = {}
        self._slots = BoundedSemaphore(max_concurrent)
        #: Where ended runs are counted, if anywhere.
        self.metrics: Metrics | None = None
        #: The kernels of runs the previous server left running (kernel id -> whether it was
        #: the run's own), which may have outlived it (``stop_orphans``).
        self._orphans: dict[str, bool] = {}
        self._load(import_dir)

    # -- reading -----------------------------------------------------------------------------

    def get(self, run_id: str, *, user: User | None = None) -> Run:
        """Replicas: another replica's run, from its record; one that replica still executes
        is its to answer for (`HeldElsewhere`), and one whose replica is gone is stopped.

        :raises errors.NotFound: no such run, or one `user` may not see (the same message).
        :raises HeldElsewhere: another replica executes it.
        """
        run = self._runs.get(run_id)
        if run is None:
            run = self._elsewhere(run_id, user)
        if run is None or (user is not None and not user.may_see(run.owner)):
            raise errors.NotFound(f"No such run: {run_id}")
        return run

    def _elsewhere(self, run_id: str, user: User | None) -> Run | None:
        record = self.store.find(run_id)
        if record is None or not self.store.elsewhere(record) or (user is not None
                                                                   and not user.may_see(record.get("owner"))):
            return None
        try:
            run = Run.from_record(record)
        except (KeyError, TypeError, ValueError):
            return None
        if run.done:
            return run
        if reachable(str(record["url"])):
            raise HeldElsewhere(f"run {run_id}", str(record["url"]), str(record.get("replica")))
        self._stopped_elsewhere(run, str(record.get("replica")))
        return run

    def _stopped_elsewhere(self, run: Run, replica: str) -> None:
        """`run` of `replica`, which is gone: stopped with it (``ServerStopped``), as a server's
        own runs are when it starts again; its kernel, if it was in the run's cell, is stopped
        there (interrupted, or shut down if it was the run's own)."""
        running = run.status == "running"
        if not run.finish("failed", {"ename": "ServerStopped",
                                     "evalue": f"The server running it (replica {replica}) stopped while the run "
                                               f"was {run.status}", "cell_id": run.current_cell}):
            return
        self._runs[run.id] = run  # its record is this replica's now: in its history
        self.store.write(run.id, run.record())
        log.warning("run %s of %s: replica %s, which ran it, is gone: the run is stopped", run.id, run.path, replica)
        if run.kernel_id and running:
            gevent.spawn(self._stop_left, run.kernel_id, run.own_kernel)

    def _stop_left(self, kernel_id: str, own: bool) -> None:
        """Stop the kernel of a run whose replica is gone, still in the run's cell: this
        replica takes it over if nobody has (``KernelRegistry.held``)."""
        try:
            if self.kernels.held(kernel_id) is None:
                return
        except HeldElsewhere as exc:  # another live replica holds it: its clients stop it
            log.info("kernel %s, left in a run by a replica that is gone, is held by %s", kernel_id, exc.replica)
            return
        self._stop_in_cell(kernel_id, own, "a replica that is gone")

    def kernel_taken_over(self, kernel: Kernel, replica: str) -> None:
        """This replica has taken `kernel` over from `replica`, which is gone: the runs that
        replica executed on it are stopped (``_stopped_elsewhere``)."""
        try:
            records = self.store.load()
        except Exception:
            log.exception("the runs of kernel %s could not be read", kernel.id)
            return
        for record in records:
            if record.get("kernel_id") != kernel.id or record.get("replica") != replica \
                    or not self.store.elsewhere(record):
                continue
            try:
                run = Run.from_record(record)
            except (KeyError, TypeError, ValueError):
                continue
            if not run.done:
                self._stopped_elsewhere(run, replica)

    def list_runs(self, *, user: User | None = None, path: str | None = None, status: str | None = None,
                  limit: int | None = None, offset: int = 0) -> tuple[list[Run], int]:
        """The runs `user` may see (filtered by notebook `path` and `status`), newest first, one
        page of them, and how many there are in all."""
        self._purge()
        wanted = normalize_api_path(path) if path is not None else None
        found = [run for run in [*self._runs.values(), *self._others(status)]
                 if (user is None or user.may_see(run.owner)) and (wanted is None or run.path == wanted)
                 and (status is None or run.status == status)]
        found.sort(key=lambda run: run.created, reverse=True)
        return found[offset: None if limit is None else offset + limit], len(found)

    def _others(self, status: str | None) -> list[Run]:
        """Replicas: the other replicas' runs (with `status`), from their records; none when
        the store cannot be read (logged), nor without a gateway (no replicas then: their
        kernels are the gateway's)."""
        if self.kernels.gateway is None:
            return []
        try:
            where: dict[str, Any] = {"status": status} if status else {}
            records = self.store.store.records(runs_table, **where)
        except Exception:
            log.exception("the other replicas' runs could not be read")
            return []
        others = []
        for record in records:
            if not isinstance(record, dict) or str(record.get("id")) in self._runs or not self.store.elsewhere(record):
                continue
            try:
                others.append(Run.from_record(record))
            except (KeyError, TypeError, ValueError):
                continue
        return others

    # -- creating --------------------------------------------------------------------------------

    def create(self, request: RunRequest, *, contents: ContentsManager, cwd: str, owner: str | None,
               user: User | None = None, limited: bool = True) -> Run:
        """Check `request` against its notebook and kernel, start its kernel if it needs one of
        its own, and queue it.

        :param contents: the caller's files (the notebook's path is in them).
        :param cwd: where a new kernel starts. :param owner: whose run (and kernel) it is.
        :raises errors.NotFound: no such notebook; `kernel_id` is not a kernel `user` may see.
        :raises errors.Invalid: not a notebook; a cell id it does not have; parameters for a
            kernel language without a translator; an unusable `output_path`; no such kernelspec.
        :raises errors.Conflict: another run executes the notebook in place on another kernel.
        :raises: what ``KernelRegistry.start_kernel`` raises (limits, quotas).
        """
        if self.closed:
            raise errors.Unavailable("The server is shutting down", reason="shutting down")
        nb = rundoc.load_notebook(contents, request.path)
        if request.output_path is not None:
            self._check_output_path(contents, request)
        kernel: Kernel | None = None
        if request.kernel_id is not None:
            kernel = self.kernels.get_kernel(request.kernel_id, user=user)
            kernel_name = kernel.name
        else:
            kernel_name = request.kernel_name or _notebook_kernel_name(nb) or self.kernelspecs.default_name
        language = self._language(kernel_name, named=request.kernel_name is not None or kernel is not None)
        values = parameters.check(request.parameters or {}, language)
        request.parameters = values
        injected = None
        if values:
            injected = uuid.uuid4().hex[:8]
            parameters.inject(nb, values, cell_id=injected)
        cells = _cells_to_run(nb, request.cells, injected)
        self._check_not_run_elsewhere(contents, request)
        run = Run(request, kernel_name=kernel_name, cells=cells, owner=owner, injected_cell=injected)
        run.contents = contents
        if kernel is None:
            kernel = self.kernels.start_kernel(kernel_name, cwd=cwd, owner=owner, limited=limited)
            run.own_kernel = True
            run.kernel_id = kernel.id
        run.kernel = kernel
        run.accept()
        self._runs[run.id] = run
        self.store.write(run.id, run.record())
        key = kernel.id
        self._queues.setdefault(key, deque()).append(run)
        if key not in self._workers:
            self._workers[key] = gevent.spawn(self._work, key)
        log.info("run %s of %s queued on kernel %s (%d cells)", run.id, run.path, kernel.id, len(cells))
        return run

    def _check_output_path(self, contents: ContentsManager, request: RunRequest) -> None:
        output_path = request.output_path or ""
        if output_path == request.path:
            raise errors.Invalid("'output_path' is the notebook itself: leave it out to run in place",
                                 reason="bad field: output_path")
        if not output_path.endswith(".ipynb"):
            raise errors.Invalid("'output_path' must name a notebook (.ipynb)", reason="bad field: output_path")
        parent = output_path.rpartition("/")[0]
        try:
            hidden = contents.root.refuse_hidden(output_path)
            usable = not hidden and contents.dir_exists(parent) and not contents.dir_exists(output_path)
        except errors.NotFound:
            usable = False
        if not usable:
            raise errors.Invalid(f"'output_path' {output_path!r} is not a notebook path in an existing folder "
                                 "of your files", reason="bad field: output_path")

    def _language(self, kernel_name: str, *, named: bool) -> str | None:
        try:
            spec = self.kernelspecs.get_spec(kernel_name)
        except errors.NotFound:
            how = "" if named else " (the notebook's kernelspec): name another with 'kernel_name'"
            raise errors.Invalid(f"No kernelspec {kernel_name!r} is installed{how}",
                                 reason="bad field: kernel_name") from None
        language = spec["spec"].get("language")
        return language if isinstance(language, str) else None

    def _check_not_run_elsewhere(self, contents: ContentsManager, request: RunRequest) -> None:
        """Two runs writing one notebook in place from two kernels would overwrite each other's
        outputs: a second one must use the same kernel (and wait its turn) or an output path;
        nor may a run's output path be a notebook another unfinished run writes."""
        root = contents.root.os_root
        for other in self._runs.values():
            if (request.output_path is None and not other.done and other.output_path is None
                    and other.path == request.path and other.root == root and other.kernel_id != request.kernel_id):
                raise errors.Conflict(f"Run {other.id} is executing {request.path} in place on another kernel: "
                                      "run on its kernel (kernel_id), give an output_path, or wait for it",
                                      reason="run in progress")
        target = request.output_path
        for other in self._runs.values():
            if target is not None and not other.done and other.root == root and target == (other.output_path or other.path):
                raise errors.Conflict(f"Run {other.id} is writing {target}: choose another output_path, or wait "
                                      "for it", reason="run in progress")

    def writer_of(self, contents: ContentsManager, path: str) -> Run | None:
        """The unfinished run that writes the notebook at `path` of `contents` (in place, or
        as its output copy), if any: deleting or renaming it meanwhile would not stick (the
        run's next save would write it again)."""
        root, path = contents.root.os_root, normalize_api_path(path)
        for run in self._runs.values():
            if not run.done and run.root == root and (run.output_path or run.path) == path:
                return run
        return None

    # -- cancelling, input ---------------------------------------------------------------------------

    def cancel(self, run: Run, *, error: dict[str, Any] | None = None) -> None:
        """Cancel a queued run (it ends now) or a running one (its cell is interrupted; it ends
        within seconds).

        :raises errors.Conflict: the run has finished.
        """
        if run.done:
            raise errors.Conflict("The run has finished", reason="run finished")
        error = error or {"ename": "Cancelled", "evalue": "The run was cancelled", "cell_id": run.current_cell}
        if run.status == "queued":
            if run.finish("cancelled", error):
                self._ended(run)
            return
        run.cancelling = error
        # The running cell first (interrupted), then those queued in the kernel behind it.
        for execution in [run.execution, *(sent for _, _, sent in run.sent)]:
            if execution is not None and not execution.done:
                self.executions.cancel(execution)

    def answer(self, run: Run, value: str) -> None:
        """Answer the pending ``input()`` of the run's current cell.

        :raises errors.Conflict: none is pending.
        """
        execution = run.execution
        if run.input_request is None or execution is None or execution.done:
            raise errors.Conflict(f"Run {run.id} is not waiting for input", reason="not waiting for input")
        self.executions.answer(execution, value)
        run.input_answered()

    # -- the queues ---------------------------------------------------------------------------------

    def _work(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                run = queue[0]
                if not run.done:
                    self._slots.acquire()
                    try:
                        if not run.done:
                            self._execute(run)
                    finally:
                        self._slots.release()
                queue.popleft()
        finally:
            del self._workers[key]
            if not queue:
                self._queues.pop(key, None)

    def _execute(self, run: Run) -> None:
        """Run every cell, then the last save, the kernel's shutdown (if the run's own) and the record."""
        kernel = run.kernel
        assert kernel is not None and run.contents is not None
        run.start(kernel.id)
        self.store.write(run.id, run.record())
        doc: rundoc.RunDocument | None = None
        status, error = "completed", None
        try:
            doc = rundoc.RunDocument(run.contents, run.path, run.output_path, save_interval=self.save_interval,
                                     max_output_bytes=self.max_output_bytes, run_id=run.id)
            if run.injected_cell is not None:
                parameters.inject(doc.notebook, run.parameters, cell_id=run.injected_cell)
            if run.output_path is not None or run.injected_cell is not None:
                doc.save_now()  # the executed copy (or the injected cell) is there from the start
            self._wait_ready(run, kernel)
            info = kernel.channels.wait_kernel_info(LANGUAGE_INFO_WAIT) if kernel.channels is not None else None
            if info is not None and isinstance(info.get("language_info"), dict):
                doc.set_language_info(info["language_info"])
            status, error = self._run_cells(run, doc, kernel)
        except errors.NotebookError as exc:
            status, error = "failed", {"ename": type(exc).__name__, "evalue": exc.message,
                                       "cell_id": run.current_cell}
        except Exception as exc:  # a bug must still end the run, not leave it running for ever
            log.exception("run %s failed", run.id)
            status, error = "failed", {"ename": "InternalError", "evalue": str(exc) or type(exc).__name__,
                                       "cell_id": run.current_cell}
        finally:
            if doc is not None:
                doc.close()
                if doc.save_error is not None and status != "failed":
                    status, error = "failed", {"ename": "SaveFailed", "evalue": doc.save_error.message,
                                               "cell_id": None}
            if run.cancelling is not None and status == "completed":
                status, error = "cancelled", run.cancelling
            if run.finish(status, error):
                self._ended(run)

    def _wait_ready(self, run: Run, kernel: Kernel) -> None:
        """Until the kernel answers (a new one is still starting): its start-up must not count
        toward the first cell's timeout, which the execution counts from its submission.

        :raises errors.Unavailable: it did not answer within the kernel_info timeout.
        """
        relay = kernel.channels
        deadline = time.monotonic() + self.ready_timeout
        while relay is not None and not relay.closed and run.cancelling is None and not relay.ready.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.Unavailable(f"The kernel did not answer within {self.ready_timeout:g} s",
                                         reason="kernel not ready")
            relay.ready.wait(min(left, 0.5))

    def _run_cells(self, run: Run, doc: rundoc.RunDocument, kernel: Kernel) -> tuple[str, dict[str, Any] | None]:
        """Execute the run's cells, a batch at a time; the run's end status and error."""
        batch = 1 if run.allow_errors else BATCH
        upcoming = deque(enumerate(run.cells))
        try:
            while True:
                if run.cancelling is not None:
                    return "cancelled", run.cancelling
                if not run.sent:
                    if not upcoming:
                        return "completed", None
                    self._send_batch(run, doc, kernel, upcoming, batch)
                    continue
                index, cell_id, execution = run.sent.popleft()
                if execution is None:
                    run.cell_skipped()
                    continue
                cell_status, cell_error = self._follow_cell(run, doc, cell_id, index, execution)
                if cell_status == "aborted" and run.cancelling is not None:
                    return "cancelled", {**run.cancelling, "cell_id": cell_id}
                if cell_error is not None and (not run.allow_errors or execution.began is None):
                    # (A cell that never began was refused by the kernel or lost with it: not
                    # an error of the notebook's code, which is what allow_errors lets by.)
                    return "failed", {**cell_error, "cell_id": cell_id}
        finally:
            # Those still queued in the kernel were aborted by it (the cell before failed or
            # was interrupted): they end here, and are interrupted if one starts after all.
            for _, _, execution in list(run.sent):
                if execution is not None and not execution.done:
                    self.executions.cancel(execution)
            run.sent.clear()
            run.execution = None

    def _send_batch(self, run: Run, doc: rundoc.RunDocument, kernel: Kernel, upcoming: deque[tuple[int, str]],
                    batch: int) -> None:
        """Send the next `batch` cells (their sources as they are now), in order, into ``run.sent``;
        a cell no longer in the notebook goes there as None, to be counted in its turn."""
        while upcoming and len(run.sent) < batch and run.cancelling is None:
            index, cell_id = upcoming.popleft()
            cell = doc.cell(cell_id)
            if cell is None or cell.get("cell_type") != "code":
                run.sent.append((index, cell_id, None))
                continue
            options = Options(code=str(cell.get("source", "")), allow_stdin=run.allow_stdin,
                              stop_on_error=not run.allow_errors, timeout=run.timeout)
            execution = self.executions.submit(kernel, options, default_timeout=False, pipeline=run.id)
            run.sent.append((index, cell_id, execution))
            if run.cancelling is not None:  # cancelled while it was being sent
                self.executions.cancel(execution)

    def _follow_cell(self, run: Run, doc: rundoc.RunDocument, cell_id: str, index: int,
                     execution: Execution) -> tuple[str, dict[str, Any] | None]:
        """Follow one cell's execution from when the kernel starts it, turning its events into
        the run's and the document's. Returns the cell's status ("ok", "error", "aborted") and
        its error, if any. A cell the kernel never started (aborted, or ended before it began)
        gets no event and is not touched in the document."""
        run.execution = execution
        execution.wait_until(lambda: execution.began is not None or execution.done)
        # A kernel killed at once by its cell can die before it says it began (its iopub thread
        # goes with it): that cell is still the one it died in, and says so.
        died_on_it = execution.began is None and (execution.error or {}).get("ename") == "DeadKernelError"
        if execution.began is None and not died_on_it:
            return _outcome(execution, run, False, self.input_timeout)
        run.cell_started(cell_id, index)
        doc.cell_started(cell_id)
        began = time.monotonic()
        input_deadline: float | None = None
        input_expired = False
        seen = 0
        while True:
            for number, name, payload in execution.events.since(seen):
                seen = number + 1
                if name == "output":
                    run.event("output", {"cell_id": cell_id, "output": payload})
                    doc.output(cell_id, payload)  # measured as it comes, for the file's bound
                elif name == "clear_output":
                    run.event("clear_output", {"cell_id": cell_id, "wait": payload["wait"]})
                    doc.clear_output(cell_id, payload["wait"])
                elif name == "update_display":
                    output = {"output_type": "display_data", "data": payload["data"], "metadata": payload["metadata"],
                              "transient": {"display_id": payload["display_id"]}}
                    run.event("update_display", {"cell_id": cell_id, "output": output})
                    # Every executed cell showing that display (an earlier one's too).
                    doc.update_display(output)
                elif name == "input_required":
                    run.ask_input(cell_id, str(payload.get("prompt", "")), bool(payload.get("password")))
                    input_deadline = time.monotonic() + self.input_timeout
            if execution.done:
                break
            if execution.status != "input_required":
                input_deadline = None
            wait = None if input_deadline is None else max(0.0, input_deadline - time.monotonic())
            if not execution.events.wait(wait) and input_deadline is not None and time.monotonic() >= input_deadline \
                    and execution.status == "input_required":
                input_expired = True
                self.executions.cancel(execution)
        run.execution = None
        # With their display ids: the document applies later cells' updates to them.
        outputs = execution.display_outputs()
        status, error = _outcome(execution, run, input_expired, self.input_timeout)
        # An error the kernel did not output itself (its death: DeadKernelError) goes in too,
        # so the cell says it did not finish.
        unsaid = error is not None and not any(o.get("output_type") == "error" for o in outputs)
        if error is not None and (input_expired or execution.status != "error" or unsaid):
            # Our own reason in the notebook, instead of the KeyboardInterrupt of the interrupt.
            # An unanswered input() ends either way: the interrupt's error reply may come back
            # before the cancel settles it (status "error", its output maybe not in yet).
            outputs = [o for o in outputs if not (o.get("output_type") == "error" and o.get("ename") == "KeyboardInterrupt")]
            outputs.append({"output_type": "error", "ename": error["ename"], "evalue": error["evalue"], "traceback": []})
        run.cell_finished(cell_id, status, execution.execution_count, [_nbformat(o) for o in outputs],
                          time.monotonic() - began)
        doc.cell_finished(cell_id, execution.execution_count, outputs, status)
        return status, error

    def _ended(self, run: Run) -> None:
        """A run has finished: its own kernel goes, its record is written, old ones are forgotten."""
        if run.own_kernel and run.kernel is not None:
            gevent.spawn(_shutdown_quietly, self.kernels, run.kernel.id)
        run.kernel = None
        if self.metrics is not None:  # counted before the write waits: the API says "ended" already
            self.metrics.run_ended(run)
        self.store.write(run.id, run.record())
        log.info("run %s of %s %s", run.id, run.path, run.status)
        self._purge()

    # -- history ------------------------------------------------------------------------------------

    def _purge(self) -> None:
        now = time.time()
        finished = [(run.finished or run.created, run.id) for run in self._runs.values() if run.done]
        gone = expired(finished, keep=self.history_runs, age=self.history_age, now=now)
        for run_id in gone:
            del self._runs[run_id]
        if gone:
            self.store.delete(*gone)
        for run in self._runs.values():
            if run.done and run.finished is not None and now - run.finished > EVENTS_KEPT:
                run.forget_events()

    def _load(self, import_dir: str | None) -> None:
        if import_dir is not None:
            self.store.import_files(import_dir)
        for record in self.store.load():
            if self.store.elsewhere(record):
                continue  # another replica's: it answers for it (``get``)
            try:
                run = Run.from_record(record)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("skipping the record of run %s: %s", record.get("id"), exc)
                continue
            if not run.done:
                # Its kernel was a child of the server and died with it (or, the caller's, was
                # shut down with it): nothing of the run is left to go on with. (With
                # NOTEBOOK_PERSIST_KERNELS the kernel may live on, still in the cell: ``stop_orphans``.)
                if run.status == "running" and run.kernel_id:
                    self._orphans[run.kernel_id] = run.own_kernel
                run.finish("failed", {"ename": "ServerStopped",
                                      "evalue": f"The server stopped while the run was {run.status}",
                                      "cell_id": run.current_cell})
                self.store.write(run.id, run.record())
            run.forget_events()
            self._runs[run.id] = run
        self._purge()

    def stop_orphans(self) -> None:
        """After the previous server's kernels are re-attached (``core.persistence``): a run of
        that server that was running is recorded as stopped (``ServerStopped``), so its kernel,
        if it outlived the server, is stopped in the cell too: interrupted, or shut down if it
        was the run's own. Otherwise it would stay busy in a cell nobody follows any longer."""
        orphans, self._orphans = self._orphans, {}
        for kernel_id, own in orphans.items():
            gevent.spawn(self._stop_orphan, kernel_id, own)

    def _stop_orphan(self, kernel_id: str, own: bool) -> None:
        if not self.kernels.await_reattach(kernel_id) or kernel_id not in self.kernels.kernels:
            return
        self._stop_in_cell(kernel_id, own, "the previous server")

    def _stop_in_cell(self, kernel_id: str, own: bool, whose: str) -> None:
        """Stop a kernel left in a run's cell by `whose` (a server that is gone): interrupt it,
        or shut it down if it was the run's own."""
        try:
            if own:
                self.kernels.shutdown_kernel(kernel_id)
            else:
                self.kernels.interrupt_kernel(kernel_id, timeout=10)
            log.info("kernel %s, left in a run by %s, %s", kernel_id, whose, "shut down" if own else "interrupted")
        except errors.NotFound:
            pass
        except Exception:
            log.exception("kernel %s, left in a run by %s, could not be stopped", kernel_id, whose)

    def close(self) -> None:
        """Cancel every unfinished run and wait (a little) for each to end and save, before the
        kernels are shut down. No run is created after."""
        self.closed = True
        stopping = {"ename": "Cancelled", "evalue": "The server stopped during the run"}
        for run in list(self._runs.values()):
            if not run.done:
                self.cancel(run, error={**stopping, "cell_id": run.current_cell})
        gevent.joinall(list(self._workers.values()), timeout=CLOSE_GRACE)
        for run in list(self._runs.values()):
            if not run.done and run.finish("cancelled", {**stopping, "cell_id": run.current_cell}):
                self.store.write(run.id, run.record())


def _outcome(execution: Execution, run: Run, input_expired: bool,
             input_timeout: float) -> tuple[str, dict[str, Any] | None]:
    """The cell's status and error from its execution's end."""
    if execution.status == "ok":
        return "ok", None
    if input_expired:
        return "error", {"ename": "InputTimeout",
                         "evalue": f"No answer to input() within {input_timeout:g} s (NOTEBOOK_RUN_INPUT_TIMEOUT)"}
    if execution.status == "timeout":
        return "error", {"ename": "CellTimeoutError",
                         "evalue": f"The cell did not finish within the run's timeout of {run.timeout:g} s "
                                   "and was interrupted"}
    if execution.status == "aborted":
        if run.cancelling is not None:
            return "aborted", None
        return "error", {"ename": "Aborted", "evalue": "The kernel aborted the cell"}
    error = execution.error or {}
    return "error", {"ename": str(error.get("ename", "Error")), "evalue": str(error.get("evalue", ""))}


def _nbformat(output: dict[str, Any]) -> dict[str, Any]:
    """`output` without its ``transient`` (which nbformat outputs do not have)."""
    if "transient" not in output:
        return output
    return {key: value for key, value in output.items() if key != "transient"}


def _notebook_kernel_name(nb: dict[str, Any]) -> str | None:
    spec = (nb.get("metadata") or {}).get("kernelspec")
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else None


def _cells_to_run(nb: dict[str, Any], selected: list[str] | None, injected: str | None) -> list[str]:
    """The code cells to execute, in the notebook's order: all, or those `selected` (and the
    injected parameters cell).

    :raises errors.Invalid: a selected id names no cell of the notebook.
    """
    cells = [cell for cell in nb.get("cells", []) if isinstance(cell, dict)]
    if selected is not None:
        known = {cell.get("id") for cell in cells}
        unknown = [cell_id for cell_id in selected if cell_id not in known]
        if unknown:
            raise errors.Invalid(f"The notebook has no cell {unknown[0]!r}", reason="bad field: cells")
    wanted = None if selected is None else {*selected, injected}
    return [str(cell["id"]) for cell in cells
            if cell.get("cell_type") == "code" and (wanted is None or cell.get("id") in wanted)]


def _shutdown_quietly(registry: KernelRegistry, kernel_id: str) -> None:
    try:
        registry.shutdown_kernel(kernel_id, grace=1.0)
    except errors.NotFound:  # already gone
        pass
