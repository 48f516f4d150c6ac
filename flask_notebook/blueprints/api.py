"""`/api`: the version, who am I, server status; and what every API response carries."""

from __future__ import annotations

import logging
from hashlib import sha1
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, g, redirect, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response as BaseResponse

from ..core import auth, errors
from ..core.paths import iso_utc
from ..core.users import User
from ..extension import state
from ..transport import upgrade
from . import ownership, security
from .errors import error_response
from .http import json_body, json_response, query_arg

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api")

#: How much of a CSP report is read: reports are small; a bigger body is not one.
_CSP_REPORT_READ = 64 * 1024

#: The jupyter_server release whose protocol we speak; clients gate features on it.
JUPYTER_SERVER_VERSION = "2.21.1"


@bp.get("")
def get_version() -> Response:
    from .. import __version__

    return json_response({"version": JUPYTER_SERVER_VERSION, "flask_notebook": __version__})


@bp.get("/")
def redirect_slash() -> BaseResponse:
    """`/api/` answers 302 to `/api`, as every trailing-slash URL does in jupyter_server."""
    return redirect(url_for(".get_version"), 302)


@bp.route("/notebooks", defaults={"api_path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/notebooks/<nb_path:api_path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def redirect_notebooks(api_path: str) -> BaseResponse:
    """The deprecated `/api/notebooks/<path>` is `/api/contents/<path>` (302, no auth needed)."""
    target = url_for(".contents.get_contents", api_path=api_path) if api_path else url_for(".contents.get_contents")
    return redirect(target, 302)


@bp.get("/me")
def get_me() -> Response:
    """Who is asking, and which of the `permissions` asked for they have, plus the identity
    fields they may change: jupyter_server's answer. An empty `permissions` asks for nothing,
    as there. Every action is allowed (jupyter_server's default authorizer) but writing the
    ``server`` resource (``POST /api/shutdown``), which is an administrator's only.

    Ours besides, under ``flask_notebook``: whether the user is an administrator (sees and
    manages every user's kernels and sessions), their roles, and where they log out (None
    with the host's login, or with authentication off)."""
    raw = query_arg("permissions", "") or ""
    requested: Any = {}
    if raw:
        try:
            requested = orjson.loads(raw)
        except orjson.JSONDecodeError:
            requested = None
        if not isinstance(requested, dict) or not all(
            isinstance(actions, list) and all(isinstance(a, str) for a in actions) for actions in requested.values()
        ):
            raise errors.Invalid(f"permissions should be a JSON dict of {{\"resource\": [\"action\",]}}, got {raw!r}")
    user = security.current_user()
    permissions: dict[str, Any] = {resource: [action for action in actions if _permitted(user, resource, action)]
                                   for resource, actions in requested.items()}
    return json_response({"identity": g.notebook_identity,
                          "permissions": {**permissions, "updatable_fields": list(_updatable_fields())},
                          "flask_notebook": {"admin": user.admin, "roles": sorted(user.roles),
                                             "logout_url": security.logout_url()}})


def _permitted(user: User, resource: str, action: str) -> bool:
    """What jupyter_server's authorizer would answer: everything, but stopping the server
    (``server``/``write``, ``POST /api/shutdown``), which only an administrator may."""
    return user.admin or not (resource == "server" and action == "write")


@bp.patch("/me")
def update_me() -> Response:
    """Change the caller's display name, initials, avatar or color. The identity lives in the
    signed login cookie, so the answer sets it again, as jupyter_server does. A host's own
    identities (``authorize``) are the host's to change: none of their fields is updatable."""
    identity = auth.update_identity(g.notebook_identity, json_body(), _updatable_fields())
    g.notebook_identity = identity
    g.pop("notebook_new_login", None)  # this answer sets the cookie, with the new identity
    response = json_response({"status": "success", "identity": identity})
    security.set_login_cookie(response, identity, stamp=g.get("notebook_login_stamp"))
    return response


def _updatable_fields() -> tuple[str, ...]:
    return () if state().authorize is not None else auth.UPDATABLE_FIELDS


@bp.get("/resolvePath")
def resolve_path() -> Response:
    """Where `path` is: in the contents root (``scope: server``, an API path) and, with
    `kernel`, for that kernel (``scope: kernel``, an absolute path against its working
    directory), as jupyter_server 2.18+ answers. An unknown kernel is listed in `unresolved`
    (still 200). Nothing outside the root is ever resolved (``Root.resolve_path``)."""
    st = state()
    path = query_arg("path")
    if path is None:
        raise errors.Invalid("Missing argument path")
    resolved: list[dict[str, str]] = []
    unresolved: list[dict[str, str]] = []
    root = ownership.workspace().root
    server_path = root.resolve_path(path)
    if server_path is not None:
        resolved.append({"scope": "server", "path": server_path})
    kernel_id = query_arg("kernel")
    if kernel_id:
        try:
            kernel = st.kernels.get_kernel(kernel_id, user=ownership.user())
        except errors.NotFound:
            unresolved.append({"scope": "kernel", "reason": f"Kernel {kernel_id} could not be found"})
        else:
            kernel_path = root.resolve_kernel_path(path, kernel.cwd)
            if kernel_path is not None:
                resolved.append({"scope": "kernel", "path": kernel_path})
    body: dict[str, Any] = {"resolved": resolved}
    if unresolved:
        body["unresolved"] = unresolved
    return json_response(body)


@bp.get("/status")
def get_status() -> Response:
    """The caller's own kernels and their connections (every kernel's, for an administrator);
    the server's activity and start time."""
    st = state()
    kernels = st.kernels.list_kernels(ownership.user())
    return json_response(
        {
            "connections": sum(kernel.connections for kernel in kernels),
            "kernels": len(kernels),
            "last_activity": iso_utc(st.last_activity),
            "started": iso_utc(st.started),
        }
    )


@bp.post("/security/csp-report")
def report_csp() -> Response:
    """A browser's report of a Content-Security-Policy violation, logged as jupyter_server
    does (it answers 200 with an empty body). No XSRF or Origin check (``security.guard_api``).

    Only what says which rule was broken where is logged, and URLs without their query and
    fragment: a report's document URI may carry ``?token=``, and its script sample a cell's
    code; neither may reach the log."""
    try:
        body = orjson.loads(request.get_data(cache=False)[:_CSP_REPORT_READ])
    except orjson.JSONDecodeError:
        body = None
    report = body.get("csp-report") if isinstance(body, dict) else None
    if not isinstance(report, dict):
        log.warning("Content security violation: an unreadable report")
    else:
        fields = []
        for key in ("violated-directive", "effective-directive", "blocked-uri", "document-uri"):
            value = report.get(key)
            if isinstance(value, str):
                value = value[:200]
                fields.append(f"{key}={_without_query(value) if key.endswith('-uri') else value}")
        log.warning("Content security violation: %s", ", ".join(fields) or "no details")
    return Response(b"", 200, mimetype="application/json")


def _without_query(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0]


@bp.post("/shutdown")
def shutdown_server() -> Response:
    """Stop the server as SIGTERM does: every kernel is shut down before the answer (200,
    empty, as jupyter_server answers once its cleanup is done), then the whole service stops.

    Only where something can stop the whole service (``NotebookState.shutdown_server``):
    the standalone server and gunicorn.conf.py. Embedded in a host's site, stopping the
    host's process is not ours to do unless the host says how: 501 otherwise. Administrators
    only (403 for other users).
    """
    ownership.require_admin("shut the server down")
    st = state()
    if not _permitted(security.current_user(), "server", "write"):
        raise errors.Forbidden("Only an administrator may stop the server", reason="not an administrator")
    if st.shutdown_server is None:
        return error_response(501, "This server is not stopped through its API: the application it is part "
                                   "of decides when it stops")
    log.info("Shutting down on /api/shutdown request")
    st.kernels.shutdown_all(keep=False)  # also with NOTEBOOK_PERSIST_KERNELS: everything stops
    st.shutdown_server()
    return Response(b"", 200, mimetype="application/json")


@bp.get("/kernel_pool")
def get_kernel_pool() -> Response:
    """The warm kernel pool: per kernelspec, its size, and how many are ready or starting."""
    pool = state().pool
    return json_response(pool.status() if pool is not None else {})


# `/api` and `/api/` too, for the methods their own routes lack (without strict slashes, so
# that werkzeug does not redirect a POST to `/api` to `/api/` first).
@bp.route("/", defaults={"unknown": ""}, methods=["POST", "PUT", "PATCH", "DELETE"], strict_slashes=False)
@bp.route("/<nb_path:unknown>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def no_such_endpoint(unknown: str) -> Response:
    """Unknown API URLs get a JSON 404 (a 405 for a known URL and another method): a routing
    miss would never reach the blueprint's JSON error handlers."""
    if request.method == "GET" and unknown.endswith("/") and unknown.strip("/"):
        # jupyter_server sends every unrouted GET with a trailing slash to the URL without
        # it (`/api/kernels/` -> 302 `/api/kernels`), query kept.
        query = request.query_string.decode("latin-1")
        target = request.script_root + request.path.rstrip("/") + (f"?{query}" if query else "")
        return Response(status=302, headers={"Location": target})
    allowed = _http_methods()
    if allowed:
        raise MethodNotAllowed(valid_methods=sorted(allowed | ({"HEAD"} if "GET" in allowed else set())))
    raise errors.NotFound(f"No API endpoint at /api/{unknown}")


@bp.route("/", defaults={"unknown": ""}, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
          strict_slashes=False)
@bp.route("/<nb_path:unknown>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def no_such_websocket(unknown: str) -> Response:
    """A WebSocket upgrade to an API URL that has no WebSocket, or to one that has, with
    another method: a JSON 400 (405, 404). Unrouted, werkzeug refuses such a request with an
    HTML page, outside our JSON error handlers. jupyter_server ignores the Upgrade header
    there and answers as to plain HTTP (200 for `GET /api/status`); Flask cannot, as a rule
    is either WebSocket or not."""
    allowed = _http_methods()
    if request.method in allowed or (request.method == "HEAD" and "GET" in allowed):
        raise errors.Invalid(f"{request.path} is not a WebSocket endpoint")
    return no_such_endpoint(unknown)


@bp.record
def _route_upgrades(setup: BlueprintSetupState) -> None:
    """Make ``no_such_websocket`` a WebSocket rule, for every method. werkzeug refuses to
    build WebSocket rules for methods other than GET (a handshake is a GET), so a POST with
    ``Upgrade: websocket`` could reach no blueprint: werkzeug would answer it with its HTML
    405. ``Rule.websocket`` is read at match time only, so it is set after the rule is built.
    (Runs after the route above is added: deferred functions run in order.)"""
    endpoint = ".".join(part for part in (setup.name_prefix, setup.name, "no_such_websocket") if part)
    for rule in setup.app.url_map.iter_rules(endpoint):
        rule.websocket = True


def _http_methods() -> set[str]:
    """The methods that plain HTTP requests to this URL may use, but for the catch-all."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _ = adapter.match(method=method, websocket=False)
        except HTTPException:
            continue
        if endpoint not in (request.endpoint, f"{request.blueprint}.no_such_endpoint"):
            allowed.add(method)
    return allowed


def finish_response(response: Response) -> Response:
    """ETag and 304, security headers and CORS on every API response."""
    if upgrade.is_upgrade(request.environ):
        return response  # the WebSocket has come and gone; nothing is sent
    if request.method == "GET" and response.status_code == 200 and not response.is_streamed:
        if "ETag" not in response.headers:
            response.set_etag(sha1(response.get_data()).hexdigest())
        etag, _ = response.get_etag()
        if etag and request.if_none_match.contains(etag):
            response.status_code = 304
            response.set_data(b"")
            response.headers.pop("Content-Type", None)
    if response.status_code == 204:
        response.headers.pop("Content-Type", None)
    elif 300 <= response.status_code < 400 and response.location:
        response.set_data(b"")  # not werkzeug's HTML "Redirecting..." page: no API answer is HTML
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = security.content_security_policy("default-src 'none'")
    # Answers change under the client (a save, a new file): a browser must never reuse one
    # by itself. Validators still work: a client that sends If-None-Match gets its 304.
    response.headers.setdefault("Cache-Control", "no-store")
    return security.cors_headers(response)
