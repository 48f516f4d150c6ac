"""`/api/kernels`: list, start, get, shut down, interrupt, restart (contract section 4)."""

from __future__ import annotations

from flask import Blueprint, Response, url_for

from ..core import errors
from ..core.gateway import kernel_env
from ..core.kernelrecords import Listed
from ..extension import state
from . import forward, ownership
from .http import json_body, json_response, query_arg
from .security import current_user

bp = Blueprint("kernels", __name__, url_prefix="/kernels")

def _location(kernel_id: str) -> dict[str, str]:
    return {"Location": url_for(".get_kernel", kernel_id=kernel_id)}


@bp.get("")
def list_kernels() -> Response:
    state().kernels.await_reattached()  # kernels being re-attached at start-up are listed
    found = state().kernels.listing(ownership.user())
    held = forward.held_models(k for k in found if isinstance(k, Listed))  # replicas: as their holders see them
    return json_response([held.get(k.id) or ownership.kernel_model(k) for k in found])


@bp.post("")
def start_kernel() -> Response:
    st = state()
    body = json_body() or {}
    if not isinstance(body, dict):
        raise errors.Invalid("The body must be a JSON object")
    # As jupyter_server reads them: an empty value (null, "", [], ...) counts as absent, and
    # `path` is taken as text whatever it is (a folder that does not exist: the nearest one up).
    name, path, kernel_id = body.get("name") or None, body.get("path") or None, body.get("kernel_id") or None
    if path is not None and not isinstance(path, str):
        path = str(path)
    for field, value in (("name", name), ("kernel_id", kernel_id)):
        if value is not None and not isinstance(value, str):
            raise errors.Invalid(f"'{field}' must be a string")
    env = kernel_env(body.get("env"), st.settings.gateway_kernel_env, gateway=st.settings.gateway_url is not None)
    cwd = st.sessions.kernel_cwd(path or "", is_dir=True, root=ownership.workspace().root)
    # The server's own user (the token) is the operator: NOTEBOOK_MAX_KERNELS bounds it, not
    # the per-user limit (its identity is not even stable: one per token login).
    kernel = st.kernels.start_kernel(name or None, cwd=cwd, kernel_id=kernel_id or None, owner=ownership.owner(),
                                     limited=not current_user().server, env=env)
    return json_response(ownership.kernel_model(kernel), 201, _location(kernel.id))


#: How long ``?probe=1`` waits for the kernel's answer by default, and at most.
PROBE_TIMEOUT = 5.0
MAX_PROBE_TIMEOUT = 60.0


@bp.get("/<kernel_id>")
def get_kernel(kernel_id: str) -> Response:
    """The kernel's model, as jupyter_server's. With ``?probe=1`` (or ``true``), also
    ``responsive``: whether the kernel answered a ``kernel_info_request`` on its control
    channel within ``probe_timeout`` seconds (default 5, at most 60)."""
    kernel = ownership.kernel(kernel_id)
    probe = (query_arg("probe") or "").lower()
    if probe not in ("", "0", "false", "1", "true"):
        raise errors.Invalid("'probe' must be 1 or 0 (true or false)", reason="bad field: probe")
    timeout = _probe_timeout() if probe in ("1", "true") else None
    model = ownership.kernel_model(kernel)
    if timeout is not None:
        model["responsive"] = kernel.responsive(timeout)
    return json_response(model)


def _probe_timeout() -> float:
    raw = query_arg("probe_timeout")
    if raw is None:
        return PROBE_TIMEOUT
    try:
        timeout = float(raw)
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= MAX_PROBE_TIMEOUT:  # (false for nan too)
        raise errors.Invalid(f"'probe_timeout' must be a number of seconds above 0, at most {MAX_PROBE_TIMEOUT:g}",
                             reason="bad field: probe_timeout")
    return timeout


@bp.delete("/<kernel_id>")
def shutdown_kernel(kernel_id: str) -> Response:
    ownership.kernel(kernel_id)
    state().kernels.shutdown_kernel(kernel_id)
    return Response(status=204)


@bp.post("/<kernel_id>/interrupt")
def interrupt_kernel(kernel_id: str) -> Response:
    """204 once the kernel is interrupted: for a kernel still starting, once it has started
    (``KernelRegistry.interrupt``)."""
    st = state()
    ownership.kernel(kernel_id)
    st.kernels.interrupt_kernel(kernel_id, timeout=st.settings.kernel_info_timeout)
    return Response(status=204)


@bp.post("/<kernel_id>/restart")
def restart_kernel(kernel_id: str) -> Response:
    st = state()
    ownership.kernel(kernel_id)
    kernel = st.kernels.restart_kernel(kernel_id, timeout=st.settings.kernel_info_timeout)
    return json_response(ownership.kernel_model(kernel), 200, _location(kernel.id))
