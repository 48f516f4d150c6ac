"""Execution over HTTP: requests to a kernel, their records, and one executor per kernel.

An executor talks to its kernel through the kernel's shared relay (``KernelChannels``), as
one more connection: its requests' replies and ``input()`` requests come back to it alone,
and iopub is fanned out as usual, so WebSocket clients of the kernel see a REST execution
as it happens. The executor sends one request at a time, in the order they came: a shell
runs one cell at a time anyway, and one request in flight is what makes a timeout or a
cancel interrupt the right code.

Requests of one *pipeline* (a run's cells: ``Executions.submit(..., pipeline=run_id)``) are
the exception: each is sent as soon as it is submitted while the one before it is still in
the kernel, which queues them on its shell and runs them in order, with no round trip
between them (as Notebook's "Run all" does). Each is tracked by its message id; what the
kernel sends is routed by parent message id, so each record gets its own outputs. A pipelined
request counts as started when the kernel starts it (its ``execute_input``), not when it is
sent, and its timeout counts from then. What ipykernel 7.4 does with queued requests (checked
live): after an ``execute_reply`` with status ``error`` to a request with ``stop_on_error``
(an exception, or the ``KeyboardInterrupt`` of an interrupt), every ``execute_request`` that
has reached the kernel's shell-channel thread by then is aborted: its reply has status
``aborted`` and no other content, iopub shows ``busy`` and ``idle`` for it but no
``execute_input`` and no output, and the code never runs. The abort ends with a marker the
kernel queues behind those requests (``stop_on_error_timeout`` plays no part with the
shell-channel thread of 7.x): a request that arrives after it runs, so one sent while the
failing cell runs may escape the abort (about one in five, sent on the failing cell's
``execute_input``); one sent after the error reply's ``idle`` always runs (the kernel starts
its abort only once it has sent the reply, so one sent on the reply alone may still be caught
by it: seen under load). An executor sends its next request after both. With ``stop_on_error``
false nothing is aborted. The caller decides what to send together (``core.runs``).

An interrupt that reaches ipykernel 7.4 just as a request starts may miss (checked live, one
SIGINT sent on the request's ``busy``, 60 times): 11 times the request was dropped (the
SIGINT hit ipykernel's own code before the cell ran; its dispatcher caught the
``KeyboardInterrupt`` and said ``idle`` with no reply at all), once it was ignored (the
kernel ignores SIGINT between requests and sets its handler only after ``busy``: the code ran
on), 48 times it stopped the code. So a request whose kernel says ``idle`` and never replies
ends (``NO_REPLY_GRACE``), and a stopped request interrupted that soon after its start and
still running a second later is interrupted once more (``INTERRUPT_AGAIN``).

There is an executor per shell of a kernel: the main one, and each kernel subshell (JEP 91)
named by a request's ``subshell_id``. A subshell runs its requests beside the main shell's
and the other subshells', so their executors do not wait for each other; requests to one
shell still run in order.

Nothing here knows HTTP: the blueprint picks the response (wait, poll, stream) and reads
the records; records hold the output as nbformat v4 output dicts and an event log that a
stream replays from any point.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent.event import Event

from . import errors, messages
from .channels import PROTOCOL_VERSION, Connection, KernelChannels
from .eventlog import EventLog, Numbered
from .executionstore import StoredExecutions
from .kernels import Kernel, KernelRegistry
from .messages import Msg
from .paths import iso_utc
from .users import User

log = logging.getLogger(__name__)

#: States of a request that has not finished, and the final ones.
PENDING = frozenset({"queued", "running", "input_required"})
FINAL = frozenset({"ok", "error", "aborted", "timeout"})
#: How long an interrupted request may take to end before its record is closed anyway.
INTERRUPT_GRACE = 5.0
#: How long the iopub ``idle`` may lag behind the reply before the record is closed anyway
#: (iopub can drop messages under load; the reply cannot).
IDLE_GRACE = 5.0
#: How long the reply may lag behind the iopub ``idle`` before the request counts as dropped
#: by the kernel; the kernel sends its reply first, so this covers only the two sockets'
#: reading order. Shorter for a request being stopped: its status is known already.
NO_REPLY_GRACE = IDLE_GRACE
NO_REPLY_GRACE_STOPPING = 1.0
#: An interrupt sent within this long of the request's start may have been ignored; if the
#: code still runs this long after it, it is sent once more.
INTERRUPT_AGAIN = 1.0
#: Longer than any kernel's subshell ids (ipykernel's are UUIDs): a bound on what a header carries.
MAX_SUBSHELL_ID = 256
_OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "error", "update_display_data",
                           "clear_output"})


def _note_capture(flight: Flight, content: dict[str, Any]) -> None:
    """An Output widget's ``msg_id`` state names the request whose outputs it captures (as
    the page's widget manager, JupyterLab's and nbclient do): while it names this flight's,
    those outputs go to the widget (the page shows them there), not into the cell."""
    data = content.get("data")
    comm_id = content.get("comm_id")
    if not isinstance(data, dict) or not isinstance(comm_id, str):
        return
    state = data.get("state")
    if "method" in data and data.get("method") != "update":
        return
    if isinstance(state, dict) and isinstance(state.get("msg_id"), str):
        if state["msg_id"] and state["msg_id"] == flight.msg_id:
            flight.captured_by.add(comm_id)
        else:
            flight.captured_by.discard(comm_id)


@dataclass
class Options:
    """An execute request's content, checked (the fields of Jupyter's ``execute_request``)."""

    code: str
    silent: bool = False
    store_history: bool = True
    user_expressions: dict[str, str] = field(default_factory=dict)
    allow_stdin: bool = True
    stop_on_error: bool = True
    timeout: float | None = None
    #: The kernel subshell to run in (JEP 91); None: the main shell.
    subshell_id: str | None = None


def parse_options(body: Any) -> Options:
    """Options from a request body.

    :raises errors.Invalid: not an object, no string ``code``, or a field of the wrong type;
        the message names the field.
    """
    if not isinstance(body, dict):
        raise errors.Invalid("The body must be a JSON object with 'code'", reason="bad body")
    code = body.get("code")
    if not isinstance(code, str):
        raise errors.Invalid("'code' is required and must be a string", reason="bad field: code")
    options = Options(code=code)
    for name in ("silent", "store_history", "allow_stdin", "stop_on_error"):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, bool):
            raise errors.Invalid(f"'{name}' must be true or false", reason=f"bad field: {name}")
        setattr(options, name, value)
    expressions = body.get("user_expressions")
    if expressions is not None:
        if not isinstance(expressions, dict) or not all(isinstance(v, str) for v in expressions.values()):
            raise errors.Invalid("'user_expressions' must be an object of strings",
                                 reason="bad field: user_expressions")
        options.user_expressions = dict(expressions)
    timeout = body.get("timeout")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < 10**9:
            raise errors.Invalid("'timeout' must be a positive number of seconds", reason="bad field: timeout")
        options.timeout = float(timeout)
    subshell_id = body.get("subshell_id")
    if subshell_id is not None:
        if not isinstance(subshell_id, str) or not 0 < len(subshell_id) <= MAX_SUBSHELL_ID:
            raise errors.Invalid(f"'subshell_id' must be a string of 1 to {MAX_SUBSHELL_ID} characters "
                                 "(a create_subshell_reply's subshell_id)", reason="bad field: subshell_id")
        options.subshell_id = subshell_id
    return options


#: The transitions of a request's status: from each pending status, where it may go.
_NEXT = {"queued": frozenset({"running", *FINAL}), "running": frozenset({"input_required", *FINAL}),
         "input_required": frozenset({"running", *FINAL})}


class Execution:
    """One request's public record: what ``GET .../requests/<id>`` and ``POST /api/execute``
    answer, and the events a stream replays. What the executor tracks while the request is in
    the kernel (its message id, the kernel's busy and idle, the reply, an interrupt) is not
    here but in the executor's ``Flight``.

    The record changes only through its transitions, each of which checks the current status:
    ``queued`` -> ``running`` (``start``) <-> ``input_required`` (``ask_input``, ``resume``),
    and from any of these to a final status (``finish``); outputs come in while it is pending.
    Every change wakes whoever waits on it.

    ``events`` is everything a stream sends, in order (``accepted`` first, then ``output``,
    ``clear_output``, ``update_display``, ``input_required``, and last ``done``); ``outputs``
    is the merged nbformat view of the same outputs.
    """

    def __init__(self, kernel_id: str, options: Options, *, on_done: Callable[[Execution], None] | None = None,
                 owner: str | None = None, pipeline: str | None = None) -> None:
        self.id = uuid.uuid4().hex
        self.kernel_id = kernel_id
        #: Whose it is: its kernel's owner (who else may see the kernel sees its requests).
        self.owner = owner
        self.options = options
        #: The requests of one pipeline are sent without waiting for each other (see the module's doc).
        self.pipeline = pipeline
        self.status = "queued"
        self.execution_count: int | None = None
        self.outputs: list[dict[str, Any]] = []
        self.error: dict[str, Any] | None = None
        self.user_expressions: dict[str, Any] = {}
        self.started: float | None = None
        #: When the kernel started running the code (``time.time()``): its ``busy``, or for a
        #: pipelined request its ``execute_input``; None until then, and for good when the
        #: kernel aborted it or it ended before it began.
        self.began: float | None = None
        self.finished: float | None = None
        self.input_request: dict[str, Any] | None = None
        #: Its numbered events (the SSE stream's) and the signal of any change.
        self.events = EventLog([("accepted", {"id": self.id, "kernel_id": kernel_id})])
        self._clear_on_next = False
        self._displays: dict[str, list[dict[str, Any]]] = {}
        self._on_done = [on_done] if on_done is not None else []

    @classmethod
    def from_stored(cls, stored: dict[str, Any], *, owner: str | None) -> Execution:
        """A finished request as `stored` (``stored_record``) keeps it, after the server that
        ran it stopped: its record as it was; its events the ``accepted``, one ``output`` per
        output of the record, and the ``done``.

        :raises KeyError, TypeError, ValueError: `stored` is not such a record.
        """
        record = {key: value for key, value in stored.items() if not key.endswith("_ts")}
        if record["status"] not in FINAL:
            raise ValueError(f"a stored request cannot be {record['status']}")
        execution = cls(str(record["kernel_id"]), Options(code=""), owner=owner)
        execution.id = str(record["id"])
        execution.status = record["status"]
        execution.execution_count = record.get("execution_count")
        execution.outputs = list(record.get("outputs") or [])
        execution.error = record.get("error")
        execution.user_expressions = dict(record.get("user_expressions") or {})
        execution.started = stored.get("started_ts")
        execution.began = stored.get("began_ts")
        execution.finished = stored.get("finished_ts")
        execution.events = EventLog([("accepted", {"id": execution.id, "kernel_id": execution.kernel_id}),
                                     *(("output", output) for output in execution.outputs), ("done", record)])
        return execution

    def stored_record(self) -> dict[str, Any]:
        """What the database keeps of a finished request (``from_stored`` reads it): its
        record, and its times as numbers."""
        return {**self.record(), "started_ts": self.started, "began_ts": self.began, "finished_ts": self.finished}

    # -- reading -----------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.status in FINAL

    def record(self) -> dict[str, Any]:
        """The completion record (or the state so far, for a request still running)."""
        return {
            "id": self.id,
            "kernel_id": self.kernel_id,
            "status": self.status,
            "execution_count": self.execution_count,
            "outputs": self.outputs,
            "error": self.error,
            "user_expressions": self.user_expressions,
            "input_request": self.input_request,
            "started": iso_utc(self.started) if self.started is not None else None,
            "finished": iso_utc(self.finished) if self.finished is not None else None,
        }

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Until `predicate()` holds (True) or `timeout` seconds pass (False)."""
        return self.events.wait_until(predicate, timeout)

    def stream(self, start: int = 0, *, keepalive: float = 15) -> Iterator[Numbered | None]:
        """Events from number `start` as they come, ending after ``done``; ``None`` every
        `keepalive` seconds without one (``EventLog.stream``)."""
        return self.events.stream(start, ended=lambda: self.done, keepalive=keepalive)

    def add_done_callback(self, callback: Callable[[Execution], None]) -> None:
        """Call `callback(execution)` once it finishes (at once if it has)."""
        if self.done:
            callback(self)
        else:
            self._on_done.append(callback)

    # -- transitions --------------------------------------------------------------------------

    def start(self) -> None:
        """``queued`` -> ``running``: the request is being sent to the kernel.

        :raises RuntimeError: it is not queued (the executor sends each request once, and
            only one that has not ended).
        """
        self._move("running", only_from="queued")
        self.started = time.time()
        self._changed_now()

    def ask_input(self, prompt: str, password: bool) -> bool:
        """``running`` -> ``input_required``: the code waits for ``input()``. False (and no
        change) when the request is no longer running: it ended meanwhile."""
        if self.status != "running":
            return False
        self._move("input_required")
        self.input_request = {"prompt": prompt, "password": password}
        self._event("input_required", self.input_request)
        return True

    def resume(self) -> None:
        """``input_required`` -> ``running``: the input has been answered.

        :raises errors.Conflict: the request is not waiting for input.
        """
        if self.status != "input_required":
            raise errors.Conflict(f"Request {self.id} is not waiting for input (it is {self.status})",
                                  reason="not waiting for input")
        self._move("running")
        self.input_request = None
        self._changed_now()

    def begin(self) -> None:
        """The kernel started running the code (once; not after the record ended)."""
        if self.began is None and not self.done:
            self.began = time.time()
            self._changed_now()

    def set_execution_count(self, count: int | None) -> None:
        """The kernel's ``execute_input`` said which count the code runs as."""
        if not self.done:
            self.execution_count = count
            self._changed_now()

    def finish(self, status: str, error: dict[str, Any] | None = None, *, reply: dict[str, Any] | None = None) -> None:
        """Pending -> `status` (a final one), with the kernel's `reply` if there is one (its
        ``execution_count`` and ``user_expressions``). A finished record does not change:
        the first final status wins.

        :raises RuntimeError: `status` is not a final one.
        """
        if status not in FINAL:
            raise RuntimeError(f"request {self.id} cannot finish as {status}")
        if self.done:
            return
        self._move(status)
        if reply is not None:
            self.execution_count = reply.get("execution_count", self.execution_count)
            self.user_expressions = reply.get("user_expressions") or {}
        if error is not None:
            self.error = error
        self.input_request = None
        self.finished = time.time()
        self._event("done", self.record())
        callbacks, self._on_done = self._on_done, []
        for callback in callbacks:
            callback(self)

    def add_output(self, msg_type: str, content: dict[str, Any]) -> None:
        """An iopub output message of the request, merged into ``outputs``; one after the
        request has finished is left out (the record is final)."""
        if self.done:
            return
        if msg_type == "clear_output":
            if content.get("wait"):
                self._clear_on_next = True
            else:
                self.outputs, self._displays = [], {}
            self._event("clear_output", {"wait": bool(content.get("wait"))})
            return
        if msg_type == "update_display_data":
            display_id = (content.get("transient") or {}).get("display_id")
            for output in self._displays.get(display_id, []) if isinstance(display_id, str) else []:
                output["data"] = content.get("data", {})
                output["metadata"] = content.get("metadata", {})
            self._event("update_display", {"display_id": display_id, "data": content.get("data", {}),
                                           "metadata": content.get("metadata", {})})
            return
        output = to_output(msg_type, content)
        if self._clear_on_next:
            self._clear_on_next = False
            self.outputs, self._displays = [], {}
        last = self.outputs[-1] if self.outputs else None
        if (output["output_type"] == "stream" and last is not None and last["output_type"] == "stream"
                and last["name"] == output["name"]):
            self.outputs[-1] = {**last, "text": last["text"] + output["text"]}
        else:
            self.outputs.append(dict(output))
            display_id = (content.get("transient") or {}).get("display_id")
            if msg_type in ("display_data", "execute_result") and isinstance(display_id, str):
                self._displays.setdefault(display_id, []).append(self.outputs[-1])
                # The event says which display it shows (a later update names it); the
                # record's nbformat view has no ``transient``.
                output = {**output, "transient": {"display_id": display_id}}
        self._event("output", output)

    def display_outputs(self) -> list[dict[str, Any]]:
        """``outputs``, each display's with its ``transient.display_id`` (as its ``output``
        event had it): for who applies later ``update_display`` events to them."""
        shown = {id(output): display_id for display_id, outputs in self._displays.items() for output in outputs}
        return [{**output, "transient": {"display_id": shown[id(output)]}} if id(output) in shown else output
                for output in self.outputs]

    def _move(self, status: str, *, only_from: str | None = None) -> None:
        if status not in _NEXT.get(self.status, ()) or (only_from is not None and self.status != only_from):
            raise RuntimeError(f"request {self.id} cannot go from {self.status} to {status}")
        self.status = status

    def _changed_now(self) -> None:
        self.events.notify()

    def _event(self, name: str, payload: Any) -> None:
        self.events.append(name, payload)


def to_output(msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
    """An iopub output message's content as an nbformat v4 output dict."""
    if msg_type == "stream":
        return {"output_type": "stream", "name": content.get("name", "stdout"), "text": content.get("text", "")}
    if msg_type == "error":
        return {"output_type": "error", "ename": content.get("ename", ""), "evalue": content.get("evalue", ""),
                "traceback": content.get("traceback", [])}
    output = {"output_type": msg_type, "data": content.get("data", {}), "metadata": content.get("metadata", {})}
    if msg_type == "execute_result":
        output["execution_count"] = content.get("execution_count")
    return output


def _lost(reason: str) -> dict[str, Any]:
    return {"ename": "DeadKernelError", "evalue": reason, "traceback": []}


def _no_reply() -> dict[str, Any]:
    return {"ename": "NoReplyError", "traceback": [],
            "evalue": "The kernel finished the request without replying to it (ipykernel does that to a request "
                      "that an interrupt reaches just before its code runs)"}


@dataclass(eq=False)
class Flight:
    """What an executor tracks about one request while it waits in the queue or runs in the
    kernel; never shown to clients (the ``Execution`` is). Each change is followed by
    ``changed()``, which wakes the executor's loop that follows the request."""

    execution: Execution
    #: ``time.monotonic()`` past which the request times out: its timeout counts from
    #: acceptance, or for a pipelined request from its start (None until then).
    deadline: float | None
    #: The ``execute_request``'s message id and the kernel process it was sent to.
    msg_id: str | None = None
    pid: int | None = None
    #: What the kernel said: iopub ``busy`` (for a pipelined request, its ``execute_input``:
    #: the kernel also says ``busy`` for a request it aborts), then ``idle``; the
    #: ``execute_reply`` and when.
    busy: bool = False
    busy_at: float = 0.0
    idle: bool = False
    idle_at: float = 0.0
    reply: dict[str, Any] | None = None
    reply_at: float = 0.0
    #: "timeout" or "aborted" once stopped for that; when the interrupt was last sent, and
    #: how many times.
    end_as: str | None = None
    interrupted_at: float = 0.0
    interrupts: int = 0
    #: The kernel died or restarted under it.
    lost: bool = False
    #: The header of the pending ``input_request``, the parent of our ``input_reply``.
    input_parent: dict[str, Any] | None = None
    #: Comm ids of the Output widgets (ipywidgets) that capture this request's outputs now:
    #: what the code prints inside ``with out:`` (or ``interact``) is the widget's, not the cell's.
    captured_by: set[str] = field(default_factory=set)
    _changed: Event = field(default_factory=Event, repr=False)

    def changed(self) -> None:
        event, self._changed = self._changed, Event()
        event.set()

    def wait(self, timeout: float) -> None:
        self._changed.wait(timeout)

    def finish(self, status: str, error: dict[str, Any] | None = None) -> None:
        self.execution.finish(status, error)
        self.changed()

    @property
    def running(self) -> bool:
        """The kernel runs the code now (as far as we know): what an interrupt would hit."""
        return self.busy and not self.idle and self.reply is None


class Executor:
    """Runs the REST requests to one shell of a kernel, one at a time, in order; those of one
    pipeline are sent together (``ahead``), and followed one at a time, in order.

    Its relay connection is attached only while it has work, so an idle kernel shows no
    connection for it (and culling treats it as jupyter_server would).

    On a subshell, a timeout or a cancel ends the record but not the code: an interrupt is a
    signal to the kernel's main thread, which would stop the main shell's cell instead, and
    the protocol has no way to interrupt one subshell. The next request to that subshell runs
    after the code is done (the kernel keeps the order).
    """

    def __init__(self, kernel: Kernel, *, interrupt: Callable[[], None], ready_timeout: float,
                 queue_limit: int, subshell_id: str | None = None) -> None:
        self.kernel = kernel
        self.subshell_id = subshell_id
        self.session_id = "rest-" + uuid.uuid4().hex
        self.queue: deque[Flight] = deque()
        self.current: Flight | None = None
        #: Requests sent to the kernel behind ``current``, of its pipeline, in order.
        self.ahead: deque[Flight] = deque()
        self.closed = False
        self._interrupt = interrupt
        self._ready_timeout = ready_timeout
        self._queue_limit = queue_limit
        self._worker: Any = None
        self._conn: Connection | None = None

    @property
    def idle(self) -> bool:
        """Nothing queued, running or attached."""
        return self._worker is None and not self.queue and self.current is None and not self.ahead

    def submit(self, execution: Execution) -> None:
        flight = _flight(execution)
        relay = self.kernel.channels
        last = self.ahead[-1] if self.ahead else self.current
        if (execution.pipeline is not None and last is not None and last.msg_id is not None and not self.queue
                and not self.closed and last.execution.pipeline == execution.pipeline and not last.execution.done
                and relay is not None and not relay.closed):
            # The one before it is in the kernel: this one goes to the kernel's queue now (in
            # `ahead` before it is sent, so that a reply taken inside the send finds it).
            self.ahead.append(flight)
            self._send_execute(relay, flight)
            return
        self.queue.append(flight)
        if self._worker is None:
            self._worker = gevent.spawn(self._run)

    def in_flight(self) -> list[Flight]:
        """The requests sent to the kernel and not yet followed to their end, in order."""
        return [*([self.current] if self.current else []), *self.ahead]

    def close(self, reason: str) -> None:
        """The kernel is gone: every request not yet finished ends with `reason`."""
        self.closed = True
        for flight in [*self.in_flight(), *self.queue]:
            flight.finish("error", _lost(reason))
        self.queue.clear()

    # -- the worker ------------------------------------------------------------------------------

    def submit_now(self, execution: Execution) -> None:
        """Send `execution` to the kernel before returning (the relay must be ready and this
        executor new): whatever anyone sends the kernel afterwards runs after it, since every
        client's requests share the relay's one shell socket. The rest happens in the background."""
        relay = self.kernel.channels
        assert relay is not None and relay.ready.is_set() and self._worker is None
        self._attach(relay)
        flight = self.current = _flight(execution)
        self._send_execute(relay, flight)
        self._worker = gevent.spawn(self._run, flight)

    def _attach(self, relay: KernelChannels) -> None:
        self._conn = Connection(self.session_id, None, self._take, lambda: None,
                                queue_limit=self._queue_limit, try_send=self._try_take)
        relay.attach(self._conn)

    def _run(self, first: Flight | None = None) -> None:
        relay = self.kernel.channels
        try:
            if relay is None or relay.closed:
                self.close("The kernel was shut down")
                return
            if self._conn is None:
                self._attach(relay)
            try:
                if first is not None:
                    self._follow(relay, first)
                    self.current = None
                while (self.ahead or self.queue) and not self.closed:
                    if self.ahead:  # sent already: followed in turn
                        self.current = self.ahead.popleft()
                        try:
                            self._follow(relay, self.current)
                        finally:
                            self.current = None
                        continue
                    flight = self.queue.popleft()
                    if flight.execution.done:  # cancelled while it waited
                        continue
                    self.current = flight
                    try:
                        self._execute(relay, flight)
                    finally:
                        self.current = None
            finally:
                if self._conn is not None:
                    relay.detach(self._conn, replay=False)
                    self._conn = None
        finally:
            self.current = None
            self._worker = None
        if self.queue and not self.closed:  # submitted while detaching
            self._worker = gevent.spawn(self._run)

    def _execute(self, relay: KernelChannels, flight: Flight) -> None:
        wait = self._ready_timeout
        if flight.deadline is not None:
            wait = max(0.0, min(wait, flight.deadline - time.monotonic()))
        if not relay.ready.wait(wait):
            if flight.deadline is not None and time.monotonic() >= flight.deadline:
                flight.finish("timeout")
            else:
                flight.finish("error", _lost(f"The kernel did not answer within {self._ready_timeout} s"))
            return
        if flight.execution.done:  # timed out or cancelled while waiting for the kernel
            return
        self._send_execute(relay, flight)
        pipeline = flight.execution.pipeline
        while pipeline is not None and self.queue and self.queue[0].execution.pipeline == pipeline:
            waiting = self.queue.popleft()  # submitted before the first was sent: sent with it
            if not waiting.execution.done:
                self.ahead.append(waiting)
                self._send_execute(relay, waiting)
        self._follow(relay, flight)

    def _send_execute(self, relay: KernelChannels, flight: Flight) -> None:
        options = flight.execution.options
        content = {"code": options.code, "silent": options.silent, "store_history": options.store_history,
                   "user_expressions": options.user_expressions, "allow_stdin": options.allow_stdin,
                   "stop_on_error": options.stop_on_error}
        flight.pid = self.kernel.pid
        # Known before the send: the relay drains the shell socket right after sending, and on
        # a busy machine the reply can be there already. Taken before we know its id, it
        # would be dropped, and the request would wait for it for ever.
        flight.msg_id = uuid.uuid4().hex
        flight.execution.start()
        self._send(relay, "shell", "execute_request", content, msg_id=flight.msg_id)
        flight.changed()

    def _follow(self, relay: KernelChannels, flight: Flight) -> None:
        """Until the kernel is done with `flight`'s request: timeout, cancel, death."""
        execution = flight.execution
        while True:
            now = time.monotonic()
            replied = flight.reply is not None and (flight.idle or now - flight.reply_at > IDLE_GRACE)
            if replied:
                self._complete(flight)
                return
            if relay.closed:
                flight.finish("error", _lost("The kernel was shut down during the execution"))
                return
            if flight.lost or self.kernel.pid != flight.pid:  # the process died or was restarted
                if flight.reply is not None:
                    # It had answered: its idle went down with the process (a later request
                    # of the same batch killed it). The reply says how it ended.
                    self._complete(flight)
                    return
                flight.finish("error", _lost(self.kernel.reason or "The kernel restarted during the execution"))
                return
            if execution.done and (flight.end_as is None or self.subshell_id is not None):
                return
            self._expire_queued(now)
            if flight.end_as is None and flight.deadline is not None and now >= flight.deadline:
                self._stop(flight, "timeout")
            if flight.idle and flight.reply is None:
                # Done without a reply: ipykernel drops a request that an interrupt reached
                # before its code ran. Nothing more will come for it.
                if now - flight.idle_at > (NO_REPLY_GRACE if flight.end_as is None else NO_REPLY_GRACE_STOPPING):
                    if flight.end_as is not None:
                        flight.finish(flight.end_as)
                    else:
                        flight.finish("error", _no_reply())
                    return
            if flight.end_as is not None and flight.running and not flight.interrupted_at:
                self._interrupt_now(flight)
            if (flight.end_as is not None and flight.running and flight.interrupts == 1
                    and flight.interrupted_at - flight.busy_at < INTERRUPT_AGAIN
                    and now - flight.interrupted_at > INTERRUPT_AGAIN):
                self._interrupt_now(flight)  # the first one may have come before the kernel listened
            if flight.end_as is not None and flight.interrupted_at and now - flight.interrupted_at > INTERRUPT_GRACE:
                flight.finish(flight.end_as)  # the kernel ignores interrupts: move on
                return
            wait = 0.25
            if flight.end_as is None and flight.deadline is not None:
                wait = max(0.0, min(wait, flight.deadline - now))
            flight.wait(wait)

    def _expire_queued(self, now: float) -> None:
        """Requests waiting behind the current one time out too: a timeout counts from acceptance."""
        for waiting in self.queue:
            if waiting.deadline is not None and now >= waiting.deadline:
                waiting.finish("timeout")

    def stop(self, execution: Execution, status: str) -> None:
        """Cancel (`status` "aborted"): a request not yet sent ends now; one in the kernel is
        interrupted if it runs, and ends when the kernel says so."""
        if execution.done:
            return
        flight = next((f for f in self.in_flight() if f.execution is execution), None)
        if flight is None:
            execution.finish(status)
            return
        self._stop(flight, status)

    def _stop(self, flight: Flight, status: str) -> None:
        flight.end_as = status
        if flight.running:
            self._interrupt_now(flight)
        else:
            # Still queued in the kernel behind another client's code, which an interrupt
            # would hit: the record ends now, and the request is interrupted when it starts.
            flight.execution.finish(status)
        flight.changed()

    def _interrupt_now(self, flight: Flight) -> None:
        if self.subshell_id is not None:  # the signal would stop the main shell's code instead
            flight.finish(flight.end_as or "aborted")
            return
        flight.interrupted_at = time.monotonic()
        flight.interrupts += 1
        try:
            self._interrupt()
        except errors.NotebookError as exc:
            flight.finish("error", _lost(exc.message))

    def _complete(self, flight: Flight) -> None:
        reply = flight.reply or {}
        status = str(reply.get("status", "error"))
        if flight.end_as is not None:
            status = flight.end_as
        elif status not in ("ok", "error", "aborted"):
            status = "error"
        if reply.get("status") in ("ok", "error"):
            flight.execution.begin()  # it ran, even if iopub dropped its execute_input
        error = None
        if reply.get("status") == "error":
            error = {"ename": reply.get("ename", ""), "evalue": reply.get("evalue", ""),
                     "traceback": reply.get("traceback", [])}
        flight.execution.finish(status, error, reply=reply)

    def answer(self, execution: Execution, value: str) -> None:
        """Send `value` as the reply to the request's pending ``input()``.

        :raises errors.Conflict: the request is not waiting for input.
        """
        relay = self.kernel.channels
        flight = next((f for f in self.in_flight() if f.execution is execution), None)
        if flight is None or flight.input_parent is None or relay is None:
            raise errors.Conflict(f"Request {execution.id} is not waiting for input (it is {execution.status})",
                                  reason="not waiting for input")
        # As for the execute request: the next input_request may come back inside the send.
        parent, flight.input_parent = flight.input_parent, None
        execution.resume()
        self._send(relay, "stdin", "input_reply", {"value": value}, parent=parent)

    def _send(self, relay: KernelChannels, channel: str, msg_type: str, content: dict[str, Any],
              parent: dict[str, Any] | None = None, msg_id: str | None = None) -> str:
        header = {"msg_id": msg_id or uuid.uuid4().hex, "msg_type": msg_type, "username": "flask-notebook",
                  "session": self.session_id, "date": iso_utc(time.time()), "version": PROTOCOL_VERSION}
        if self.subshell_id is not None and channel == "shell":
            header["subshell_id"] = self.subshell_id
        relay.send(self.session_id, channel, messages.make(channel, header, parent or {}, content).parts, header)
        return str(header["msg_id"])

    # -- kernel -> executor ---------------------------------------------------------------------

    def _try_take(self, msg: Msg) -> bool:
        self._take(msg)
        return True

    def _take(self, msg: Msg) -> None:
        """Every message for this connection, in the relay's reader greenlet: never blocks."""
        flight = self.current
        if flight is None and not self.ahead:
            return
        try:
            parent = msg.parent_msg_id
            if flight is None or flight.msg_id != parent:
                flight = next((f for f in self.ahead if f.msg_id == parent), None)
            if flight is None or flight.msg_id is None:
                if msg.channel == "iopub" and msg.msg_type == "status" and not msg.parent:
                    state = msg.content().get("execution_state")  # server-made: restarting or dead
                    if state in ("restarting", "dead"):
                        for lost in self.in_flight():
                            if lost.msg_id is None:
                                continue
                            lost.lost = True
                            if lost.reply is not None:
                                # It had answered; its idle went down with the process (a later
                                # request killed it): `_follow` ends it as its reply says.
                                lost.changed()
                            else:
                                lost.finish("error", _lost(str(msg.content().get("reason") or f"The kernel is {state}")))
                return
            self._update(flight, msg)
        except Exception:  # a malformed message must not cut the relay's connection
            log.exception("kernel %s sent a message the executor could not read", self.kernel.id)

    def _update(self, flight: Flight, msg: Msg) -> None:
        execution = flight.execution
        msg_type = msg.msg_type
        if msg.channel == "iopub":
            if msg_type == "status":
                state = msg.content().get("execution_state")
                if state == "busy" and (execution.pipeline is None or execution.options.silent):
                    self._began(flight)
                elif state == "idle" and not flight.idle:
                    flight.idle = True
                    flight.idle_at = time.monotonic()
            elif msg_type == "execute_input":
                self._began(flight)
                count = msg.content().get("execution_count")
                execution.set_execution_count(count if isinstance(count, int) else None)
            elif msg_type in ("comm_open", "comm_msg"):
                _note_capture(flight, msg.content())
            elif msg_type in _OUTPUT_TYPES and not flight.captured_by:
                execution.add_output(msg_type, msg.content())
            flight.changed()
        elif msg.channel == "shell" and msg_type == "execute_reply":
            flight.reply = msg.content()
            flight.reply_at = time.monotonic()
            flight.changed()
        elif msg.channel == "stdin" and msg_type == "input_request":
            content = msg.content()
            if execution.ask_input(str(content.get("prompt", "")), bool(content.get("password", False))):
                flight.input_parent = msg.header

    @staticmethod
    def _began(flight: Flight) -> None:
        if flight.busy:
            return
        flight.busy = True
        flight.busy_at = time.monotonic()
        timeout = flight.execution.options.timeout
        if flight.deadline is None and timeout is not None:  # a pipelined request's: from its start
            flight.deadline = time.monotonic() + timeout
        flight.execution.begin()


def _flight(execution: Execution) -> Flight:
    timeout = execution.options.timeout
    from_now = timeout is not None and execution.pipeline is None
    return Flight(execution, deadline=time.monotonic() + timeout if from_now and timeout is not None else None)


class Records:
    """The records of one app's REST requests, by id and by kernel.

    A finished record is kept `ttl` seconds, or less when there are more than `limit` records
    (the first finished go first; records of requests still pending are always kept). Finished
    records wait in a queue in the order they finished, so a read drops the expired ones from
    its front and looks at nothing else.

    :param clock: seconds, for the expiry (``time.monotonic``).
    """

    def __init__(self, *, ttl: float, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.limit = limit
        self._clock = clock
        self._by_id: dict[str, Execution] = {}
        self._by_kernel: dict[str, dict[str, Execution]] = {}
        #: (when, request id) of each finished record, in the order they finished.
        self._finished: deque[tuple[float, str]] = deque()

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, execution: Execution) -> None:
        """Keep `execution`'s record; its expiry starts when it finishes."""
        self.purge()
        self._by_id[execution.id] = execution
        self._by_kernel.setdefault(execution.kernel_id, {})[execution.id] = execution
        execution.add_done_callback(self._finished_now)

    def get(self, request_id: str) -> Execution | None:
        self.purge()
        return self._by_id.get(request_id)

    def of_kernel(self, kernel_id: str) -> list[Execution]:
        """The records of `kernel_id`'s requests, oldest first."""
        self.purge()
        return list(self._by_kernel.get(kernel_id, {}).values())

    def purge(self) -> None:
        """Forget the finished records that expired, or that are past the limit, first finished first."""
        horizon = self._clock() - self.ttl
        while self._finished and (self._finished[0][0] <= horizon or len(self._by_id) > self.limit):
            _, request_id = self._finished.popleft()
            execution = self._by_id.pop(request_id)
            of_kernel = self._by_kernel[execution.kernel_id]
            del of_kernel[request_id]
            if not of_kernel:
                del self._by_kernel[execution.kernel_id]

    def _finished_now(self, execution: Execution) -> None:
        self._finished.append((self._clock(), execution.id))


class Executions:
    """Every REST request of one app: executors per kernel and shell, and records by request id.

    :param record_ttl: seconds a finished record is kept.
    :param max_records: at most this many records are kept (the first finished go first).
    :param default_timeout: the ``timeout`` of a request that sets none (None: no limit), so
        that a request to a kernel that hangs (stopped, or stuck in native code) ends.
    :param stored: where finished records are written (once each, when they finish) and
        found again once memory no longer has them (after a restart); None: memory only.
    """

    def __init__(self, *, interrupt: Callable[[str], None], ready_timeout: float, queue_limit: int,
                 record_ttl: float = 600, max_records: int = 10_000, default_timeout: float | None = None,
                 stored: StoredExecutions | None = None) -> None:
        self.records = Records(ttl=record_ttl, limit=max_records)
        self.stored = stored
        self.executors: dict[tuple[str, str | None], Executor] = {}
        self.default_timeout = default_timeout
        self._interrupt = interrupt
        self._ready_timeout = ready_timeout
        self._queue_limit = queue_limit

    def submit(self, kernel: Kernel, options: Options, on_done: Callable[[Execution], None] | None = None, *,
               default_timeout: bool = True, pipeline: str | None = None) -> Execution:
        """Queue `options` on `kernel`; one with no timeout gets the default one unless not
        `default_timeout` (a run's cells: their timeout is the run's, none when it sets none).
        Requests of one `pipeline` are sent to the kernel one after the other without waiting
        for each other (see the module's doc); each one's timeout counts from its start.

        :raises errors.Conflict: the kernel is shutting down or dead.
        :raises errors.Unavailable: the kernel is restarting.
        """
        check_usable(kernel)
        self.purge()
        if options.timeout is None and self.default_timeout and default_timeout:
            options = dataclasses.replace(options, timeout=self.default_timeout)
        key = (kernel.id, options.subshell_id)
        executor = self.executors.get(key)
        if executor is None or executor.kernel is not kernel or executor.closed:
            executor = self.executors[key] = Executor(
                kernel, interrupt=lambda: self._interrupt(kernel.id), ready_timeout=self._ready_timeout,
                queue_limit=self._queue_limit, subshell_id=options.subshell_id)
        execution = Execution(kernel.id, options, on_done=on_done, owner=kernel.owner, pipeline=pipeline)
        self.records.add(execution)
        if self.stored is not None:
            execution.add_done_callback(self._store)
        executor.submit(execution)
        return execution

    def run_once(self, registry: KernelRegistry, name: str | None, options: Options, *, cwd: str,
                 owner: str | None = None, limited: bool = True) -> Execution:
        """Run `options` on a kernel of its own (from the pool when there is one), `owner`'s,
        which is shut down as soon as the request ends: nothing is left for the next request.
        The kernel counts toward its owner's kernel limit while it runs (unless not `limited`),
        so concurrent requests cannot get around it.

        :raises: what ``KernelRegistry.start_kernel`` raises.
        """
        kernel = registry.start_kernel(name, cwd=cwd, owner=owner, limited=limited)

        def discard(_: Execution) -> None:
            gevent.spawn(_shutdown_quietly, registry, kernel.id)

        try:
            return self.submit(kernel, options, on_done=discard)
        except errors.NotebookError:
            _shutdown_quietly(registry, kernel.id)
            raise

    def get(self, request_id: str, kernel_id: str | None = None, *, user: User | None = None) -> Execution:
        """:raises errors.NotFound: no such request (or not one of `kernel_id`'s, or one
            `user` may not see), or forgotten."""
        execution = self.records.get(request_id)
        if execution is None:
            execution = self._stored(request_id)
        if execution is None or (kernel_id is not None and execution.kernel_id != kernel_id) or \
                (user is not None and not user.may_see(execution.owner)):
            raise errors.NotFound(f"No such request: {request_id}")
        return execution

    def _store(self, execution: Execution) -> None:
        if self.stored is not None:
            self.stored.save(execution.stored_record(), kernel_id=execution.kernel_id, owner=execution.owner,
                             finished=execution.finished or time.time())

    def _stored(self, request_id: str) -> Execution | None:
        """The finished request `request_id` from the database (memory no longer has it), or None."""
        if self.stored is None:
            return None
        found = self.stored.get(request_id)
        if found is None:
            return None
        try:
            return Execution.from_stored(found[0], owner=found[1])
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("execution record %s in the database is unusable: %s", request_id, exc)
            return None

    def of_kernel(self, kernel_id: str, user: User | None = None) -> list[Execution]:
        """The records of `kernel_id`'s requests (those `user` may see), oldest first."""
        records = self.records.of_kernel(kernel_id)
        return records if user is None else [e for e in records if user.may_see(e.owner)]

    def cancel(self, execution: Execution) -> None:
        executor = self.executors.get((execution.kernel_id, execution.options.subshell_id))
        if executor is None:
            execution.finish("aborted")
        else:
            executor.stop(execution, "aborted")

    def answer(self, execution: Execution, value: str) -> None:
        """:raises errors.Conflict: the request is not waiting for input."""
        executor = self.executors.get((execution.kernel_id, execution.options.subshell_id))
        if executor is None:
            raise errors.Conflict(f"Request {execution.id} is not waiting for input (it is {execution.status})",
                                  reason="not waiting for input")
        executor.answer(execution, value)

    def kernel_stopped(self, kernel: Kernel, reason: str) -> None:
        """The kernel is gone: its unfinished requests end with `reason`."""
        for key, executor in list(self.executors.items()):
            if key[0] == kernel.id and executor.kernel is kernel:
                del self.executors[key]
                executor.close(reason)

    def purge(self) -> None:
        self.records.purge()
        if self.stored is not None:
            self.stored.purge()
        # An idle executor holds nothing; without this, one per subshell ever used would stay.
        for key, executor in list(self.executors.items()):
            if key[1] is not None and executor.idle:
                del self.executors[key]


def _shutdown_quietly(registry: KernelRegistry, kernel_id: str) -> None:
    try:
        registry.shutdown_kernel(kernel_id, grace=1.0)
    except errors.NotFound:  # already gone
        pass


def run_code(kernel: Kernel, code: str, timeout: float, *, ready_timeout: float,
             queue_limit: int) -> Callable[[], str | None]:
    """Run `code` silently on `kernel`, which is ready (its relay has had kernel_info), as
    ``pool.RunCode`` says: sent before this returns; the callable returned waits for it (for
    at most `timeout` seconds and ten more) and answers None when it ran without error, else
    the exception's name or the status. A run that has not ended by then is abandoned."""
    executor = Executor(kernel, interrupt=kernel.interrupt, ready_timeout=ready_timeout, queue_limit=queue_limit)
    execution = Execution(kernel.id, Options(code=code, silent=True, store_history=False, allow_stdin=False,
                                             timeout=timeout))
    executor.submit_now(execution)

    def outcome() -> str | None:
        execution.wait_until(lambda: execution.done, timeout=timeout + 10)
        if execution.status == "ok":
            return None
        if not execution.done:
            executor.close("abandoned")
        return str(execution.error["ename"]) if execution.error else execution.status

    return outcome


def check_usable(kernel: Kernel) -> None:
    """:raises errors.Conflict: shutting down or dead. :raises errors.Unavailable: restarting."""
    relay = kernel.channels
    if kernel.execution_state == "dead" or relay is None or relay.closed:
        raise errors.Conflict(f"Kernel {kernel.id} is dead or shutting down" +
                              (f": {kernel.reason}" if kernel.reason else ""), reason="kernel dead")
    if kernel.execution_state == "restarting" or kernel.restart_pending:
        raise errors.Unavailable(f"Kernel {kernel.id} is restarting; try again in a moment" +
                                 (f" ({kernel.reason})" if kernel.reason else ""), reason="kernel restarting")
