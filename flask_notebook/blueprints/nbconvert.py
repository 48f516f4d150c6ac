"""`GET /api/nbconvert`: nbconvert's export formats and their MIME types (contract section 2)."""

from __future__ import annotations

from flask import Blueprint, Response

from ..core.exporters import export_formats
from .http import json_response

bp = Blueprint("nbconvert", __name__, url_prefix="/nbconvert")


@bp.get("")
def list_exporters() -> Response:
    """``{name: {"output_mimetype": ...}}``, as jupyter_server answers it. The first call
    takes about a second (``core.exporters``); later ones are answered from memory."""
    return json_response(export_formats())
