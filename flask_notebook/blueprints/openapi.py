"""`GET /api/openapi.json`: an OpenAPI 3.1 document of the endpoints we add to Jupyter's API.

jupyter_server's own routes are described by its ``/api/spec.yaml`` (Swagger 2.0); this
document covers what goes beyond it: REST execution, its requests, ``/api/execute``, the
kernel pool and runs. Paths are relative to the server's base URL; a test checks that every route of
the ``execute`` blueprint is here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, url_for

from .http import json_response

bp = Blueprint("openapi", __name__)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = _json(_ref("Error"), "An error: `message` for people, `reason` for programs")
_RUNNING = _json(_ref("Record"), "Not finished: the record so far (status queued, running or input_required)")
_LOCATION = {"Location": {"description": "The request's URL, for polling, streaming, input and cancel",
                          "schema": {"type": "string"}}}


def _modes(done: str) -> dict[str, Any]:
    """Responses of an endpoint that starts or continues an execution."""
    return {
        "200": {"description": f"{done}. With `Accept: text/event-stream`: the events (see `Event`), "
                               "the last one `done`",
                "headers": _LOCATION,
                "content": {"application/json": {"schema": _ref("Record")},
                            "text/event-stream": {"schema": {"type": "string"}}}},
        "202": {**_RUNNING, "headers": _LOCATION,
                "description": "Asynchronous (`?wait=false` or `Prefer: respond-async`), or the code waits "
                               "for input: the record so far"},
        "400": _ERROR, "403": _ERROR, "404": _ERROR, "409": _ERROR, "503": _ERROR,
    }


_MODE_PARAMS: list[dict[str, Any]] = [
    {"name": "wait", "in": "query", "schema": {"type": "boolean", "default": True},
     "description": "`false`: answer 202 at once, with `Location`"},
    {"name": "Prefer", "in": "header", "schema": {"type": "string"},
     "description": "`respond-async`: as `wait=false`"},
    {"name": "Accept", "in": "header", "schema": {"type": "string"},
     "description": "`text/event-stream`: Server-Sent Events, one per output as it arrives"},
]
_KERNEL_ID = {"name": "kernel_id", "in": "path", "required": True, "schema": {"type": "string"}}
_REQUEST_ID = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}
_LAST_EVENT = {"name": "Last-Event-ID", "in": "header", "schema": {"type": "integer"},
               "description": "With `Accept: text/event-stream`: resume after this event"}
_INPUT_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["value"], "properties": {"value": {"type": "string"}}}}}}


def _request_paths(prefix: str, params: list[dict[str, Any]], tag: str) -> dict[str, Any]:
    return {
        f"{prefix}/{{request_id}}": {
            "get": {"tags": [tag], "summary": "A request's record, or its events as a stream",
                    "parameters": [*params, _REQUEST_ID, _LAST_EVENT],
                    "responses": {"200": {"description": "Finished: the completion record (or the stream)",
                                          "content": {"application/json": {"schema": _ref("Record")},
                                                      "text/event-stream": {"schema": {"type": "string"}}}},
                                  "202": _RUNNING, "404": _ERROR}},
            "delete": {"tags": [tag], "summary": "Cancel: a queued request is dropped, a running one interrupted",
                       "parameters": [*params, _REQUEST_ID],
                       "responses": {"200": _json(_ref("Record"), "The final record (status `aborted`, "
                                                                  "or what it had when it had finished)"),
                                     "202": _RUNNING, "404": _ERROR}},
        },
        f"{prefix}/{{request_id}}/input": {
            "post": {"tags": [tag], "summary": "Answer the code's `input()`; then answers like the execute call",
                     "parameters": [*params, _REQUEST_ID, *_MODE_PARAMS], "requestBody": _INPUT_BODY,
                     "responses": _modes("Finished after the input")},
        },
    }


_OPTIONS: dict[str, Any] = {
    "type": "object", "required": ["code"],
    "properties": {
        "code": {"type": "string"},
        "silent": {"type": "boolean", "default": False},
        "store_history": {"type": "boolean", "default": True},
        "user_expressions": {"type": "object", "additionalProperties": {"type": "string"}},
        "allow_stdin": {"type": "boolean", "default": True},
        "stop_on_error": {"type": "boolean", "default": True},
        "timeout": {"type": "number", "exclusiveMinimum": 0,
                    "description": "Seconds from acceptance (waiting behind earlier requests included); "
                                   "then the kernel is interrupted and the status is `timeout`. Default: "
                                   "the server's NOTEBOOK_EXECUTE_TIMEOUT (1800 unless configured)"},
    },
}
_KERNEL_OPTIONS: dict[str, Any] = {**_OPTIONS, "properties": {**_OPTIONS["properties"], "subshell_id": {
    "type": "string", "minLength": 1, "maxLength": 256,
    "description": "Run in this kernel subshell (JEP 91; the `subshell_id` of a `create_subshell_reply` "
                   "on the control channel) instead of the main shell. Requests to different shells do not "
                   "wait for each other; requests to one shell run in order. A subshell's code cannot be "
                   "interrupted: on `timeout` or cancel its record ends and the code runs on. A subshell the "
                   "kernel does not know ends the request with status `error` (the kernel's "
                   "`UnknownSubshellError`)"}}}

_RUN_ID = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}
_RUN = _json(_ref("Run"), "The run")
_RUN_BODY: dict[str, Any] = {
    "type": "object", "required": ["path"],
    "properties": {
        "path": {"type": "string", "description": "The notebook to run"},
        "cells": {"type": "array", "items": {"type": "string"},
                  "description": "Cell ids to run, in the notebook's order (default: every code cell)"},
        "parameters": {"type": "object", "description": "Injected as papermill does (Python kernels only): "
                       "a cell tagged `injected-parameters` after the first cell tagged `parameters`"},
        "output_path": {"type": "string", "description": "Where the executed copy goes; without it the "
                        "notebook itself gets the outputs (a run in place)"},
        "kernel_id": {"type": "string", "description": "Run on this kernel of yours; else a new kernel, "
                      "shut down at the end"},
        "kernel_name": {"type": "string", "description": "The new kernel's kernelspec (default: the notebook's)"},
        "timeout": {"type": ["number", "null"], "exclusiveMinimum": 0,
                    "description": "Seconds per cell, then it is interrupted and the run fails (null: none)"},
        "allow_errors": {"type": "boolean", "default": False},
        "allow_stdin": {"type": "boolean", "default": True},
    },
}
_RUN_PATHS: dict[str, Any] = {
    "/api/runs": {
        "post": {"tags": ["runs"], "summary": "Run a notebook on the server; its outputs are saved as they come",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": _RUN_BODY}}},
                 "responses": {"202": {**_RUN, "headers": {"Location": {"schema": {"type": "string"}}}},
                               "400": _ERROR, "404": _ERROR, "409": _ERROR, "429": _ERROR, "503": _ERROR}},
        "get": {"tags": ["runs"], "summary": "Your runs (every run, for an administrator), newest first",
                "parameters": [{"name": name, "in": "query", "schema": {"type": kind}}
                               for name, kind in (("path", "string"), ("status", "string"), ("limit", "integer"),
                                                  ("offset", "integer"))],
                "responses": {"200": _json({"type": "object", "properties": {
                    "runs": {"type": "array", "items": _ref("Run")}, "total": {"type": "integer"}}}, "One page"),
                    "400": _ERROR}},
    },
    "/api/runs/{run_id}": {
        "get": {"tags": ["runs"], "summary": "A run, or its events as a stream (from its start, or after "
                                             "`Last-Event-ID` or `?from=`)",
                "parameters": [_RUN_ID, _LAST_EVENT,
                               {"name": "from", "in": "query", "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "The run (or the stream: `accepted`, `cell_started`, "
                                                     "`output`, `clear_output`, `update_display`, "
                                                     "`input_required`, `cell_finished`, and `done` last)",
                                      "content": {"application/json": {"schema": _ref("Run")},
                                                  "text/event-stream": {"schema": {"type": "string"}}}},
                              "404": _ERROR}},
        "delete": {"tags": ["runs"], "summary": "Cancel a queued or running run",
                   "parameters": [_RUN_ID],
                   "responses": {"202": _RUN, "404": _ERROR, "409": _ERROR}},
    },
    "/api/runs/{run_id}/input": {
        "post": {"tags": ["runs"], "summary": "Answer the pending `input()` of the run's current cell",
                 "parameters": [_RUN_ID], "requestBody": _INPUT_BODY,
                 "responses": {"204": {"description": "Answered"}, "400": _ERROR, "404": _ERROR, "409": _ERROR}},
    },
}

_HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def with_auth_errors(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation that needs authentication, with what it answers without: a 403 JSON
    error under ``/api``; a redirect to the login page elsewhere (downloads). Operations
    marked ``security: []`` are open. Returns new path items; `paths` is left as it is."""
    result: dict[str, Any] = {}
    for path, item in paths.items():
        result[path] = item = dict(item)
        for method in _HTTP_METHODS:
            operation = item.get(method)
            if operation is None or operation.get("security") == []:
                continue
            responses = dict(operation["responses"])
            if path.startswith("/api"):
                responses.setdefault("403", _json(_ref("Error"), "Not authenticated, or not allowed"))
            else:
                responses.setdefault("302", {"description": "Not authenticated: to the login page, with `next`",
                                             "headers": {"Location": {"schema": {"type": "string"}}}})
            item[method] = {**operation, "responses": responses}
    return result


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "flask-notebook: REST API beyond Jupyter's", "version": "1",
             "description": "REST execution on kernels and a warm kernel pool. Authentication as every "
                            "Jupyter API call: `Authorization: token <token>` (or `?token=`), or the login "
                            "cookie with `X-XSRFToken` on unsafe methods. Requests to one kernel run one at "
                            "a time, in the order they came (per shell: the main one and each kernel subshell)."},
    "security": [{"token": []}],
    "paths": {
        "/api/kernels/{kernel_id}/execute": {
            "post": {"tags": ["execute"], "summary": "Run code on a kernel",
                     "parameters": [_KERNEL_ID, *_MODE_PARAMS],
                     "requestBody": {"required": True,
                                     "content": {"application/json": {"schema": _KERNEL_OPTIONS}}},
                     "responses": _modes("Finished: the completion record")},
        },
        "/api/kernels/{kernel_id}/requests": {
            "get": {"tags": ["execute"], "summary": "The kernel's requests still remembered",
                    "parameters": [_KERNEL_ID],
                    "responses": {"200": _json({"type": "array", "items": _ref("Summary")}, "Oldest first"),
                                  "404": _ERROR}},
        },
        **_request_paths("/api/kernels/{kernel_id}/requests", [_KERNEL_ID], "execute"),
        "/api/execute": {
            "post": {"tags": ["execute without a kernel"],
                     "summary": "Run code on a kernel of its own (from the pool), shut down afterwards",
                     "parameters": _MODE_PARAMS,
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         **_OPTIONS, "properties": {**_OPTIONS["properties"], "kernel_name": {"type": "string"}}}}}},
                     "responses": _modes("Finished: the completion record")},
        },
        **_request_paths("/api/execute", [], "execute without a kernel"),
        "/api/kernel_pool": {
            "get": {"tags": ["kernel pool"], "summary": "The warm pool, by kernelspec name",
                    "responses": {"200": _json({"type": "object", "additionalProperties": {
                        "type": "object", "properties": {"size": {"type": "integer"}, "ready": {"type": "integer"},
                                                         "starting": {"type": "integer"}}}}, "The pool")}},
        },
        **_RUN_PATHS,
        "/api/openapi.json": {
            "get": {"tags": ["meta"], "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.1"}}},
        },
    },
    "components": {
        "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "Authorization",
                                      "description": "`token <the server's token>`"}},
        "schemas": {
            "Error": {"type": "object", "required": ["message", "reason"],
                      "properties": {"message": {"type": "string"}, "reason": {"type": ["string", "null"]}}},
            "Record": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"}, "kernel_id": {"type": "string"},
                    "status": {"enum": ["queued", "running", "input_required", "ok", "error", "aborted", "timeout"]},
                    "execution_count": {"type": ["integer", "null"]},
                    "outputs": {"type": "array", "items": {"type": "object"},
                                "description": "nbformat v4 outputs; consecutive stream outputs merged"},
                    "error": {"type": ["object", "null"], "properties": {
                        "ename": {"type": "string"}, "evalue": {"type": "string"},
                        "traceback": {"type": "array", "items": {"type": "string"}}},
                        "description": "`DeadKernelError` when the kernel died or was shut down meanwhile"},
                    "user_expressions": {"type": "object"},
                    "input_request": {"type": ["object", "null"], "properties": {
                        "prompt": {"type": "string"}, "password": {"type": "boolean"}}},
                    "started": {"type": ["string", "null"], "format": "date-time"},
                    "finished": {"type": ["string", "null"], "format": "date-time"},
                },
            },
            "Run": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"}, "path": {"type": "string"},
                    "output_path": {"type": ["string", "null"]},
                    "status": {"enum": ["queued", "running", "completed", "failed", "cancelled"]},
                    "kernel_id": {"type": ["string", "null"]}, "kernel_name": {"type": "string"},
                    "cells": {"type": "array", "items": {"type": "string"}},
                    "cells_total": {"type": "integer"}, "cells_done": {"type": "integer"},
                    "current_cell": {"type": ["string", "null"]}, "parameters": {"type": "object"},
                    "allow_errors": {"type": "boolean"}, "timeout": {"type": ["number", "null"]},
                    "created": {"type": "string", "format": "date-time"},
                    "started": {"type": ["string", "null"], "format": "date-time"},
                    "finished": {"type": ["string", "null"], "format": "date-time"},
                    "error": {"type": "object", "properties": {
                        "ename": {"type": "string"}, "evalue": {"type": "string"},
                        "cell_id": {"type": ["string", "null"]}},
                        "description": "When failed or cancelled (`Cancelled`)"},
                    "input_request": {"type": ["object", "null"], "properties": {
                        "cell_id": {"type": "string"}, "prompt": {"type": "string"},
                        "password": {"type": "boolean"}}},
                    "owner": {"type": ["string", "null"], "description": "For administrators, with several users"},
                },
            },
            "Summary": {"type": "object", "properties": {
                key: {"type": ["string", "integer", "null"]}
                for key in ("id", "kernel_id", "status", "execution_count", "started", "finished")}},
            "Event": {
                "description": "Server-Sent Events: `id` (its index), `event` and `data` (JSON). "
                               "`accepted` {id, kernel_id}; `output` (an nbformat output, as it arrived; "
                               "a display's with its id in `transient.display_id`); "
                               "`clear_output` {wait}; `update_display` {display_id, data, metadata}; "
                               "`input_required` {prompt, password}; `done` (the completion record), last. "
                               "A `: keepalive` comment every 15 s while nothing happens.",
                "type": "string",
            },
        },
    },
}


@bp.get("/openapi.json")
def get_openapi() -> Response:
    """The document, with a server entry for where the notebook is mounted (its base URL)."""
    base = url_for("notebook.api.get_version").removesuffix("/api")
    return json_response({**SPEC, "paths": with_auth_errors(SPEC["paths"]), "servers": [{"url": base or "/"}]})
