"""`GET /api/spec.yaml`: an OpenAPI 3.1 document of every endpoint this server serves.

jupyter_server serves its Swagger 2.0 file there (``services/api/api.yaml``), incomplete and
wrong in places (``/api/`` is a redirect, errors say ``error``, some status codes). This one
starts from it, corrected to what jupyter_server 2.21 and we answer, and adds what we serve
beyond it; our REST execution and kernel pool come from ``openapi.SPEC`` (also served alone
as ``/api/openapi.json``), so they are written once.

OpenAPI 3.1 rather than Swagger 2.0: Jupyter's models have nullable fields (``content``,
``mimetype``, ``size``...), which 2.0 cannot say, and 3.1 is what ``openapi.json`` already
is. The text is JSON, which is YAML too (YAML 1.2 is a superset; the ASCII-only, indented
JSON written here also loads with YAML 1.1 parsers such as PyYAML), so no YAML library is
needed, and tools that read either format read it.

The document only lists operations that have a route in the app that serves it, and a test
fails when a route has none in ``DOCUMENT``; what is left out on purpose is ``UNDESCRIBED``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, url_for

from . import openapi

bp = Blueprint("apispec", __name__)

#: Endpoints no document describes: the browser UI's pages, login and logout (HTML, forms),
#: static files, and the API's catch-alls for unknown URLs and for upgrades to plain URLs.
UNDESCRIBED = frozenset({
    "notebook.static", "notebook.api.no_such_endpoint", "notebook.api.no_such_websocket", "notebook.auth.login",
    "notebook.auth.submit_login", "notebook.auth.logout", "notebook.ui.index", "notebook.ui.tree",
    "notebook.ui.edit", "notebook.ui.running", "notebook.ui.runs", "notebook.ui.notebook", "notebook.ui.terminal",
    "notebook.favicon",
})


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, **headers: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


def _body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _op(tag: str, summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    """An operation; every error answer is ``{"message", "reason"}`` (the ``default``)."""
    return {"tags": [tag], "summary": summary, **more,
            "responses": {**responses, "default": {"$ref": "#/components/responses/Error"}}}


_LOCATION = _header("The URL of what was created or changed")
_LAST_MODIFIED = _header("The model's last_modified, as an HTTP date")
_EMPTY = {"description": "No content"}
_ERROR = {"$ref": "#/components/responses/Error"}
_OPEN: list[dict[str, Any]] = []  # `security` of what needs no authentication


def _redirect(description: str) -> dict[str, Any]:
    return {"description": description, "headers": {"Location": _header("Where to go")}}


def _param(name: str, where: str, description: str, schema: dict[str, Any] | None = None,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "description": description,
            "schema": schema or {"type": "string"}}


_API_PATH = _param("api_path", "path", "A path relative to the contents root, `/`-separated")
_KERNEL_ID = _param("kernel_id", "path", "A kernel's id (a UUID)")
_SESSION_ID = _param("session_id", "path", "A session's id (a UUID)")
_CHECKPOINT_ID = _param("checkpoint_id", "path", "A checkpoint's id (always `checkpoint`)")
_CONTENTS_MODEL = _json(_ref("Contents"), "The model, without content",
                        Location=_LOCATION, **{"Last-Modified": _LAST_MODIFIED})


def _contents_operations(params: list[dict[str, Any]], where: str) -> dict[str, Any]:
    """The five operations of `/api/contents/{api_path}` (`where` names the path), also served
    for the root."""
    get_params = [
        *params,
        _param("type", "query", "Read as this type; any other value counts as `file`",
               {"type": "string", "enum": ["file", "directory", "notebook"]}),
        _param("format", "query", "For files: `text` (UTF-8) or `base64`", {"type": "string", "enum": ["text", "base64"]}),
        _param("content", "query", "`0`: the model without content", {"type": "string", "enum": ["0", "1"]}),
        _param("hash", "query", "`1`: add the sha256 of the bytes on disk", {"type": "string", "enum": ["0", "1"]}),
        _param("sort", "query", "Directories: sort the entries by `name`, `last_modified`, `size` or `type` "
                                "(`-` first: descending); with it, offset or limit, `X-Total-Count` is sent"),
        _param("offset", "query", "Directories: skip this many entries", {"type": "integer", "minimum": 0}),
        _param("limit", "query", "Directories: at most this many entries", {"type": "integer", "minimum": 0}),
    ]
    return {
        "get": _op("contents", f"The model of {where}, with its content", {
            "200": _json(_ref("Contents"), "The model", **{"Last-Modified": _LAST_MODIFIED},
                         ETag=_header("The sha256 of the bytes read (files and notebooks)"),
                         **{"X-Total-Count": _header("With sort, offset or limit: the number of entries")}),
            "400": _ERROR, "404": _ERROR}, parameters=get_params),
        "post": _op("contents", f"A new untitled file, notebook or directory in {where}, or a copy "
                                "(`copy_from`: the name is kept if free, else `-CopyN`)", {
            "201": _CONTENTS_MODEL, "400": _ERROR, "404": _ERROR},
            parameters=params, requestBody=_body({"type": "object", "properties": {
                "copy_from": {"type": "string"}, "ext": {"type": "string"},
                "type": {"type": "string", "enum": ["file", "notebook", "directory"]}}}, required=False)),
        "put": _op("contents", f"Save or upload {where} (no body: a new untitled item in it). "
                               "`If-Match` makes the save conditional (409 if the file changed)", {
            "200": {**_CONTENTS_MODEL, "description": "Saved over an existing file"},
            "201": {**_CONTENTS_MODEL, "description": "Created"},
            "400": _ERROR, "404": _ERROR, "409": _ERROR}, parameters=params,
            requestBody=_body(_ref("ContentsSave"), required=False)),
        "patch": _op("contents", f"Rename or move {where}", {
            "200": _CONTENTS_MODEL, "400": _ERROR, "404": _ERROR, "409": _ERROR}, parameters=params,
            requestBody=_body({"type": "object", "properties": {"path": {"type": "string"}}})),
        "delete": _op("contents", f"Delete {where} (a directory with everything in it) and its checkpoints",
                      {"204": _EMPTY, "400": _ERROR, "404": _ERROR}, parameters=params),
    }


_NULLABLE_STRING = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["message", "reason"], "properties": {
        "message": {"type": "string"}, "reason": _NULLABLE_STRING}},
    "KernelUnavailable": {"type": "object", "required": ["message", "short_message"], "properties": {
        "message": {"type": "string"}, "reason": _NULLABLE_STRING, "short_message": {"type": "string"}}},
    "Version": {"type": "object", "required": ["version"], "properties": {
        "version": {"type": "string", "description": "The jupyter_server release whose API this is"},
        "flask_notebook": {"type": "string"}}},
    "APIStatus": {"type": "object", "required": ["connections", "kernels", "last_activity", "started"],
                  "properties": {"connections": {"type": "integer"}, "kernels": {"type": "integer"},
                                 "last_activity": {"type": "string", "format": "date-time"},
                                 "started": {"type": "string", "format": "date-time"}}},
    "Identity": {"type": "object", "required": ["username", "name", "display_name", "initials", "avatar_url",
                                                "color"],
                 "properties": {"username": {"type": "string"}, "name": {"type": "string"},
                                "display_name": {"type": "string"}, "initials": {"type": "string"},
                                "avatar_url": _NULLABLE_STRING, "color": _NULLABLE_STRING}},
    "Permissions": {"type": "object", "description": "The actions asked for that are allowed, by resource, and "
                                                     "`updatable_fields`: the identity fields PATCH may change",
                    "required": ["updatable_fields"],
                    "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    "Terminal": {"type": "object", "required": ["name", "last_activity"], "properties": {
        "name": {"type": "string"}, "last_activity": {"type": "string", "format": "date-time"}}},
    "ResolvedPath": {"type": "object", "required": ["resolved"], "properties": {
        "resolved": {"type": "array", "items": {"type": "object", "required": ["scope", "path"], "properties": {
            "scope": {"type": "string", "enum": ["server", "kernel"]},
            "path": {"type": "string", "description": "server: an API path; kernel: an absolute path"}}}},
        "unresolved": {"type": "array", "items": {"type": "object", "required": ["scope", "reason"], "properties": {
            "scope": {"type": "string"}, "reason": {"type": "string"}}}}}},
    "Contents": {
        "type": "object",
        "required": ["name", "path", "type", "writable", "created", "last_modified", "size", "mimetype", "content",
                     "format", "hash", "hash_algorithm"],
        "properties": {
            "name": {"type": "string"}, "path": {"type": "string"},
            "type": {"type": "string", "enum": ["directory", "file", "notebook"]},
            "writable": {"type": "boolean"},
            "created": {"type": "string", "format": "date-time"},
            "last_modified": {"type": "string", "format": "date-time"},
            "size": {"type": ["integer", "null"]},
            "mimetype": _NULLABLE_STRING,
            "content": {"description": "A directory's entries (models without content), a notebook (nbformat "
                                       "v4), a file's text or base64; null without content"},
            "format": {"type": ["string", "null"], "enum": ["json", "text", "base64", None]},
            "hash": _NULLABLE_STRING, "hash_algorithm": _NULLABLE_STRING,
            "message": {"type": "string", "description": "Notebooks: why validation failed"},
        },
    },
    "ContentsSave": {"type": "object", "description": "A model to save; `name` and `path` are not where "
                                                      "it is saved (the URL is), but a hidden `path` is refused",
                     "properties": {
                         "type": {"type": "string", "enum": ["file", "notebook", "directory"]},
                         "format": {"type": ["string", "null"], "enum": ["json", "text", "base64", None]},
                         "content": {"description": "A notebook (object) or a file's text or base64"},
                         "chunk": {"type": "integer", "description": "Chunked upload: 1 first, 2, 3... then -1 last"},
                         "name": {"type": "string"}, "path": {"type": "string"}}},
    "Checkpoint": {"type": "object", "required": ["id", "last_modified"], "properties": {
        "id": {"type": "string"}, "last_modified": {"type": "string", "format": "date-time"}}},
    "Kernel": {"type": "object", "required": ["id", "name", "last_activity", "execution_state", "connections"],
               "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                              "last_activity": {"type": "string", "format": "date-time"},
                              "execution_state": {"type": "string"}, "connections": {"type": "integer"},
                              "reason": {"type": "string", "description": "Why a kernel is dead"},
                              "responsive": {"type": "boolean",
                                             "description": "With `?probe=1` only: whether it answered"}}},
    "KernelSpec": {"type": "object", "required": ["name", "spec", "resources"], "properties": {
        "name": {"type": "string"},
        "spec": {"type": "object", "description": "kernel.json: argv, display_name, language, env, metadata..."},
        "resources": {"type": "object", "additionalProperties": {"type": "string"},
                      "description": "URL paths of kernel.js, kernel.css and the logo-* files"}}},
    "KernelSpecs": {"type": "object", "required": ["default", "kernelspecs"], "properties": {
        "default": {"type": "string"},
        "kernelspecs": {"type": "object", "additionalProperties": _ref("KernelSpec")}}},
    "Session": {"type": "object", "required": ["id", "path", "name", "type", "kernel"], "properties": {
        "id": {"type": "string"}, "path": {"type": "string"}, "name": _NULLABLE_STRING, "type": {"type": "string"},
        "kernel": _ref("Kernel"),
        "notebook": {"type": "object", "description": "Sessions of type notebook only (legacy)",
                     "properties": {"path": {"type": "string"}, "name": _NULLABLE_STRING}}}},
    "SessionRequest": {"type": "object", "properties": {
        "path": {"type": "string"}, "type": {"type": "string"}, "name": _NULLABLE_STRING,
        "kernel": {"type": ["object", "null"], "properties": {"id": _NULLABLE_STRING, "name": _NULLABLE_STRING}},
        "notebook": {"type": "object", "deprecated": True, "description": "Legacy form: its `name`, else its "
                     "`path`, is the path, and the type is notebook",
                     "properties": {"path": {"type": "string"}, "name": {"type": "string"}}}}},
    "Event": {"type": "object", "required": ["schema_id", "version", "data"], "properties": {
        "schema_id": {"type": "string"}, "version": {"type": ["string", "integer"]}, "data": {"type": "object"},
        "timestamp": {"type": "string"}}},
}

_UPDATABLE = {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": {
    "name": {"type": "string"}, "display_name": {"type": "string"}, "initials": {"type": "string"},
    "avatar_url": _NULLABLE_STRING, "color": _NULLABLE_STRING}}
_SECTION = _param("section", "path", "A config section's name", {"type": "string", "pattern": "^[A-Za-z0-9_]+$"})
_OBJECT = {"type": "object"}
_WEBSOCKET = {"101": {"description": "Switching Protocols: the WebSocket"}}

JUPYTER_PATHS: dict[str, Any] = {
    "/api": {"get": _op("api", "The jupyter_server version whose API this server speaks",
                        {"200": _json(_ref("Version"), "The version")}, security=_OPEN)},
    "/api/": {"get": _op("api", "A redirect to /api", {"302": _redirect("To /api")}, security=_OPEN)},
    "/api/notebooks": {method: _op("api", "Deprecated: a redirect to /api/contents", {
        "302": _redirect("To /api/contents")}, security=_OPEN, deprecated=True)
        for method in ("get", "post", "put", "patch", "delete")},
    "/api/notebooks/{api_path}": {"parameters": [_API_PATH], **{method: _op(
        "api", "Deprecated: a redirect to /api/contents/{api_path}", {"302": _redirect("To /api/contents/...")},
        security=_OPEN, deprecated=True) for method in ("get", "post", "put", "patch", "delete")}},
    "/api/spec.yaml": {"get": _op("api", "This document (OpenAPI 3.1, written as JSON, which is YAML)", {
        "200": {"description": "The document", "content": {"text/x-yaml": {"schema": {"type": "object"}}}}})},
    "/api/status": {"get": _op("status", "The server's activity (not itself activity)",
                               {"200": _json(_ref("APIStatus"), "The status")})},
    "/metrics": {"get": _op(
        "metrics", "Prometheus metrics of this process: for administrators, or with NOTEBOOK_METRICS_TOKEN "
                   "(`Authorization: Bearer <token>` or `?token=`); 404 with NOTEBOOK_METRICS off", {
            "200": {"description": "The metrics: Prometheus' text format, or OpenMetrics' when the Accept header "
                                   "asks for it",
                    "content": {"text/plain": {"schema": {"type": "string"}},
                                "application/openmetrics-text": {"schema": {"type": "string"}}}},
            "401": _ERROR, "403": _ERROR, "404": _ERROR})},
    "/api/me": {
        "get": _op("identity", "Who is asking, and which of the `permissions` asked for they have", {
            "200": _json({"type": "object", "required": ["identity", "permissions"], "properties": {
                "identity": _ref("Identity"), "permissions": _ref("Permissions")}}, "The identity"),
            "400": _ERROR}, parameters=[_param("permissions", "query", 'JSON: {"resource": ["action", ...]}')]),
        "patch": _op("identity", "Change the identity's updatable fields (kept in the login cookie)", {
            "200": _json({"type": "object", "required": ["status", "identity"], "properties": {
                "status": {"const": "success"}, "identity": _ref("Identity")}}, "The new identity"),
            "400": _ERROR}, requestBody=_body(_UPDATABLE)),
    },
    "/api/resolvePath": {"get": _op("contents", "Where a path is, in the root and for a kernel", {
        "200": _json(_ref("ResolvedPath"), "What was and was not resolved"), "400": _ERROR}, parameters=[
        _param("path", "query", "Relative to the root, or absolute (`~` too) inside it", required=True),
        _param("kernel", "query", "Also resolve it against this kernel's working directory")])},
    "/api/config/{section}": {
        "parameters": [_SECTION],
        "get": _op("config", "The section, merged from every Jupyter config directory and this server's store",
                   {"200": _json(_OBJECT, "The section")}),
        "put": _op("config", "Replace this server's section", {"204": _EMPTY, "400": _ERROR},
                   requestBody=_body(_OBJECT)),
        "patch": _op("config", "Merge into this server's section (`null` removes a key)", {
            "200": _json(_OBJECT, "This server's section, as stored"), "400": _ERROR}, requestBody=_body(_OBJECT)),
    },
    "/api/contents": _contents_operations([], "the root"),
    "/api/contents/{api_path}": _contents_operations([_API_PATH], "a file, notebook or directory"),
    "/api/contents/{api_path}/checkpoints": {
        "parameters": [_API_PATH],
        "get": _op("contents", "The file's checkpoints (none or one)", {
            "200": _json({"type": "array", "items": _ref("Checkpoint")}, "The checkpoints")}),
        "post": _op("contents", "Checkpoint the file as it is now (replacing the previous one)", {
            "201": _json(_ref("Checkpoint"), "The checkpoint", Location=_LOCATION), "404": _ERROR}),
    },
    "/api/contents/{api_path}/checkpoints/{checkpoint_id}": {
        "parameters": [_API_PATH, _CHECKPOINT_ID],
        "post": _op("contents", "Restore the file from the checkpoint", {"204": _EMPTY, "404": _ERROR}),
        "delete": _op("contents", "Delete the checkpoint", {"204": _EMPTY, "404": _ERROR}),
    },
    "/api/contents/{api_path}/trust": {"parameters": [_API_PATH], "post": _op(
        "contents", "Trust the notebook (sign it)", {"201": _EMPTY, "404": _ERROR})},
    "/api/kernelspecs": {"get": _op("kernelspecs", "Every kernelspec, and the default",
                                    {"200": _json(_ref("KernelSpecs"), "The kernelspecs")})},
    "/api/kernelspecs/{name}": {"parameters": [_param("name", "path", "A kernelspec's name")], "get": _op(
        "kernelspecs", "One kernelspec", {"200": _json(_ref("KernelSpec"), "The kernelspec"), "404": _ERROR})},
    "/api/kernels": {
        "get": _op("kernels", "The running kernels", {"200": _json({"type": "array", "items": _ref("Kernel")},
                                                                    "The kernels")}),
        "post": _op("kernels", "Start a kernel", {
            "201": _json(_ref("Kernel"), "Started", Location=_LOCATION), "400": _ERROR, "403": _ERROR,
            "404": _ERROR, "500": _ERROR},
            requestBody=_body({"type": "object", "properties": {
                "name": {"type": "string", "description": "Its kernelspec (default: the default one)"},
                "path": {"type": "string", "description": "The API path of its working directory"},
                "kernel_id": {"type": "string", "description": "An id of the client's choosing"}}},
                required=False)),
    },
    "/api/kernels/{kernel_id}": {
        "parameters": [_KERNEL_ID],
        "get": _op("kernels", "One kernel", {"200": _json(_ref("Kernel"), "The kernel"), "400": _ERROR,
                                             "404": _ERROR}, parameters=[
            _param("probe", "query", "`1`: add `responsive`, whether the kernel answers a kernel_info_request "
                                     "on its control channel (a stopped or wedged kernel does not)",
                   {"type": "string", "enum": ["0", "1", "false", "true"]}),
            _param("probe_timeout", "query", "Seconds the probe waits for the answer (default 5)",
                   {"type": "number", "exclusiveMinimum": 0, "maximum": 60})]),
        "delete": _op("kernels", "Shut the kernel down", {"204": _EMPTY, "404": _ERROR}),
    },
    "/api/kernels/{kernel_id}/interrupt": {"parameters": [_KERNEL_ID], "post": _op(
        "kernels", "Interrupt the kernel; one still starting, once it has started", {
            "204": _EMPTY, "404": _ERROR, "503": _ERROR})},
    "/api/kernels/{kernel_id}/restart": {"parameters": [_KERNEL_ID], "post": _op(
        "kernels", "Restart the kernel; answers once it is ready", {
            "200": _json(_ref("Kernel"), "Restarted", Location=_LOCATION), "404": _ERROR, "500": _ERROR})},
    "/api/kernels/{kernel_id}/channels": {"parameters": [_KERNEL_ID], "get": _op(
        "kernels", "The kernel's WebSocket (subprotocol v1.kernel.websocket.jupyter.org, or none: JSON)", {
            **_WEBSOCKET, "400": _ERROR, "404": _ERROR}, parameters=[
            _param("session_id", "query", "The client's session id (messages to it are kept a while after a "
                                          "disconnection, and replayed on reconnection)")])},
    "/api/sessions": {
        "get": _op("sessions", "The sessions", {"200": _json({"type": "array", "items": _ref("Session")},
                                                              "The sessions")}),
        "post": _op("sessions", "Create a session (the existing one for that path is answered as is)", {
            "201": _json(_ref("Session"), "The session", Location=_LOCATION), "400": _ERROR,
            "501": _json(_ref("KernelUnavailable"), "The kernel cannot be started")},
            requestBody=_body(_ref("SessionRequest"))),
    },
    "/api/sessions/{session_id}": {
        "parameters": [_SESSION_ID],
        "get": _op("sessions", "One session", {"200": _json(_ref("Session"), "The session"), "404": _ERROR}),
        "patch": _op("sessions", "Change its path, name, type or kernel", {
            "200": _json(_ref("Session"), "The session"), "400": _ERROR, "404": _ERROR,
            "501": _json(_ref("KernelUnavailable"), "The new kernel cannot be started")},
            requestBody=_body(_ref("SessionRequest"))),
        "delete": _op("sessions", "Delete the session and shut its kernel down", {"204": _EMPTY, "404": _ERROR}),
    },
    "/api/events": {"post": _op("events", "Emit an event (validated against its registered schema)", {
        "204": _EMPTY, "400": _ERROR}, requestBody=_body(_ref("Event")))},
    "/api/events/subscribe": {"get": _op("events", "A WebSocket carrying one JSON text frame per event",
                                         {**_WEBSOCKET, "400": _ERROR})},
    "/api/terminals": {
        "get": _op("terminals", "The terminals", {"200": _json({"type": "array", "items": _ref("Terminal")},
                                                                "The terminals")}),
        "post": _op("terminals", "Start a terminal (200, not 201, and no Location, as jupyter_server_terminals)", {
            "200": _json(_ref("Terminal"), "The terminal"), "400": _ERROR, "404": _ERROR},
            requestBody=_body({"type": "object", "properties": {
                "name": {"type": "string", "description": "Its name (`\\w+`; default: the smallest free number)"},
                "cwd": {"type": "string", "description": "Its folder, relative to the root"}}}, required=False)),
    },
    "/api/terminals/{name}": {
        "parameters": [_param("name", "path", "A terminal's name")],
        "get": _op("terminals", "One terminal", {"200": _json(_ref("Terminal"), "The terminal"), "404": _ERROR}),
        "delete": _op("terminals", "End the terminal's shell", {"204": _EMPTY, "404": _ERROR}),
    },
    "/terminals/websocket/{name}": {"parameters": [_param("name", "path", "A terminal's name")], "get": _op(
        "terminals", "The terminal's WebSocket (terminado's JSON arrays: setup, stdout, stdin, set_size, "
                     "disconnect)", {**_WEBSOCKET, "400": _ERROR, "404": _ERROR})},
    "/api/nbconvert": {"get": _op("nbconvert", "nbconvert's exporters and the MIME type of what each makes", {
        "200": _json({"type": "object", "additionalProperties": {
            "type": "object", "required": ["output_mimetype"],
            "properties": {"output_mimetype": _NULLABLE_STRING}}}, "The exporters")})},
    "/nbconvert/{fmt}/{api_path}": {"parameters": [_param("fmt", "path", "An nbconvert exporter (`/api/nbconvert`)"),
                                                  _API_PATH], "get": {
        "tags": ["nbconvert"], "summary": "The notebook converted by nbconvert (a path that is no notebook: "
                                          "a redirect to /files or /tree)",
        "parameters": [_param("download", "query", "`true`: as an attachment named after the notebook"),
                       _param("sanitize_html", "query", "`true` or `false`: the html exporter's option")],
        "responses": {"200": {"description": "The converted notebook", "content": {"*/*": {"schema": {}}}},
                      "302": {"description": "Not a notebook: its /files or /tree URL"},
                      "404": _ERROR, "500": _ERROR}}},
    "/nbconvert/{fmt}": {"parameters": [_param("fmt", "path", "An nbconvert exporter (`/api/nbconvert`)")],
                         "post": {
        "tags": ["nbconvert"], "summary": "A notebook model in the body converted by nbconvert",
        "requestBody": _body({"type": "object", "required": ["content"], "properties": {
            "name": {"type": "string"}, "content": {"type": "object"}}}),
        "responses": {"200": {"description": "The converted notebook", "content": {"*/*": {"schema": {}}}},
                      "400": _ERROR, "403": _ERROR, "404": _ERROR, "500": _ERROR}}},
    "/api/shutdown": {"post": _op("server", "Shut every kernel down, then stop the server (as SIGTERM)", {
        "200": {"description": "Stopping, the kernels shut down (an empty body)"},
        "501": _ERROR})},
    "/api/security/csp-report": {"post": _op("security", "A browser's Content-Security-Policy violation report "
                                                         "(logged)", {
        "200": {"description": "Logged (an empty body)"}},
        requestBody={"required": False, "content": {"application/csp-report": {"schema": _OBJECT},
                                                    "application/json": {"schema": _OBJECT}}})},
    "/files/{api_path}": {"parameters": [_API_PATH], "get": {
        "tags": ["files"], "summary": "A file's bytes, for downloads and relative links in documents",
        "parameters": [_param("download", "query", "`1`: as an attachment")],
        "responses": {"200": {"description": "The file", "content": {"*/*": {"schema": {}}}},
                      "403": {"description": "Not allowed", "content": {"text/plain": {"schema": {"type": "string"}}}},
                      "404": {"description": "No such file", "content": {"text/plain": {"schema": {"type": "string"}}}},
                      }}},
    "/kernelspecs/{name}/{filename}": {"parameters": [_param("name", "path", "A kernelspec's name"),
                                                      _param("filename", "path", "A file of its resources")],
                                       "get": {"tags": ["kernelspecs"], "summary": "A kernelspec's logo or script",
                                               "responses": {"200": {"description": "The file",
                                                                     "content": {"*/*": {"schema": {}}}},
                                                             "404": {"description": "No such file"}}}},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "flask-notebook: the Jupyter Server REST API and ours",
        "version": "2.21.1",
        "description": "Every endpoint this server serves: jupyter_server 2.21's REST API as it answers (errors "
                       "are JSON `{message, reason}`), REST execution and a warm kernel pool. Not described: "
                       "the browser UI's pages, /login, /logout, /static. Authenticate with `Authorization: "
                       "token <token>` (or `?token=`), or the login cookie with `X-XSRFToken` on unsafe methods. "
                       "POST /api/shutdown stops the server: leave it out of test runs.",
    },
    "security": [{"token": []}],
    "paths": openapi.with_auth_errors({**JUPYTER_PATHS, **openapi.SPEC["paths"]}),
    "components": {
        "securitySchemes": openapi.SPEC["components"]["securitySchemes"],
        "responses": {"Error": _json(_ref("Error"), "An error: `message` for people, `reason` for programs")},
        "schemas": {**openapi.SPEC["components"]["schemas"], **SCHEMAS},
    },
}

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def openapi_path(rule: str) -> str:
    """A werkzeug rule as an OpenAPI path: ``/api/kernels/<kernel_id>`` is ``/api/kernels/{kernel_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def served_operations(app: Flask) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every route of the notebook mounted on `app`, relative to its
    mount point, but those in ``UNDESCRIBED``."""
    prefix = next(rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == "notebook.api.get_version")
    prefix = prefix.removesuffix("/api")
    operations = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("notebook.") or rule.endpoint in UNDESCRIBED:
            continue
        path = openapi_path(rule.rule[len(prefix):])
        if not rule.strict_slashes and path.endswith("/"):
            path = path.rstrip("/")  # `/api/contents/` is served as `/api/contents` too
        operations |= {(path, method.lower()) for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    return operations


def document_for(app: Flask, base_url: str) -> dict[str, Any]:
    """``DOCUMENT`` with only the operations `app` serves, for a server at `base_url`."""
    served = served_operations(app)
    paths: dict[str, Any] = {}
    for path, item in DOCUMENT["paths"].items():
        kept = {key: value for key, value in item.items() if key not in _METHODS or (path, key) in served}
        if any(key in _METHODS for key in kept):
            paths[path] = kept
    return {**DOCUMENT, "servers": [{"url": base_url or "/"}], "paths": paths}


@bp.get("/spec.yaml")
def get_spec() -> Response:
    """The document as YAML (`text/x-yaml`, as jupyter_server serves its own). Authenticated
    like every API URL: 403 JSON without credentials, where jupyter_server redirects to its
    login page, since no API URL answers with HTML."""
    base = url_for("notebook.api.get_version").removesuffix("/api")
    text = json.dumps(document_for(current_app, base), indent=1, ensure_ascii=True)
    return Response(text + "\n", 200, content_type="text/x-yaml")
