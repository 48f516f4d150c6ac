"""Execution over HTTP: `/api/kernels/<id>/execute`, its requests, and `/api/execute`.

Every endpoint that starts or continues an execution answers in one of three ways:

- synchronously (the default): when the request has finished, 200 with its record; or 202
  with ``Location`` when the code waits for ``input()`` and only the client can go on;
- asynchronously (``?wait=false`` or ``Prefer: respond-async``): 202 at once, with ``Location``;
- as Server-Sent Events (``Accept: text/event-stream``): one event per output as it comes,
  and a last ``done`` event with the record.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, url_for

from ..core import errors
from ..core.execute import Execution, parse_options
from ..core.users import User
from ..extension import state
from . import ownership
from .errors import retry_after
from .http import KEEPALIVE, event_stream, json_body, json_response, resume_point
from .security import current_user

bp = Blueprint("execute", __name__)

# -- kernel-scoped ---------------------------------------------------------------------------


@bp.post("/kernels/<kernel_id>/execute")
def execute(kernel_id: str) -> Response:
    st = state()
    kernel = ownership.kernel(kernel_id)
    options = parse_options(json_body())
    mode = _mode()
    _count_execution()
    execution = st.executions.submit(kernel, options)
    if st.metrics is not None:
        st.metrics.execution(execution)
    return _respond(execution, mode, _kernel_location(execution))


@bp.get("/kernels/<kernel_id>/requests")
def list_requests(kernel_id: str) -> Response:
    st = state()
    ownership.kernel(kernel_id)
    return json_response([_summary(e) for e in st.executions.of_kernel(kernel_id, ownership.user())])


@bp.get("/kernels/<kernel_id>/requests/<request_id>")
def get_request(kernel_id: str, request_id: str) -> Response:
    return _show(_kernel_request(kernel_id, request_id), _kernel_location)


@bp.delete("/kernels/<kernel_id>/requests/<request_id>")
def cancel_request(kernel_id: str, request_id: str) -> Response:
    return _cancel(_kernel_request(kernel_id, request_id))


@bp.post("/kernels/<kernel_id>/requests/<request_id>/input")
def answer_input(kernel_id: str, request_id: str) -> Response:
    execution = _kernel_request(kernel_id, request_id)
    return _answer(execution, _kernel_location(execution))


# -- without a kernel of one's own -------------------------------------------------------------


@bp.post("/execute")
def execute_once() -> Response:
    st = state()
    _execute_api_enabled()
    body = json_body()
    options = parse_options(body)
    if options.subshell_id is not None:
        raise errors.Invalid("'subshell_id' needs a kernel that has the subshell: "
                             "POST /api/kernels/<id>/execute", reason="bad field: subshell_id")
    kernel_name = body.get("kernel_name")
    if kernel_name is not None and not isinstance(kernel_name, str):
        raise errors.Invalid("'kernel_name' must be a string", reason="bad field: kernel_name")
    mode = _mode()
    user = _count_execution()
    execution = st.executions.run_once(st.kernels, kernel_name or None, options, cwd=ownership.workspace().os_root,
                                       owner=ownership.owner(), limited=not user.server)
    if st.metrics is not None:
        st.metrics.execution(execution)
    return _respond(execution, mode, _once_location(execution))


@bp.get("/execute/<request_id>")
def get_once(request_id: str) -> Response:
    _execute_api_enabled()
    return _show(state().executions.get(request_id, user=ownership.user()), _once_location)


@bp.delete("/execute/<request_id>")
def cancel_once(request_id: str) -> Response:
    _execute_api_enabled()
    return _cancel(state().executions.get(request_id, user=ownership.user()))


@bp.post("/execute/<request_id>/input")
def answer_once(request_id: str) -> Response:
    _execute_api_enabled()
    execution = state().executions.get(request_id, user=ownership.user())
    return _answer(execution, _once_location(execution))


# -- shared ------------------------------------------------------------------------------------


def _count_execution() -> User:
    """Count an execution against its user's NOTEBOOK_EXECUTE_RATE_LIMIT; returns the user.

    Counted once the request is known to be well formed, just before it runs: a malformed
    one, or one for a kernel that does not exist, costs nothing and is not counted. The
    server's own user (the token) is the operator and is not limited, as for the kernel limit.

    :raises errors.RateLimited: past the limit (429, with ``Retry-After``).
    """
    user = current_user()
    limiter = state().execute_rate
    if limiter is None or user.server:
        return user
    wait = limiter.hit(user.username)
    if wait:
        raise errors.RateLimited(
            f"Too many executions: at most {limiter.requests} per {_period(limiter.period)} per user "
            f"(NOTEBOOK_EXECUTE_RATE_LIMIT); try again in {retry_after(wait)} s", retry_after=wait,
            reason="rate limited")
    return user


def _period(seconds: float) -> str:
    names = {1.0: "second", 60.0: "minute", 3600.0: "hour", 86400.0: "day"}
    return names.get(seconds, f"{seconds:g} s")


def _execute_api_enabled() -> None:
    if not state().settings.execute_api:
        raise errors.NotFound("/api/execute is switched off on this server (NOTEBOOK_EXECUTE_API)",
                              reason="disabled")


def _kernel_request(kernel_id: str, request_id: str) -> Execution:
    st = state()
    try:
        return st.executions.get(request_id, kernel_id, user=ownership.user())
    except errors.NotFound:
        ownership.kernel(kernel_id)  # an unknown kernel (or another user's) says so
        raise


def _kernel_location(execution: Execution) -> str:
    return url_for(".get_request", kernel_id=execution.kernel_id, request_id=execution.id)


def _once_location(execution: Execution) -> str:
    return url_for(".get_once", request_id=execution.id)


def _summary(execution: Execution) -> dict[str, Any]:
    record = execution.record()
    return {key: record[key] for key in ("id", "kernel_id", "status", "execution_count", "started", "finished")}


def _mode() -> str:
    """"stream", "async" or "sync", from Accept, Prefer and ``?wait``.

    :raises errors.Invalid: ``wait`` is neither true nor false.
    """
    accept = request.accept_mimetypes
    if accept["text/event-stream"] > accept["application/json"]:
        return "stream"
    wait = request.args.get("wait")
    if wait is not None and wait.lower() not in ("true", "false", "1", "0"):
        raise errors.Invalid("'wait' must be true or false", reason="bad field: wait")
    if (wait is not None and wait.lower() in ("false", "0")) or \
            "respond-async" in request.headers.get("Prefer", "").lower():
        return "async"
    return "sync"


def _respond(execution: Execution, mode: str, location: str) -> Response:
    if mode == "stream":
        return _event_stream(execution, 0, location)
    if mode == "sync":
        execution.wait_until(lambda: execution.done or execution.status == "input_required")
    if execution.done:
        return json_response(execution.record(), 200, {"Location": location})
    headers = {"Location": location}
    if mode == "async":
        headers["Preference-Applied"] = "respond-async"
    return json_response(execution.record(), 202, headers)


def _show(execution: Execution, location: Any) -> Response:
    """GET of a request: 200 when finished, 202 with the state so far; or the events, as a stream
    from just after ``Last-Event-ID``."""
    if _mode() == "stream":
        return _event_stream(execution, resume_point(), location(execution))
    return json_response(execution.record(), 200 if execution.done else 202)


def _cancel(execution: Execution) -> Response:
    """Cancel; answers with the record once it is final (an interrupt takes a moment)."""
    state().executions.cancel(execution)
    execution.wait_until(lambda: execution.done, timeout=10)
    return json_response(execution.record(), 200 if execution.done else 202)


def _answer(execution: Execution, location: str) -> Response:
    body = json_body()
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, str):
        raise errors.Invalid("The body must be {\"value\": string}", reason="bad field: value")
    mode = _mode()
    state().executions.answer(execution, value)
    return _respond(execution, mode, location)


def _event_stream(execution: Execution, start: int, location: str) -> Response:
    return event_stream(execution.stream(start, keepalive=KEEPALIVE), {"Location": location})
