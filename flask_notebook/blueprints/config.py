"""`/api/config/<section>`: frontend config sections, read merged, written to this server's
store (``core.config``; contract section 8)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from ..core import errors
from ..core.config import SECTION_NAME, ConfigSections
from ..extension import state
from . import ownership
from .http import json_body, json_response, offload

bp = Blueprint("config", __name__, url_prefix="/config")

#: The section our own pages keep each user's settings in (the notebook page's Settings menu):
#: ``theme`` ("light", "dark" or "system"), ``autosaveInterval`` (seconds, 0: no autosave),
#: ``lineNumbers`` (bool: new editors show line numbers), ``codeFontSize`` (px, 8 to 32),
#: ``hoverHelp`` (bool: the kernel's help when the mouse rests on a name in a code cell).
UI_SECTION = "flask_notebook"
THEMES = ("light", "dark", "system")
FONT_SIZES = range(8, 33)


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


def _sections() -> ConfigSections:
    """This server's store for its own user (the token's or a password's logins are one user:
    whoever holds it); any other user's own (``ConfigSections.for_user``, their workspace's)."""
    user = ownership.user()
    if user.server:
        return state().config_sections
    return ownership.workspace().config_sections if state().workspaces.per_user \
        else state().config_sections.for_user(user.username)


def ui_settings() -> dict[str, Any]:
    """The request's user's UI settings (``UI_SECTION``), only the keys and values our pages
    know: the page puts them in its config and on ``<html>`` before the first paint."""
    stored = offload(_sections().get, UI_SECTION)
    settings: dict[str, Any] = {}
    if stored.get("theme") in THEMES:
        settings["theme"] = stored["theme"]
    interval = stored.get("autosaveInterval")
    if isinstance(interval, (int, float)) and not isinstance(interval, bool) and 0 <= interval <= 86400:
        settings["autosaveInterval"] = interval
    if isinstance(stored.get("lineNumbers"), bool):
        settings["lineNumbers"] = stored["lineNumbers"]
    if isinstance(stored.get("hoverHelp"), bool):
        settings["hoverHelp"] = stored["hoverHelp"]
    size = stored.get("codeFontSize")
    if isinstance(size, int) and not isinstance(size, bool) and size in FONT_SIZES:
        settings["codeFontSize"] = size
    return settings


@bp.get("/<section>")
def get_config(section: str) -> Response:
    return json_response(offload(_sections().get, _section(section)))


@bp.put("/<section>")
def set_config(section: str) -> Response:
    """Replace this server's section: 204. Written in the thread pool: it fsyncs."""
    section = _section(section)
    offload(_sections().set, section, _object_body())
    return Response(status=204)


@bp.patch("/<section>")
def update_config(section: str) -> Response:
    """Merge into this server's section (``null`` removes a key); answer the stored section."""
    section = _section(section)
    return json_response(offload(_sections().update, section, _object_body()))
