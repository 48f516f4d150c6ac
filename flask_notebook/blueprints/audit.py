"""The audit trail's one door for HTTP (NOTEBOOK_AUDIT_LOG): ``after_request`` of the
notebook blueprint maps endpoint, method and status to an action (``core.audit``), reading
ids from ``request.view_args`` and the body the view already read, so no view calls it.
The kernel WebSocket's ``execute_request`` messages come through ``websocket_executions``.

What counts: logins and logouts, kernel start/interrupt/restart/shutdown, executions over
REST, contents writes (save, upload, create, copy, mkdir, rename, delete, checkpoint
restore, trust), exports (``/nbconvert/``: path and format), session create/update/delete,
terminal create/delete; and, whatever the
endpoint, a 403 (``denied``), or a 404 on a URL naming a kernel, session, terminal or
execution (``denied``: another user's is answered 404 so as not to tell that it exists).

No line holds a token, password, cookie, header or query string: only the fields here.
``user`` is the user's name; for the server's own user (the token or NOTEBOOK_PASSWORD) it is
the name of that login's anonymous identity, which differs from login to login (a script
sending the token without cookies gets a new one each request), so such lines say
``"server_user": true`` as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from flask import Response, g, request

from ..core.audit import Audit
from ..core.users import User
from ..extension import state
from ..transport import upgrade
from . import forward

log = logging.getLogger(__name__)

#: (endpoint, method) -> action, for the endpoints whose every call is an action. Contents
#: writes are told apart by their body (``_contents_action``).
ACTIONS: dict[tuple[str, str], str] = {
    ("notebook.auth.submit_login", "POST"): "login",
    ("notebook.auth.logout", "GET"): "logout",
    ("notebook.api.kernels.start_kernel", "POST"): "kernel.start",
    ("notebook.api.kernels.interrupt_kernel", "POST"): "kernel.interrupt",
    ("notebook.api.kernels.restart_kernel", "POST"): "kernel.restart",
    ("notebook.api.kernels.shutdown_kernel", "DELETE"): "kernel.shutdown",
    ("notebook.api.execute.execute", "POST"): "execute",
    ("notebook.api.execute.execute_once", "POST"): "execute",
    ("notebook.api.contents.rename_contents", "PATCH"): "contents.rename",
    ("notebook.api.contents.delete_contents", "DELETE"): "contents.delete",
    ("notebook.api.contents.restore_checkpoint", "POST"): "contents.restore",
    ("notebook.api.contents.trust_notebook", "POST"): "contents.trust",
    ("notebook.api.sessions.create_session", "POST"): "session.create",
    ("notebook.api.sessions.update_session", "PATCH"): "session.update",
    ("notebook.api.sessions.delete_session", "DELETE"): "session.delete",
    ("notebook.api.terminals.create_terminal", "POST"): "terminal.create",
    ("notebook.api.terminals.terminate_terminal", "DELETE"): "terminal.delete",
    ("notebook.api.shutdown_server", "POST"): "server.shutdown",
    ("notebook.api.runs.create_run", "POST"): "run.start",
    ("notebook.api.runs.cancel_run", "DELETE"): "run.cancel",
    ("notebook.export.convert_notebook", "GET"): "contents.export",
    ("notebook.export.convert_model", "POST"): "contents.export",
}
#: The actions whose resource (or new path) is in the JSON answer.
_ANSWER_NEEDED = frozenset({"kernel.start", "session.create", "terminal.create", "execute", "contents.create",
                            "contents.mkdir", "contents.copy", "run.start"})
#: URL parts that name one owned thing: a 404 there may be an ownership check's answer.
_OWNED = ("kernel_id", "session_id", "request_id", "run_id")
_TERMINAL_BLUEPRINTS = ("notebook.api.terminals", "notebook.terminal_socket")


def after_request(response: Response) -> Response:
    audit = state().audit
    if audit is None:
        return response
    status = response.status_code
    if forward.forwarded():
        return response  # the replica that served it writes the line
    if upgrade.is_upgrade(request.environ) and status < 400:
        return response  # a WebSocket that has come and gone; refused ones are recorded below
    view_args = request.view_args or {}
    action = _action(request.endpoint or "", request.method)
    denied = status == 403 or (status == 404 and _names_owned_thing(view_args))
    if action is None and not denied:
        return response
    if action == "contents.upload" and status < 400 and _body().get("chunk") not in (None, -1):
        return response  # one line per upload: its last chunk's
    outcome = "denied" if denied or status == 429 else ("ok" if status < 400 else "failed")
    fields = _fields(action, response, view_args)
    if action is None:
        fields.setdefault("request", f"{request.method} {request.path}")  # the path only: never the query
    user: User | None = g.get("notebook_user")
    audit.record(action or "access", user=user.username if user is not None else None,
                 remote_addr=request.remote_addr, outcome=outcome, status=status,
                 server_user=True if user is not None and user.server else None, **fields)
    return response


def _names_owned_thing(view_args: dict[str, Any]) -> bool:
    return any(key in view_args for key in _OWNED) or ("name" in view_args and request.blueprint in _TERMINAL_BLUEPRINTS)


def action_of(endpoint: str, method: str) -> str | None:
    """The audit action a request to `endpoint` with `method` is (None: none), from the body
    its view read: also what ``/metrics`` counts contents operations by."""
    return _action(endpoint, method)


def _action(endpoint: str, method: str) -> str | None:
    if endpoint == "notebook.api.contents.save_contents" and method == "PUT":
        body = _body()
        if "chunk" in body or (body.get("type") == "file" and body.get("format") == "base64"):
            return "contents.upload"
        return "contents.mkdir" if body.get("type") == "directory" else "contents.save"
    if endpoint == "notebook.api.contents.create_contents" and method == "POST":
        body = _body()
        if body.get("copy_from"):
            return "contents.copy"
        return "contents.mkdir" if body.get("type") == "directory" else "contents.create"
    return ACTIONS.get((endpoint, method))


def _fields(action: str | None, response: Response, view_args: dict[str, Any]) -> dict[str, Any]:
    """The resource (a kernel, session, terminal or execution id), the path, and what else
    the action needs, from the URL, the body the view read, and a JSON answer."""
    body = _body()
    answer = _answer(response) if action in _ANSWER_NEEDED else {}
    fields: dict[str, Any] = {}
    if "api_path" in view_args:
        fields["path"] = view_args["api_path"] or "/"
    if action == "contents.rename" and isinstance(body.get("path"), str):
        fields["new_path"] = body["path"]
    elif action in ("contents.create", "contents.mkdir", "contents.copy") and isinstance(answer.get("path"), str):
        fields["path"] = answer["path"]  # the new file's name, chosen by the server
        if action == "contents.copy" and isinstance(body.get("copy_from"), str):
            fields["copy_from"] = body["copy_from"]
    elif action == "login":
        fields["name_tried"] = _known_name(request.form.get("username"))
        fields["method"] = "password" if request.form.get("username") else "token"
    if "kernel_id" in view_args:
        fields["resource"] = view_args["kernel_id"]
    if "session_id" in view_args:
        fields["resource"] = view_args["session_id"]
    if "name" in view_args and request.blueprint in _TERMINAL_BLUEPRINTS:
        fields["resource"] = view_args["name"]
    if action == "kernel.start":
        fields["resource"] = answer.get("id")
        fields.setdefault("path", body.get("path") if isinstance(body.get("path"), str) else None)
    elif action == "session.create":
        fields["resource"] = answer.get("id")
        fields["path"] = answer.get("path", body.get("path"))
        kernel = answer.get("kernel")
        fields["kernel_id"] = kernel.get("id") if isinstance(kernel, dict) else None
    elif action == "terminal.create":
        fields["resource"] = answer.get("name")
    elif action == "execute":
        fields.update(_execution_fields(body, answer, response))
    elif action == "run.start":
        fields["resource"] = answer.get("id")
        fields["path"] = answer.get("path", body.get("path"))
        fields["kernel_id"] = answer.get("kernel_id", body.get("kernel_id"))
    elif action == "contents.export":
        fields["format"] = view_args.get("fmt")
    if "run_id" in view_args:
        fields["resource"] = view_args["run_id"]
    if "request_id" in view_args:
        fields["execution"] = view_args["request_id"]
    return fields


def _execution_fields(body: dict[str, Any], answer: dict[str, Any], response: Response) -> dict[str, Any]:
    """An execution over REST: its kernel, its id (from the record, or the Location of a
    streamed answer), and its code (``core.audit`` writes it, its hash or nothing)."""
    execution = answer.get("id")
    if execution is None and response.location:
        execution = response.location.rstrip("/").rsplit("/", 1)[-1]
    code = body.get("code")
    return {"resource": answer.get("kernel_id") or (request.view_args or {}).get("kernel_id"),
            "execution": execution, "via": "rest", "code": code if isinstance(code, str) else None}


def _body() -> dict[str, Any]:
    """The JSON object the view read (``http.json_body``), or {}: a body is never read here,
    so neither one a view refused unread nor a login form's password."""
    body = g.get("notebook_json_body")
    return body if isinstance(body, dict) else {}


