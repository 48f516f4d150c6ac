"""``GET /nbconvert/<format>/<path>`` and ``POST /nbconvert/<format>``: a notebook converted
by nbconvert (``core.exporters``), as jupyter_server 2.21's ``nbconvert/handlers.py`` answers.

- The notebook is the request user's (their workspace); the answer is a download, never a
  file written anywhere. ``?download=true`` makes it an attachment named after the notebook
  with the exporter's extension (``filename*=utf-8''…``); output with extracted images (e.g.
  Markdown of a notebook with plots) comes as ``<name>.zip``, as there.
- ``Content-Type`` is the exporter's MIME type with ``charset=utf-8``; HTML is confined by
  ``Content-Security-Policy: sandbox allow-scripts`` so its scripts cannot use our origin.
  HTML only for a format that makes pages: a script, Markdown or notebook export is always a
  text type (``script``: its language's, text/x-python, whatever the notebook's metadata says;
  ``text/plain`` when none is known), with ``nosniff`` (``exporters.served_mimetype``).
- Errors are JSON ``{"message", "reason"}`` (jupyter_server's are HTML pages here): 404
  ``No exporter for format: x`` (also for webpdf without chromium, with the cause in
  ``reason``), 404 for a missing notebook, 500 ``nbconvert failed: …``. A path that is a
  file or a directory, not a notebook, is redirected to ``/files/`` or ``/tree/``.

Deliberate differences: a ``script`` export of an ipykernel notebook is ``text/x-python``
(jupyter_server sends tornado's default ``text/html`` then, as the ScriptExporter delegates and
keeps no type of its own: a browser would render the Python as a page); a PDF is ``application/pdf`` (WebPDFExporter inherits HTML's
``text/html``, which jupyter_server sends), and a space in a download's file name is ``%20``
(tornado's ``url_escape`` makes it ``+``, which browsers keep as a plus).
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from urllib.parse import quote

from flask import Blueprint, Response, g, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from ..core import errors, exporters
from . import errors as api_errors
from . import files, ownership, security
from .http import http_date, json_body, offload

bp = Blueprint("export", __name__, url_prefix="/nbconvert")
api_errors.register(bp)  # JSON errors, as the API's

_FORMAT = re.compile(r"\w+")
_NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0"


@bp.get("/<fmt>/<nb_path:api_path>", merge_slashes=False)
def convert_notebook(fmt: str, api_path: str) -> BaseResponse:
    """The notebook at `api_path` in format `fmt`; ``?download=true`` as an attachment,
    ``?sanitize_html=true|false`` for html."""
    if not g.notebook_proven:
        files.check_referer()
    _check_format(fmt)
    contents = ownership.workspace().contents
    model = offload(contents.get, api_path)
    if model["type"] == "directory":
        return redirect(url_for("notebook.ui.tree", api_path=model["path"]))
    if model["type"] != "notebook":
        return redirect(url_for("notebook.files.get_file", api_path=model["path"]))
    model = contents.finish_get(model)
    name = model["name"]
    modified = datetime.fromisoformat(model["last_modified"].replace("Z", "+00:00"))
    metadata = {"name": os.path.splitext(name)[0], "modified_date": f"{modified:%B} {modified.day}, {modified.year}",
                "path": os.path.dirname(contents.root.os_path(model["path"]))}
    sanitize = request.args.get("sanitize_html")
    converted = exporters.convert(fmt, model["content"], notebook_name=name, resources={"metadata": metadata},
                                  sanitize_html=None if sanitize is None else sanitize.lower() == "true")
    response = _answer(converted, name)
    response.headers["Last-Modified"] = http_date(model["last_modified"])
    if not converted.zip and request.args.get("download", "false").lower() == "true":
        _attach(response, os.path.splitext(name)[0] + converted.extension)
    response.headers["Cache-Control"] = _NO_CACHE
    return response


@bp.post("/<fmt>")
def convert_model(fmt: str) -> BaseResponse:
    """A notebook model in the body (``{"name"?, "content"}``) converted to `fmt`."""
    _check_format(fmt)
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("content"), dict):
        raise errors.Invalid("The body must be a notebook model with its content")
    name = body.get("name")
    name = name if isinstance(name, str) and name else "notebook.ipynb"
    stem = name.rpartition(".")[0] or name
    converted = exporters.convert(fmt, body["content"], notebook_name=name, resources={"metadata": {"name": stem}})
    return _answer(converted, name)


def _check_format(fmt: str) -> None:
    if not _FORMAT.fullmatch(fmt):
        raise errors.NotFound(f"No exporter for format: {fmt}")
    exporters.check_format(fmt)


def _answer(converted: exporters.Converted, name: str) -> Response:
    response = Response(converted.body)
    if converted.zip:
        response.headers["Content-Type"] = "application/zip"
        response.headers["Cache-Control"] = _NO_CACHE
        _attach(response, os.path.splitext(name)[0] + ".zip")
    elif converted.mimetype == "application/pdf":
        response.headers["Content-Type"] = "application/pdf"
    else:  # a page only for html and slides; code and text always a text type (exporters.served_mimetype)
        response.headers["Content-Type"] = f"{converted.mimetype}; charset=utf-8"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = security.content_security_policy("sandbox allow-scripts")
    return response


def _attach(response: Response, filename: str) -> None:
    response.headers["Content-Disposition"] = f"attachment; filename*=utf-8''{quote(filename, safe='')}"
