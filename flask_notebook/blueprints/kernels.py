"""`/api/kernels`: list, start, get, shut down, interrupt, restart (contract section 4)."""

from __future__ import annotations

from flask import Blueprint, Response, url_for

from ..core import errors
from ..extension import state
from .http import json_body, json_response

bp = Blueprint("kernels", __name__, url_prefix="/kernels")

def _location(kernel_id: str) -> dict[str, str]:
    return {"Location": url_for(".get_kernel", kernel_id=kernel_id)}


@bp.get("")
def list_kernels() -> Response:
    return json_response([k.model() for k in state().kernels.all()])


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
    cwd = st.sessions.kernel_cwd(path or "", is_dir=True)
    kernel = st.kernels.start(name or None, cwd=cwd, kernel_id=kernel_id or None)
    return json_response(kernel.model(), 201, _location(kernel.id))


@bp.get("/<kernel_id>")
def get_kernel(kernel_id: str) -> Response:
    return json_response(state().kernels.get(kernel_id).model())


@bp.delete("/<kernel_id>")
def shutdown_kernel(kernel_id: str) -> Response:
    state().kernels.shutdown(kernel_id)
    return Response(status=204)


@bp.post("/<kernel_id>/interrupt")
def interrupt_kernel(kernel_id: str) -> Response:
    state().kernels.interrupt(kernel_id)
    return Response(status=204)


@bp.post("/<kernel_id>/restart")
def restart_kernel(kernel_id: str) -> Response:
    st = state()
    kernel = st.kernels.restart(kernel_id, timeout=float(st.config["NOTEBOOK_KERNEL_INFO_TIMEOUT"]))
    return json_response(kernel.model(), 200, _location(kernel.id))
