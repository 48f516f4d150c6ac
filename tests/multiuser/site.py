"""The host site of the multi-user tests, run as a program: the notebook at ``/nb`` of a Flask
site whose ``authorize`` knows users by their bearer keys (a site's API keys, say).

    alice-key -> alice, bob-key -> bob, root-key -> root (an administrator),
    bad-key -> "../x" (a name no folder may have)

Every ``NOTEBOOK_*`` variable of the environment is its config (``settings.from_environ``).
It prints ``Serving on http://127.0.0.1:PORT/`` once it listens (``PORT`` 0: a free port),
and stops on SIGTERM.
"""

from gevent import monkey

monkey.patch_all()  # first thing, as in any site that serves the notebook

import os
import signal
from typing import Any

import gevent
from flask import Flask, Request
from gevent.pywsgi import WSGIServer

from flask_notebook import Notebook
from flask_notebook.settings import from_environ

KEYS: dict[str, dict[str, Any]] = {
    "alice-key": {"username": "alice"},
    "bob-key": {"username": "bob"},
    "root-key": {"username": "root", "roles": ["admin"]},
    "bad-key": {"username": "../x"},
}


def authorize(request: Request) -> dict[str, Any] | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return KEYS.get(key.strip()) if scheme.lower() == "bearer" else None


app = Flask(__name__)
app.config.update(from_environ(os.environ))
Notebook(app, url_prefix="/nb", authorize=authorize)

if __name__ == "__main__":
    server = WSGIServer(("127.0.0.1", int(os.environ.get("PORT", "0"))), app)
    server.start()
    gevent.signal_handler(signal.SIGTERM, server.stop)
    print(f"Serving on http://127.0.0.1:{server.server_port}/", flush=True)
    server.serve_forever()
