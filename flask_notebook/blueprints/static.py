"""The blueprint whose static files are the pages' scripts and styles, sent gzipped when the
browser accepts it.

``scripts/build-assets.mjs`` writes ``name.gz`` beside every script and stylesheet it builds,
compressed once at the best level. ``send_static_file`` is Flask's documented place to change
how a blueprint serves its static folder: a request for ``build/x.js`` from a browser that
accepts gzip gets ``build/x.js.gz`` with ``Content-Encoding: gzip`` and the type of ``x.js``;
any other gets the plain file. Both vary on ``Accept-Encoding``, so a cache between keeps them
apart. Files outside ``build/`` (the small unbundled modules of the file browser) are sent as
they are: a proxy in front may compress them (README, Deployment).
"""

from __future__ import annotations

import mimetypes
import os

from flask import Blueprint, request, send_from_directory
from flask.wrappers import Response
from werkzeug.security import safe_join

#: Where the built, precompressed files are, inside the static folder.
BUILD_PREFIX = "flask_notebook/build/"


class PagesBlueprint(Blueprint):
    """A ``Blueprint`` whose built scripts and styles go out precompressed."""

    def send_static_file(self, filename: str) -> Response:
        if not filename.startswith(BUILD_PREFIX) or not filename.endswith((".js", ".css")):
            return super().send_static_file(filename)
        folder = self.static_folder
        gzipped = safe_join(folder, f"{filename}.gz") if folder else None
        if gzipped and request.accept_encodings["gzip"] and os.path.isfile(gzipped):
            assert folder is not None
            mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            response = send_from_directory(folder, f"{filename}.gz", mimetype=mimetype,
                                           max_age=self.get_send_file_max_age(filename))
            response.headers["Content-Encoding"] = "gzip"
        else:
            response = super().send_static_file(filename)
        response.vary.add("Accept-Encoding")
        return response
