"""`/api/kernelspecs` and the spec resources under `/kernelspecs/<name>/<file>` (contract section 7)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, send_from_directory, url_for

from ..core import errors
from ..core.gateway import GatewayKernelspecs
from ..extension import state
from .http import json_response

bp = Blueprint("kernelspecs", __name__, url_prefix="/kernelspecs")
resources_bp = Blueprint("kernelspec_resources", __name__, url_prefix="/kernelspecs")


def _spec_model(spec: dict[str, Any]) -> dict[str, Any]:
    name = spec["name"]
    resources = {
        key: url_for("notebook.kernelspec_resources.get_resource", name=name, filename=filename)
        for key, filename in spec["resource_files"].items()
    }
    return {"name": name, "spec": spec["spec"], "resources": resources}


@bp.get("")
def list_kernelspecs() -> Response:
    kernelspecs = state().kernelspecs
    specs = {name: _spec_model(spec) for name, spec in kernelspecs.all_specs().items()}
    return json_response({"default": kernelspecs.default_name, "kernelspecs": specs})


@bp.get("/<name>")
def get_kernelspec(name: str) -> Response:
    return json_response(_spec_model(state().kernelspecs.get_spec(name)))


@resources_bp.get("/<name>/<nb_path:filename>")
def get_resource(name: str, filename: str) -> Response:
    kernelspecs = state().kernelspecs
    max_age = 30 * 24 * 3600 if filename.endswith(".png") else 0
    if isinstance(kernelspecs, GatewayKernelspecs):  # the gateway has the files: proxied
        try:
            data, mimetype = kernelspecs.resource(name, filename)
        except errors.NotFound:
            abort(404)
        response = Response(data, mimetype=mimetype)
        response.cache_control.max_age = max_age
        return response
    try:
        resource_dir = kernelspecs.resource_dir(name)
    except errors.NotFound:
        abort(404)
    return send_from_directory(resource_dir, filename, max_age=max_age)
