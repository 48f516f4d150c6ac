"""`/api/config/<section>`: frontend config sections, read merged, written to this server's
store (``core.config``; contract section 8)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from ..core import errors
from ..core.config import SECTION_NAME
from ..extension import state
from .http import json_body, json_response

bp = Blueprint("config", __name__, url_prefix="/config")


def _section(section: str) -> str:
    """jupyter_server serves only ``\\w+`` names; anything else is no endpoint at all."""
    if not SECTION_NAME.fullmatch(section):
        raise errors.NotFound(f"No API endpoint at /api/config/{section}")
    return section


def _object_body() -> dict[str, Any]:
    """The body, a JSON object. jupyter_server answers 500 to anything else (an empty body,
    a list, a string); a 400 says what is wrong instead."""
    body = json_body()
    if not isinstance(body, dict):
        raise errors.Invalid("The body must be a JSON object (the config section)")
    return body


@bp.get("/<section>")
def get_config(section: str) -> Response:
    return json_response(state().config_sections.get(_section(section)))


@bp.put("/<section>")
def set_config(section: str) -> Response:
    """Replace this server's section: 204."""
    section = _section(section)
    state().config_sections.set(section, _object_body())
    return Response(status=204)


@bp.patch("/<section>")
def update_config(section: str) -> Response:
    """Merge into this server's section (``null`` removes a key); answer the stored section."""
    section = _section(section)
    return json_response(state().config_sections.update(section, _object_body()))
