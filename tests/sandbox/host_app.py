"""A host site with two users, alice and bob, for the sandbox tests: ``python host_app.py``.

A request is alice's when it carries ``Authorization: token alice-pass`` (bob's: ``bob-pass``);
the notebook is mounted at ``/notebook``; ``NOTEBOOK_*`` come from the environment, and the
site keeps secrets in its own environment (``SECRET_KEY``, ``HOST_DB_PASSWORD``) that no
kernel may see. Prints ``Serving on URL`` once it listens on ``PORT`` (0: a free one).
"""

from gevent import monkey

monkey.patch_all()

import os
import signal

import gevent
from flask import Flask, Request
from gevent.pywsgi import WSGIServer

from flask_notebook import Notebook
from flask_notebook.settings import from_environ

PASSWORDS = {"alice-pass": "alice", "bob-pass": "bob"}

app = Flask(__name__)
app.config.update(SECRET_KEY=os.environ["SECRET_KEY"], **from_environ(os.environ))


def authorize(request: Request) -> dict[str, str] | None:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    username = PASSWORDS.get(secret) if scheme.lower() == "token" else None
    return {"username": username} if username else None


Notebook(app, url_prefix="/notebook", authorize=authorize)

if __name__ == "__main__":
    server = WSGIServer(("127.0.0.1", int(os.environ.get("PORT", "0"))), app, log=None)
    server.start()
    gevent.signal_handler(signal.SIGTERM, server.stop)
    print(f"Serving on http://127.0.0.1:{server.server_port}/", flush=True)
    server.serve_forever()
