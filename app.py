"""WSGI entry point: `gunicorn -k gevent -w 1 app:app`. gevent is patched before anything else.

Set NOTEBOOK_TOKEN (or NOTEBOOK_PASSWORD) in the environment; without either, a token is
generated and printed once on stderr, since gunicorn has no start-up URL line of ours.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402

from flask_notebook import create_app  # noqa: E402

app = create_app()

if "NOTEBOOK_TOKEN" not in os.environ and app.extensions["notebook"].token:
    print(f"flask-notebook: generated token {app.extensions['notebook'].token}", file=sys.stderr)
