"""Two notebook apps in one process, behind one server: ``/a/`` and ``/b/``, each a Flask app
with its own ``Notebook`` and its own ``NOTEBOOK_*`` settings (a site that mounts two notebook
services with werkzeug's ``DispatcherMiddleware``).

    python two_apps.py ROOT_A ROOT_B TOKEN PING_A PING_B

Serves on 127.0.0.1 with our standalone server (kernel WebSockets parked while idle), on a
free port, and prints ``Serving on http://127.0.0.1:PORT/`` once it listens. SIGTERM stops
it and its kernels.
"""

from gevent import monkey

monkey.patch_all()

import signal  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from flask import Flask  # noqa: E402
from werkzeug.exceptions import NotFound  # noqa: E402
from werkzeug.middleware.dispatcher import DispatcherMiddleware  # noqa: E402

from flask_notebook import Notebook  # noqa: E402
from flask_notebook.server import Server  # noqa: E402


def notebook_app(name: str, root: str, token: str, ping_interval: float) -> Flask:
    app = Flask(name)
    app.config.update(NOTEBOOK_ROOT_DIR=root, NOTEBOOK_TOKEN=token, NOTEBOOK_WS_PING_INTERVAL=ping_interval)
    Notebook(app, url_prefix="")
    return app


def main() -> None:
    root_a, root_b, token, ping_a, ping_b = sys.argv[1:6]
    apps = [notebook_app("a", root_a, token, float(ping_a)), notebook_app("b", root_b, token, float(ping_b))]
    site: Any = DispatcherMiddleware(NotFound(), {"/a": apps[0], "/b": apps[1]})
    server = Server(("127.0.0.1", 0), site, log=None, max_connections=64, idle_timeout=60, nofile=1024)
    server.start()
    print(f"Serving on http://127.0.0.1:{server.server_port}/", flush=True)
    gevent.signal_handler(signal.SIGTERM, server.stop)
    try:
        server.serve_forever()
    finally:
        for app in apps:
            app.extensions["notebook"].shutdown_all()


if __name__ == "__main__":
    main()