def _answer(response: Response) -> dict[str, Any]:
    if response.is_streamed or response.mimetype != "application/json":
        return {}
    try:
        answer = orjson.loads(response.get_data())
    except orjson.JSONDecodeError:
        return {}
    return answer if isinstance(answer, dict) else {}


def websocket_executions(kernel_id: str) -> Callable[[str, dict[str, Any]], None] | None:
    """For the kernel WebSocket (``transport.relay.attach``): a callback recording each
    ``execute_request`` its client sends (given its msg_id and content), as this request's
    user and address. None without an audit log, so the relay pays nothing then."""
    audit: Audit | None = state().audit
    if audit is None:
        return None
    user: User | None = g.get("notebook_user")
    username = user.username if user is not None else None
    server_user = True if user is not None and user.server else None
    remote_addr = request.remote_addr

    def on_execute(msg_id: str, content: dict[str, Any]) -> None:
        code = content.get("code")
        audit.record("execute", user=username, remote_addr=remote_addr, resource=kernel_id, via="websocket",
                     execution=msg_id, code=code if isinstance(code, str) else None, server_user=server_user)

    return on_execute



def _known_name(value: str | None) -> str | None:
    """`value` if it names a user of the users file, else None: people type passwords into the
    user name field, and what is not a user's name must not reach the audit trail."""
    users = state().users
    return value if value and users is not None and users.get(value) is not None else None
