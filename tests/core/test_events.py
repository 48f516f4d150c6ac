"""The event bus without a server: schemas, validation messages, subscribers' queues.

The expected messages are what a live jupyter_server 2.21.1 (jupyter_events 0.12.1,
jsonschema 4.26) answered to the same POST /api/events bodies, with a subscriber connected
(without one, the reference checks no data at all; see tests/api/test_events_api.py). Its
data-validation messages go on after the first line with the whole schema and instance
dumped; ours are that first line.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from flask_notebook.core import errors
from flask_notebook.core.event_schemas import CONTENTS_SERVICE, GATEWAY_CLIENT, KERNEL_ACTIONS
from flask_notebook.core.events import BAD_TIMESTAMP, EventBus, contents_action, kernel_action

CS, KA = CONTENTS_SERVICE, KERNEL_ACTIONS


def post_error(bus: EventBus, payload: Any) -> str:
    with pytest.raises(errors.Invalid) as info:
        bus.post(payload)
    return info.value.message


def test_the_reference_schemas_are_registered_with_their_versions() -> None:
    bus = EventBus()
    assert {schema_id: schema.version for schema_id, schema in bus.schemas.items()} == {
        CONTENTS_SERVICE: "1", KERNEL_ACTIONS: "1", GATEWAY_CLIENT: "1"}


@pytest.mark.parametrize(("data", "message"), [
    # reference: "'path' is a required property\n\nFailed validating 'required' in schema: ..."
    ({"action": "bogus"}, "'path' is a required property"),
    ({"path": "a"}, "'action' is a required property"),
    ("notadict", "'notadict' is not of type 'object'"),
    (None, "None is not of type 'object'"),
    ({"action": "get", "path": 3}, "3 is not of type 'string'"),
    ({"action": "bogus", "path": "a"},
     "'bogus' is not one of ['get', 'create', 'save', 'upload', 'rename', 'copy', 'delete']"),
])
def test_contents_data_errors_read_as_the_reference(data: Any, message: str) -> None:
    assert post_error(EventBus(), {"schema_id": CS, "version": "1", "data": data}) == message


@pytest.mark.parametrize(("data", "message"), [
    # Only a failed start may leave kernel_id out (the schema's if/then).
    ({"action": "start", "msg": "x", "status": "success"}, "'kernel_id' is a required property"),
    ({"action": "start", "msg": "x", "kernel_id": "k", "status_code": True}, "True is not of type 'number'"),
    ({"action": "start", "msg": "x", "kernel_id": "k", "status": "meh"}, "'meh' is not one of ['error', 'success']"),
])
def test_kernel_action_data_errors_read_as_the_reference(data: Any, message: str) -> None:
    assert post_error(EventBus(), {"schema_id": KA, "version": "1", "data": data}) == message


@pytest.mark.parametrize(("payload", "message"), [
    (None, "No JSON data provided"),
    ({}, "Missing `schema_id` in the JSON request body."),
    ([], "Missing `schema_id` in the JSON request body."),
    ({"schema_id": CS, "data": {}}, "Missing `version` in the JSON request body."),
    ({"schema_id": CS, "version": "1"}, "Missing `data` in the JSON request body."),
    ({"schema_id": "http://nope", "version": "1", "data": {}},
     "'The requested schema, http://nope, was not found in the schema registry. "
     "Are you sure it was previously registered?'"),
    ({"schema_id": 5, "version": "1", "data": {}},
     "'The requested schema, 5, was not found in the schema registry. Are you sure it was previously registered?'"),
    ({"schema_id": CS, "version": 2, "data": {}}, f"Unregistered version: '2'≠'1' for `{CS}`"),
    ({"schema_id": CS, "version": None, "data": {}}, f"Unregistered version: 'None'≠'1' for `{CS}`"),
    ({"schema_id": CS, "version": "1.0", "data": {}}, f"Unregistered version: '1.0'≠'1' for `{CS}`"),
    # The timestamp is checked before the data, as the reference does.
    ({"schema_id": CS, "version": "1", "data": {"action": "bogus"}, "timestamp": "bad"}, BAD_TIMESTAMP),
    ({"schema_id": CS, "version": "1", "data": {"action": "get", "path": "a"}, "timestamp": "2022-05-26 12:50:00"},
     BAD_TIMESTAMP),
    ({"schema_id": CS, "version": "1", "data": {"action": "get", "path": "a"}, "timestamp": "2022-05-26T12:50:00Z"},
     BAD_TIMESTAMP),
    ({"schema_id": CS, "version": "1", "data": {"action": "get", "path": "a"}, "timestamp": None}, BAD_TIMESTAMP),
    ({"schema_id": CS, "version": "1", "data": {"action": "get", "path": "a"}, "timestamp": 5}, BAD_TIMESTAMP),
])
def test_post_checks_in_the_reference_order(payload: Any, message: str) -> None:
    assert post_error(EventBus(), payload) == message


def test_bad_timestamp_message_is_the_reference_text() -> None:
    assert BAD_TIMESTAMP.startswith("HTTP 400: Bad Request (Failed to parse timestamp from JSON request body,\n")
    assert BAD_TIMESTAMP.endswith("for example, 2022-05-26T13:50:00+05:00Z)")


@pytest.mark.parametrize("timestamp", ["2022-05-26T12:50:00+06:00Z", "2022-05-26T12:50:00+0600Z"])
def test_timestamps_the_reference_parses_are_accepted(timestamp: str) -> None:
    EventBus().post({"schema_id": CS, "version": 1, "data": {"action": "get", "path": "a"}, "timestamp": timestamp})


def test_a_posted_event_reaches_every_subscriber_as_the_reference_frame() -> None:
    bus = EventBus()
    first, second = bus.subscribe(), bus.subscribe()
    bus.post({"schema_id": CS, "version": "1", "data": {"action": "get", "path": "é", "extra": 1},
              "timestamp": "2022-05-26T12:50:00+06:00Z"})
    # json.dumps's text, as the reference writes it: spaces, ASCII escapes, no timestamp.
    expected = '{"schema_id": "' + CS + '", "action": "get", "path": "\\u00e9", "extra": 1}'
    assert first.get(timeout=1) == [expected]
    assert second.get(timeout=1) == [expected]


def test_emit_without_subscribers_checks_nothing() -> None:
    EventBus().emit("http://unregistered", {"anything": object()})


def test_an_invalid_event_of_ours_is_logged_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    with caplog.at_level(logging.ERROR, logger="flask_notebook.core.events"):
        bus.emit(CS, {"action": "nope", "path": "a"})
        bus.emit("http://unregistered", {})
    assert "dropped an invalid" in caplog.text and "unregistered schema" in caplog.text
    bus.emit(CS, contents_action("save", "a.txt"))
    assert [json.loads(frame) for frame in subscription.get(timeout=1)] == [
        {"schema_id": CS, "action": "save", "path": "a.txt"}]


def test_data_with_its_own_schema_id_is_not_sent() -> None:
    """The frame's schema_id must not be spoofed; the reference's listener fails on such an event."""
    bus = EventBus()
    subscription = bus.subscribe()
    bus.post({"schema_id": CS, "version": "1", "data": {"action": "get", "path": "a", "schema_id": KA}})
    assert subscription.get(timeout=0.01) == []


def test_a_full_queue_drops_events_and_logs_it_once(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    slow = bus.subscribe(limit=300)
    fast = bus.subscribe()
    with caplog.at_level(logging.WARNING, logger="flask_notebook.core.events"):
        for n in range(10):
            bus.emit(CS, contents_action("save", f"file-{n}.txt"))
        assert len(fast.get(timeout=1)) == 10
        kept = slow.get(timeout=1)
    assert 1 <= len(kept) < 10 and sum(map(len, kept)) <= 300
    assert [json.loads(frame)["path"] for frame in kept] == [f"file-{n}.txt" for n in range(len(kept))]
    assert caplog.text.count("dropping its events") == 1
    assert f"caught up after {10 - len(kept)} events were dropped" in caplog.text
    bus.emit(CS, contents_action("save", "later.txt"))  # room again
    assert [json.loads(frame)["path"] for frame in slow.get(timeout=1)] == ["later.txt"]


def test_an_event_bigger_than_the_limit_still_goes_to_an_empty_queue() -> None:
    bus = EventBus()
    subscription = bus.subscribe(limit=10)
    bus.emit(CS, contents_action("save", "x" * 100))
    assert len(subscription.get(timeout=1)) == 1


def test_closing_removes_the_subscriber_and_ends_its_iteration() -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    assert bus.subscribers == 1
    bus.emit(CS, contents_action("delete", "a"))
    subscription.close()
    subscription.close()
    assert bus.subscribers == 0
    assert list(subscription) == []  # queued events are discarded, the iteration ends at once
    bus.emit(CS, contents_action("delete", "b"))  # nobody left: no work, no error


def test_closing_the_bus_ends_every_subscription() -> None:
    bus = EventBus()
    subscriptions = [bus.subscribe() for _ in range(3)]
    bus.close()
    assert bus.subscribers == 0 and all(s.closed for s in subscriptions)


def test_kernel_action_events_are_built_as_the_reference() -> None:
    assert kernel_action("restart", kernel_name="python3", kernel_id="k-1") == {
        "kernel_name": "python3", "action": "restart", "status": "success",
        "msg": "Kernel k-1 was restarted.", "kernel_id": "k-1"}
    assert kernel_action("shutdown", kernel_name="python3", kernel_id="k-1")["msg"] == "Kernel k-1 was shutdown."
    # A failure reports the underlying error's text, as str(err) of jupyter_client's own error there.
    try:
        try:
            raise FileNotFoundError(2, "No such file or directory", "/nonexistent/kernel-program")
        except OSError as exc:
            raise errors.KernelFailed("The kernel 'broken' could not be started") from exc
    except errors.KernelFailed as failure:
        data = kernel_action("start", kernel_name="broken", kernel_id=None, error=failure)
    assert data == {"kernel_name": "broken", "action": "start", "status": "error",
                    "msg": "[Errno 2] No such file or directory: '/nonexistent/kernel-program'"}
    assert kernel_action("interrupt", kernel_name="p", kernel_id="k", error=errors.Conflict("busy"))["msg"] == "busy"
    bus = EventBus()
    bus.subscribe()
    bus.schemas[KA].validate(data)  # a failed start may leave kernel_id out


def test_a_subscription_after_close_is_closed_at_once() -> None:
    bus = EventBus()
    bus.close()
    late = bus.subscribe()
    assert late.closed and bus.subscribers == 0
