"""The pages. For now the landing page; the file browser and editor build on it."""

from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template, url_for

from ..extension import state
from . import security
from .http import offload

bp = Blueprint("ui", __name__)


@bp.get("/")
def index() -> Response:
    nb_config = {
        "baseUrl": url_for("notebook.ui.index"),
        "apiUrl": url_for("notebook.api.get_version"),
        "contentsUrl": url_for("notebook.api.contents.get_contents"),
    }
    listing = offload(state().contents.get, "", content=True)
    entries = sorted(listing["content"], key=lambda m: (m["type"] != "directory", m["name"].lower()))
    response = make_response(render_template("flask_notebook/index.html", nb_config=nb_config, entries=entries))
    security.ensure_xsrf_cookie(response)
    return response
