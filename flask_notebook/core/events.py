"""The event bus: registered schemas, validation, and subscribers (jupyter_server's ``EventLogger``).

jupyter_server emits an event for each kernel action and contents action and sends them to
the subscribers of ``/api/events/subscribe``, one text frame each, ``{"schema_id", **data}``;
clients may post their own to ``/api/events``. Its events go through jupyter_events
(jsonschema); ours are checked with fastjsonschema, and a failed check is reported with the
words jsonschema would use (``_message``), which are what the reference answers.

Emitting never waits for a subscriber: each has its own bounded queue, drained by the greenlet
that serves its socket, and a subscriber that falls too far behind loses events (logged)
rather than slowing the kernel or file operation that emitted them. Everything here runs in
the hub's thread (request greenlets, the kernel registry), never in a worker thread.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import fastjsonschema
from gevent.event import Event

from . import errors
from .event_schemas import DEFAULT_SCHEMAS

log = logging.getLogger(__name__)

#: Bytes of events queued for one subscriber before new ones are dropped (one event is always
#: accepted into an empty queue). Our events are a few hundred bytes; clients' may be bigger.
QUEUE_LIMIT = 1024 * 1024

#: The POST body's timestamp format: the reference parses it with this ``strptime`` format.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%zZ"
#: The reference's words for a bad timestamp, twice wrapped as it sends them (its handler
#: catches its own HTTPError and reports ``str()`` of it), indentation included.
BAD_TIMESTAMP = (
    "HTTP 400: Bad Request (Failed to parse timestamp from JSON request body,\n"
    "            an ISO format datetime string with UTC offset is expected,\n"
    "            for example, 2022-05-26T13:50:00+05:00Z)"
)


class Schema:
    """One registered schema: its id, version and compiled validator."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.id: str = definition["$id"]
        self.version: str = str(definition["version"])
        self.definition = definition
        self._validate: Callable[[Any], Any] = fastjsonschema.compile(definition)

    def validate(self, data: Any) -> None:
        """:raises errors.Invalid: `data` does not fit, with jsonschema's message."""
        try:
            self._validate(data)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise errors.Invalid(_message(exc)) from None


def _message(exc: fastjsonschema.JsonSchemaValueException) -> str:
    """The first line of jsonschema's message for the same failure (the reference sends
    jsonschema's whole ``str(error)``, which goes on with the schema and instance dumped)."""
    definition = exc.definition if isinstance(exc.definition, dict) else {}
    value = exc.value
    if exc.rule == "required" and isinstance(value, dict):
        missing = next((name for name in definition.get("required", []) if name not in value), None)
        if missing is not None:
            return f"{missing!r} is a required property"
    if exc.rule == "type":
        types = definition.get("type")
        names = types if isinstance(types, list) else [types]
        return f"{value!r} is not of type {', '.join(repr(name) for name in names)}"
    if exc.rule == "enum":
        return f"{value!r} is not one of {definition.get('enum')!r}"
    return str(exc.message)


#: The audience of events about things of no user's (the server's own user's kernels, say):
#: administrators only.
ADMINS = "admins"


def owner_audience(owner: str | None) -> str:
    """Who hears events about what `owner` owns: that user (and administrators); for no
    owner, administrators only."""
    return f"user:{owner}" if owner is not None else ADMINS


class Subscription:
    """One subscriber's queue of frames (JSON text), at most `limit` bytes. Iterate it for
    batches of frames; the iteration ends once it is closed.

    :param audiences: the audiences whose events it gets (besides those for everyone), or
        None: all of them (an administrator's).
    """

    def __init__(self, bus: EventBus, limit: int = QUEUE_LIMIT, audiences: frozenset[str] | None = None) -> None:
        self._bus = bus
        self.audiences = audiences
        self.limit = limit
        self._frames: deque[str] = deque()
        self._size = 0
        self._ready = Event()
        self.closed = False
        self.dropped = 0

    def put(self, frame: str) -> None:
        """Queue `frame`, or drop it (logged once per run of drops) if the queue is full."""
        if self.closed:
            return
        if self._frames and self._size + len(frame) > self.limit:
            if not self.dropped:
                log.warning("an events subscriber has %d events (%d bytes) waiting; dropping its events "
                            "until it catches up", len(self._frames), self._size)
            self.dropped += 1
            return
        self._frames.append(frame)
        self._size += len(frame)
        self._ready.set()

    def get(self, timeout: float | None = None) -> list[str]:
        """The frames queued so far, waiting up to `timeout` for one; ``[]`` once closed."""
        if not self._frames and not self.closed:
            self._ready.wait(timeout)
        self._ready.clear()
        frames = list(self._frames)
        self._frames.clear()
        self._size = 0
        if self.dropped and frames:
            log.warning("an events subscriber caught up after %d events were dropped", self.dropped)
            self.dropped = 0
        return frames

    def __iter__(self) -> Iterator[list[str]]:
        while not self.closed:
            frames = self.get()
            if frames:
                yield frames

    def close(self) -> None:
        """Stop receiving; the iteration ends. Safe to call more than once."""
        if not self.closed:
            self.closed = True
            self._bus._subscriptions.discard(self)
            self._frames.clear()
            self._size = 0
            self._ready.set()
            log.info("events subscriber left (%d remain)", len(self._bus._subscriptions))


