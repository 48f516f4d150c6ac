"""`/files/<path>`: raw downloads, used for "Download" and for relative images in Markdown."""

from __future__ import annotations

import mimetypes
import os
from urllib.parse import urlsplit

from flask import Blueprint, Response, g, request, send_file

from ..core import errors
from . import ownership, security

bp = Blueprint("files", __name__, url_prefix="/files")


@bp.get("/<nb_path:api_path>", merge_slashes=False)
def get_file(api_path: str) -> Response:
    contents = ownership.workspace().contents
    # Errors are plain text (the notebook blueprint's handler), never a host's HTML page.
    missing = errors.NotFound(f"No such file: {api_path}")
    try:
        os_path = contents.root.os_path(api_path)
    except (errors.NotFound, errors.NameTooLong):
        raise missing from None
    if contents.root.refuse_hidden(api_path) or not os.path.isfile(os_path):
        raise missing
    if not g.notebook_proven:
        check_referer()
    name = os.path.basename(os_path)
    mimetype = "application/x-ipynb+json" if name.endswith(".ipynb") else mimetypes.guess_type(name)[0]
    mimetype = mimetype or "text/plain"
    attachment = name.endswith(".ipynb") or request.args.get("download") in ("1", "true")
    response = send_file(os_path, mimetype=mimetype, as_attachment=attachment, download_name=name,
                         conditional=True, etag=True, max_age=0)
    if mimetype.startswith("text/"):
        response.headers["Content-Type"] = f"{mimetype}; charset=UTF-8"  # as jupyter_server sends it
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = security.content_security_policy("sandbox allow-scripts")
    return response


def check_referer() -> None:
    """A cookie-authenticated download must come from one of our pages (or carry `_xsrf`)."""
    referer = request.headers.get("Referer")
    if referer and urlsplit(referer).netloc.lower() == request.host.lower():
        return
    given, cookie = request.args.get(security.XSRF_COOKIE), request.cookies.get(security.XSRF_COOKIE)
    if given and cookie and given == cookie:
        return
    raise errors.Forbidden("A download must come from this server's pages (a same-origin Referer, or _xsrf)")
