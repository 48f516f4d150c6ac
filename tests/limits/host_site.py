"""A host site with many users, for the limits tests: the notebook at /nb, and every request's
user named by its ``Authorization: Bearer NAME`` header (``admin-…`` names are administrators).
Settings come from the ``NOTEBOOK_*`` environment variables. ``python host_site.py`` serves it
on a free loopback port and prints ``Serving on URL``; SIGTERM stops it, and its kernels."""

from gevent import monkey

monkey.patch_all()

import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402

import gevent  # noqa: E402
from flask import Flask, Request  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from flask_notebook import Notebook  # noqa: E402
from flask_notebook.settings import from_environ  # noqa: E402


def authorize(request: Request) -> dict[str, object] | None:
    scheme, _, name = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not name.strip():
        return None
    name = name.strip()
    return {"username": name, "roles": ["admin"] if name.startswith("admin") else []}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(name)s] %(message)s")
    app = Flask("host")
    app.config.update(from_environ(os.environ))
    Notebook(app, url_prefix="/nb", authorize=authorize)
    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    gevent.signal_handler(signal.SIGTERM, server.stop)  # then a normal exit, which stops the kernels
    print(f"Serving on http://127.0.0.1:{server.server_port}/nb/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
