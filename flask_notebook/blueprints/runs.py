"""`/api/runs`: notebooks run by the server (``core.runs``), thin views over ``state().runs``.

A run belongs to the user who started it: another user's answers the 404 of a missing one
and is never listed; administrators see every run, with its ``owner`` on a server with
several users. ``GET /api/runs/<id>`` with ``Accept: text/event-stream`` streams the run's
events from its start, or after ``Last-Event-ID`` (or ``?from=``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, request, url_for

from ..core import errors
from ..core.runrecord import STATUSES, Run, parse_request
from ..extension import state
from . import ownership
from .http import KEEPALIVE, event_stream, json_body, json_response, query_arg, resume_point

bp = Blueprint("runs", __name__, url_prefix="/runs")

#: Runs in one page of the list when ``limit`` is not given, and at most.
PAGE, MAX_PAGE = 100, 1000


@bp.post("")
def create_run() -> Response:
    run_request = parse_request(json_body())
    user, workspace = ownership.user(), ownership.workspace()
    cwd = state().sessions.kernel_cwd(run_request.path, root=workspace.root)
    run = state().runs.create(run_request, contents=workspace.contents, cwd=cwd, owner=ownership.owner(), user=user,
                              limited=not user.server)
    return json_response(_model(run), 202, {"Location": url_for(".get_run", run_id=run.id)})


@bp.get("")
def list_runs() -> Response:
    status = query_arg("status") or None
    if status is not None and status not in STATUSES:
        raise errors.Invalid(f"'status' must be one of {', '.join(STATUSES)}", reason="bad field: status")
    limit = _count("limit", PAGE)
    if limit > MAX_PAGE:
        raise errors.Invalid(f"'limit' may be at most {MAX_PAGE}", reason="bad field: limit")
    runs, total = state().runs.list_runs(user=ownership.user(), path=query_arg("path") or None, status=status,
                                         limit=limit, offset=_count("offset", 0))
    return json_response({"runs": [_model(run) for run in runs], "total": total})


@bp.get("/<run_id>")
def get_run(run_id: str) -> Response:
    run = _run(run_id)
    accept = request.accept_mimetypes
    if accept["text/event-stream"] > accept["application/json"]:
        return _event_stream(run, resume_point(from_query=True))
    return json_response(_model(run))


@bp.delete("/<run_id>")
def cancel_run(run_id: str) -> Response:
    """202 with the model, once the run has ended (an interrupt takes a moment; at most 10 s)."""
    run = _run(run_id)
    state().runs.cancel(run)
    run.wait_until(lambda: run.done, timeout=10)
    return json_response(_model(run), 202)


@bp.post("/<run_id>/input")
def answer_input(run_id: str) -> Response:
    run = _run(run_id)
    body = json_body()
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, str):
        raise errors.Invalid('The body must be {"value": string}', reason="bad field: value")
    state().runs.answer(run, value)
    return Response(status=204)


def _run(run_id: str) -> Run:
    return state().runs.get(run_id, user=ownership.user())


def _model(run: Run) -> dict[str, Any]:
    model = run.model()
    if ownership.show_owners():
        model["owner"] = run.owner
    return model


def _count(name: str, default: int) -> int:
    value = query_arg(name)
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise errors.Invalid(f"'{name}' must be a non-negative integer", reason=f"bad field: {name}")
    return int(value)


def _event_stream(run: Run, start: int) -> Response:
    owner_shown = ownership.show_owners()  # read now: the stream is written outside the request

    def events() -> Iterator[tuple[int, str, Any] | None]:
        for item in run.stream(start, keepalive=KEEPALIVE):
            if item is not None and item[1] in ("accepted", "done") and owner_shown:
                number, name, payload = item
                item = (number, name, {**payload, "owner": run.owner})
            yield item

    return event_stream(events())
