"""``/favicon.ico``: our icon (a blue diamond, the header's mark), open to everyone as
jupyter_server's is. Pages link to it (base.html), so it is found under a mount point too."""

from __future__ import annotations

import os

from flask import Response, send_file

ICON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static", "flask_notebook",
                    "favicon.ico")


def favicon() -> Response:
    return send_file(ICON, mimetype="image/x-icon", conditional=True, max_age=86400)