class EventBus:
    """The schemas of one server and its subscribers."""

    def __init__(self, schemas: Iterable[dict[str, Any]] = DEFAULT_SCHEMAS) -> None:
        self.schemas: dict[str, Schema] = {}
        self._subscriptions: set[Subscription] = set()
        self._closed = False
        for definition in schemas:
            self.register(definition)

    def register(self, definition: dict[str, Any]) -> None:
        """Register a JSON schema with ``$id`` and ``version``, replacing one of the same id.

        :raises fastjsonschema.JsonSchemaDefinitionException: not a valid schema.
        """
        schema = Schema(definition)
        self.schemas[schema.id] = schema

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, limit: int = QUEUE_LIMIT, audiences: frozenset[str] | None = None) -> Subscription:
        """A new subscription (to every event, or to those of `audiences` and those for
        everyone); once the bus is closed (the server stopping), one that is closed already,
        so a socket that arrives during the stop ends at once."""
        subscription = Subscription(self, limit, audiences)
        if self._closed:
            subscription.closed = True
            subscription._ready.set()
            return subscription
        self._subscriptions.add(subscription)
        log.info("events subscriber joined (%d now)", len(self._subscriptions))
        return subscription

    def emit(self, schema_id: str, data: dict[str, Any], audience: str | None = None) -> None:
        """Send an event of ours to every subscriber (of `audience`, when given: see
        ``owner_audience``). With none, nothing is even checked.

        An event that fails its schema is a bug here, not the caller's: it is logged and
        dropped, and the action that emitted it goes on.
        """
        if not self._subscriptions:
            return
        schema = self.schemas.get(schema_id)
        if schema is None:
            log.error("dropped an event of unregistered schema %s", schema_id)
            return
        try:
            schema.validate(data)
        except errors.Invalid as exc:
            log.error("dropped an invalid %s event: %s", schema_id, exc.message)
            return
        self._deliver(schema_id, data, audience)

    def post(self, payload: Any, audience: str | None = None) -> None:
        """A client's event, ``{"schema_id", "version", "data", "timestamp"?}``, checked in the
        reference's order and with its messages, then sent to every subscriber (of `audience`).

        The timestamp is checked and then unused: subscribers' frames carry none (as in the
        reference, where only its log handlers see it).

        :raises errors.Invalid: a key is missing, the schema or version is not registered,
            the timestamp cannot be parsed, or the data does not fit the schema.
        """
        if payload is None:
            raise errors.Invalid("No JSON data provided")
        # The reference checks the keys in the order of a set, which varies between runs.
        for key in ("schema_id", "version", "data"):
            if not isinstance(payload, dict) or key not in payload:
                raise errors.Invalid(f"Missing `{key}` in the JSON request body.")
        schema_id = payload["schema_id"]
        schema = self.schemas.get(schema_id) if isinstance(schema_id, str) else None
        if schema is None:
            # jupyter_events raises a KeyError with this text, reported with its quotes.
            raise errors.Invalid(repr(f"The requested schema, {schema_id}, was not found in the schema registry. "
                                      "Are you sure it was previously registered?"))
        version = str(payload["version"])
        if version != schema.version:
            raise errors.Invalid(f"Unregistered version: {version!r}≠{schema.version!r} for `{schema_id}`")
        if "timestamp" in payload:
            try:
                datetime.strptime(payload["timestamp"], TIMESTAMP_FORMAT)
            except (TypeError, ValueError):
                raise errors.Invalid(BAD_TIMESTAMP) from None
        data = payload["data"]
        schema.validate(data)
        if self._subscriptions:
            self._deliver(schema_id, data, audience)

    def _deliver(self, schema_id: str, data: dict[str, Any], audience: str | None) -> None:
        if "schema_id" in data:
            # The frame's own schema_id would be overwritten: the reference's listener fails
            # on such an event (a duplicate keyword argument), so no subscriber gets it.
            log.warning("an event of %s with a 'schema_id' field was not sent to subscribers", schema_id)
            return
        # json.dumps as the reference's handler: the same text, spaces and escapes included.
        frame = json.dumps({"schema_id": schema_id, **data})
        for subscription in list(self._subscriptions):
            if audience is None or subscription.audiences is None or audience in subscription.audiences:
                subscription.put(frame)

    def close(self) -> None:
        """End every subscription, and any made later (the server is stopping)."""
        self._closed = True
        for subscription in list(self._subscriptions):
            subscription.close()


#: ``msg`` of a kernel action that succeeded, by action: jupyter_server's texts.
_KERNEL_ACTION_DONE = {
    "start": "Kernel {kernel_id} was started.",
    "interrupt": "Kernel {kernel_id} was interrupted.",
    "restart": "Kernel {kernel_id} was restarted.",
    "shutdown": "Kernel {kernel_id} was shutdown.",
}


def kernel_action(action: str, *, kernel_name: str, kernel_id: str | None,
                  error: BaseException | None = None) -> dict[str, Any]:
    """A ``kernel_actions`` event as jupyter_server's ``emit_kernel_action_event`` builds it,
    keys in its order. On error, ``msg`` is the text of the underlying error (``str(err)``
    there, where the error is jupyter_client's own). No ``status_code``: the reference adds
    one only for a tornado HTTPError from a gateway, and our kernels are local."""
    if error is None:
        status, msg = "success", _KERNEL_ACTION_DONE[action].format(kernel_id=kernel_id)
    else:
        cause = error.__cause__
        status = "error"
        msg = str(cause) if cause is not None else error.message if isinstance(error, errors.NotebookError) else str(error)
    data: dict[str, Any] = {"kernel_name": kernel_name, "action": action, "status": status, "msg": msg}
    if kernel_id:
        data["kernel_id"] = kernel_id
    return data


def contents_action(action: str, path: str, source_path: str | None = None) -> dict[str, Any]:
    """A ``contents_service`` event: `path` acted on; `source_path` for a rename or copy."""
    data = {"action": action, "path": path}
    if source_path is not None:
        data["source_path"] = source_path
    return data
