"""`/api/sessions`: list, create, get, PATCH, delete (contract section 6)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, url_for

from ..core import errors
from ..core.gateway import kernel_env
from ..extension import state
from . import forward, ownership
from .http import json_body, json_response
from .security import current_user

bp = Blueprint("sessions", __name__, url_prefix="/sessions")


def _body(*, patch: bool = False, session_id: str | None = None) -> dict[str, Any]:
    """The request's body, the legacy form read as the current one.

    :param session_id: the session a PATCH names: unknown, it is a 404 before anything but a
        missing body is reported, as in jupyter_server.
    """
    body = json_body()
    if body is None:
        raise errors.Invalid("No JSON data provided")
    if session_id is not None:
        state().sessions.get(session_id, ownership.user())
    if not isinstance(body, dict):
        raise errors.Invalid("The body must be a JSON object")
    return _legacy_body(body, patch=patch) if "notebook" in body else body


def _legacy_body(body: dict[str, Any], *, patch: bool) -> dict[str, Any]:
    """The deprecated form ``{"notebook": {"path" | "name"}}``, read as jupyter_server reads it.

    On POST any ``notebook`` key makes the type ``notebook``, and its ``name``, else its
    ``path``, replaces a top-level ``path``. On PATCH only a ``notebook.path`` counts, and
    sets both. (jupyter_server fails with 500 on a ``notebook`` that is not an object.)
    """
    notebook = body["notebook"]
    if not isinstance(notebook, dict):
        raise errors.Invalid("'notebook' must be an object with 'path' or 'name'")
    if patch:
        return {**body, "path": notebook["path"], "type": "notebook"} if "path" in notebook else body
    body = {**body, "type": "notebook"}
    if "name" in notebook:
        body["path"] = notebook["name"]
    elif "path" in notebook:
        body["path"] = notebook["path"]
    return body


def _string(body: dict[str, Any], field: str, *, required: bool = False) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise errors.Invalid(f"Missing field in JSON data: {field}")
        return None
    if not isinstance(value, str):
        raise errors.Invalid(f"'{field}' must be a string")
    return value


def _kernel_error(kernel_name: str, exc: errors.NotebookError) -> Response:
    """jupyter_server answers 501 with a message JupyterLab shows, and a short form."""
    if isinstance(exc, errors.NotFound):
        message = (f"The '{kernel_name}' kernel is not available. Please pick another suitable kernel "
                   "instead, or install that kernel.")
        short = f"{kernel_name} not found"
    else:
        message = f"The '{kernel_name}' kernel could not be started: '{exc.message}'"
        short = f"Error starting kernel {kernel_name}"
    return json_response({"message": message, "reason": exc.reason, "short_message": short}, 501)


@bp.get("")
def list_sessions() -> Response:
    # Replicas: the kernels other replicas hold, as their holders see them (``forward``).
    models = state().sessions.list(ownership.user(), held_elsewhere=forward.held_models)
    return json_response([ownership.session_model(model) for model in models])


@bp.post("")
def create_session() -> Response:
    st = state()
    body = _body()
    path = _string(body, "path", required=True)
    type_ = _string(body, "type", required=True)
    name = _string(body, "name")
    kernel = body.get("kernel") or {}
    if not isinstance(kernel, dict):
        raise errors.Invalid("'kernel' must be an object with 'name' or 'id'")
    kernel_name = _string(kernel, "name")
    kernel_id = _string(kernel, "id")
    env = kernel_env(kernel.get("env"), st.settings.gateway_kernel_env, gateway=st.settings.gateway_url is not None)
    assert path is not None and type_ is not None
    try:
        model = st.sessions.create(path, type_, name, kernel_name, kernel_id, user=ownership.user(),
                                   owner=ownership.owner(), root=ownership.workspace().root,
                                   limited=not current_user().server, env=env)
    except (errors.NotFound, errors.KernelFailed) as exc:
        return _kernel_error(kernel_name or st.kernelspecs.default_name, exc)
    return json_response(ownership.session_model(model), 201,
                         {"Location": url_for(".get_session", session_id=model["id"])})


@bp.get("/<session_id>")
def get_session(session_id: str) -> Response:
    return json_response(ownership.session_model(state().sessions.get(session_id, ownership.user())))


@bp.patch("/<session_id>")
def update_session(session_id: str) -> Response:
    st = state()
    body = _body(patch=True, session_id=session_id)
    for field in ("path", "name", "type"):
        _string(body, field)
    kernel = body.get("kernel")
    if kernel is not None and not isinstance(kernel, dict):
        raise errors.Invalid("'kernel' must be an object with 'name' or 'id'")
    new_kernel = kernel.get("name") if kernel and kernel.get("id") is None else None
    if new_kernel is not None:
        try:
            st.kernelspecs.get_spec(str(new_kernel))
        except errors.NotFound as exc:
            return _kernel_error(str(new_kernel), exc)
    try:
        model = st.sessions.update(session_id, body, user=ownership.user(), limited=not current_user().server)
    except errors.KernelFailed as exc:
        return _kernel_error(str(new_kernel), exc)
    return json_response(ownership.session_model(model))


@bp.delete("/<session_id>")
def delete_session(session_id: str) -> Response:
    state().sessions.delete(session_id, user=ownership.user())
    return Response(status=204)
