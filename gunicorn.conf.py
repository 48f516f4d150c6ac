"""gunicorn settings for flask-notebook: ``gunicorn -c gunicorn.conf.py app:app``.

The notebook is configured as everywhere else, by ``NOTEBOOK_*`` environment variables
(``NOTEBOOK_ROOT_DIR``, ``NOTEBOOK_TOKEN``, ``NOTEBOOK_TRUST_PROXY``, ...); the settings here
are gunicorn's. Any of them can be overridden on the command line (``-b 0.0.0.0:8888``) or
in ``GUNICORN_CMD_ARGS``. README, "Deployment", explains the choices.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
from typing import Any

from flask_notebook import limits

wsgi_app = "app:app"

# Loopback only, as the standalone server: put a reverse proxy (deploy/nginx.conf) in front,
# or bind another address on purpose with -b.
bind = ["127.0.0.1:8888"]

# One process. Kernels, their ZMQ sockets and every WebSocket attached to them live in the
# worker's memory (app.extensions["notebook"]), so a second worker would not know the first
# one's kernels. To scale, run several instances and route by kernel (README).
workers = 1
worker_class = "gevent"

# Descriptors: the soft open-file limit is raised to the hard one here, in the arbiter, and the
# worker (and its kernels) inherit it. Every connection holds a descriptor, and so does each
# of a kernel's sockets: a client that could take them all could keep kernels from starting,
# or restarting. So the worker serves at most NOTEBOOK_MAX_CONNECTIONS connections at once,
# by default half of what the limit leaves (as the standalone server: flask_notebook/limits.py);
# past them gevent stops accepting and new connections wait in the listening socket's backlog
# until one ends. An open WebSocket holds its connection (and its greenlet) until it closes.
_NOFILE_BEFORE, _NOFILE = limits.raise_open_file_limit()
worker_connections = limits.max_connections(os.environ.get("NOTEBOOK_MAX_CONNECTIONS")) or \
    limits.default_max_connections(_NOFILE)
# The app is loaded in the worker, never in the arbiter: the kernel pool and culler are
# greenlets of the worker, and gevent is patched (app.py) in the process that serves.
preload_app = False

# The gevent worker tells the arbiter it is alive every second from its own loop, whatever
# requests and WebSockets are open, so this only fires when the loop itself is stuck; then
# the worker is replaced and its kernels end with it (unless NOTEBOOK_PERSIST_KERNELS: the
# new worker re-attaches to them), hence a generous value.
timeout = 120
# On SIGTERM the worker shuts every kernel down at once (below), which ends their WebSockets,
# and leaves when its connections are gone. A kernel that ignores its shutdown request is
# killed after 1.5 s, so 10 s is ample; past it the arbiter kills the worker outright.
graceful_timeout = 10
# Seconds an idle keep-alive connection is kept (gunicorn's default). It also bounds how long
# such a connection, a browser's say, delays a graceful stop (SIGTERM, POST /api/shutdown);
# the nginx example closes upstream connections after each request. The gevent worker reads
# every request's head (the first one's too) under this timeout, so it also closes, within
# 2 s, a connection that sends nothing or half a head (what NOTEBOOK_HTTP_IDLE_TIMEOUT bounds
# in the standalone server; gunicorn does not read that key). What gunicorn cannot bound: a
# request body that stops coming (no read timeout once the head is in), a TLS handshake that
# never ends, and connections past worker_connections, which wait (no 503) for as long as
# open WebSockets hold every slot; when descriptors run out all the same, gevent's server
# backs off accepting (and logs a traceback each time) until some are free. nginx in front
# (deploy/nginx.conf) bounds the first two with its client_body_timeout and
# client_header_timeout (60 s by default).
keepalive = 2

# Forwarded headers are the app's business, and only when NOTEBOOK_TRUST_PROXY says so:
# gunicorn by default believes X-Forwarded-Proto from any local peer.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}

# gunicorn's control socket has one default path for every instance on the host, and its
# commands include changing the number of workers, which must stay 1.
control_socket_disable = True

# No access log: its lines carry query strings, where browsers put ?token=.
accesslog = None
errorlog = "-"
loglevel = "info"


def post_fork(server: Any, worker: Any) -> None:
    """The app's log lines (kernels started, shut down, restarted) go to gunicorn's error log."""
    log = logging.getLogger("flask_notebook")
    log.setLevel(worker.log.error_log.level)
    for handler in worker.log.error_log.handlers:
        log.addHandler(handler)
    log.propagate = False
    raised = f" (raised from {_NOFILE_BEFORE})" if _NOFILE_BEFORE != _NOFILE else ""
    worker.log.info("flask-notebook: open file limit %d%s: at most %d connections at once", _NOFILE, raised,
                    worker.worker_connections)


def post_worker_init(worker: Any) -> None:
    """On SIGTERM, shut the kernels down first, in a greenlet, rather than after the worker's
    graceful wait: that wait lasts as long as any WebSocket is open, and ends with SIGKILL.
    With NOTEBOOK_PERSIST_KERNELS the kernels are left running instead (their WebSockets are
    closed all the same), for the next worker to re-attach: ``kill -HUP`` the master for a
    rolling restart that loses no kernel and no session.

    POST /api/shutdown stops the whole service: it sends SIGTERM to the arbiter (which then
    stops this worker as above and exits), not just to this worker, which the arbiter would
    replace."""
    import gevent

    stop_serving = worker.handle_exit

    def handle_exit(sig: int, frame: Any) -> None:
        stop_serving(sig, frame)
        gevent.spawn(_shutdown_kernels, worker)

    signal.signal(signal.SIGTERM, handle_exit)
    notebook = getattr(worker.wsgi, "extensions", {}).get("notebook")
    if notebook is not None:
        notebook.shutdown_server = functools.partial(os.kill, worker.ppid, signal.SIGTERM)


def worker_int(worker: Any) -> None:
    """SIGINT or SIGQUIT: a quick stop; the kernels go first."""
    _shutdown_kernels(worker)


def worker_exit(server: Any, worker: Any) -> None:
    """However the worker ends (a stop, max_requests, an error), its kernels end with it
    (NOTEBOOK_PERSIST_KERNELS: they are left for the next worker).
    (The arbiter calls this hook too, for a worker that is already gone: it holds no app.)"""
    _shutdown_kernels(worker)


def _shutdown_kernels(worker: Any) -> None:
    notebook = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("notebook")
    if notebook is not None and not getattr(worker, "notebook_stopped", False):
        worker.log.info("flask-notebook: shutting down every kernel")
        notebook.shutdown_all()  # in parallel; a kernel that does not leave in 1.5 s is killed
        worker.notebook_stopped = True
        worker.log.info("flask-notebook: kernels shut down")
