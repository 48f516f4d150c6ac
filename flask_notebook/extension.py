"""The Flask extension: ``Notebook(app)`` or ``Notebook().init_app(app, url_prefix=...)``."""

from __future__ import annotations

import atexit
import os
import secrets
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Request, current_app
from jupyter_core.paths import jupyter_data_dir

from .core import auth, notebooks
from .core.config import ConfigSections, store_dir
from .core.contents import ContentsManager
from .core.events import EventBus
from .core.execute import Executions
from .core.kernels import KernelRegistry
from .core.kernelspecs import Kernelspecs
from .core.pool import KernelPool, parse_sizes
from .core.sessions import Sessions
from .core.paths import Root
from .core.terminals import Terminals, default_shell
from .transport.pinger import Pinger

#: Every config key the extension reads, with its default. ``init_app``'s docstring
#: explains them; the README's configuration table lists them too (a test checks).
DEFAULTS: dict[str, Any] = {
    "NOTEBOOK_ROOT_DIR": None,
    "NOTEBOOK_TOKEN": None,
    "NOTEBOOK_PASSWORD": None,
    "NOTEBOOK_SECRET_KEY": None,
    "NOTEBOOK_ALLOW_HIDDEN": False,
    "NOTEBOOK_HIDE_GLOBS": ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~"],
    "NOTEBOOK_MAX_BODY_SIZE": 512 * 1024 * 1024,
    "NOTEBOOK_ALLOW_ORIGIN": "",
    "NOTEBOOK_ALLOW_ORIGIN_PAT": "",
    "NOTEBOOK_ALLOW_CREDENTIALS": False,
    "NOTEBOOK_ALLOW_REMOTE_ACCESS": True,
    "NOTEBOOK_LOCAL_HOSTNAMES": ["localhost"],
    "NOTEBOOK_DISABLE_CHECK_XSRF": False,
    "NOTEBOOK_COOKIE_MAX_AGE": 30 * 24 * 3600,
    "NOTEBOOK_DEFAULT_KERNEL_NAME": "python3",
    "NOTEBOOK_DATA_DIR": None,
    "NOTEBOOK_LISTING_CACHE": True,
    "NOTEBOOK_MAX_KERNELS": None,
    "NOTEBOOK_CULL_IDLE_TIMEOUT": 0,
    "NOTEBOOK_CULL_INTERVAL": 300,
    "NOTEBOOK_CULL_CONNECTED": False,
    "NOTEBOOK_CULL_BUSY": False,
    "NOTEBOOK_KERNEL_INFO_TIMEOUT": 60,
    "NOTEBOOK_WS_QUEUE_LIMIT": 32 * 1024 * 1024,
    "NOTEBOOK_WS_REPLAY_LIMIT": 16 * 1024 * 1024,
    "NOTEBOOK_WS_PING_INTERVAL": 25,
    "NOTEBOOK_WS_MAX_MESSAGE_SIZE": 64 * 1024 * 1024,
    "NOTEBOOK_WS_COMPRESSION": False,
    "NOTEBOOK_EXECUTE_API": True,
    "NOTEBOOK_EXECUTE_RECORD_TTL": 600,
    "NOTEBOOK_EXECUTE_TIMEOUT": 1800,
    "NOTEBOOK_KERNEL_POOL": {},
    "NOTEBOOK_KERNEL_POOL_SEED": "",
    "NOTEBOOK_AUTOSAVE_INTERVAL": 120,
    "NOTEBOOK_TERMINALS_ENABLED": True,
}

Authorize = Callable[[Request], Any]


@dataclass
class NotebookState:
    """Everything one app's notebook needs, kept in ``app.extensions["notebook"]``."""

    contents: ContentsManager
    kernelspecs: Kernelspecs
    kernels: KernelRegistry
    sessions: Sessions
    executions: Executions
    notary: notebooks.Notary
    token: str | None
    password_hash: str | None
    secret_key: str
    authorize: Authorize | None
    login_url: str | None
    config: dict[str, Any]
    #: ``/api/config`` sections: this server's store over the Jupyter config path's.
    config_sections: ConfigSections
    pool: KernelPool | None = None
    terminals: Terminals | None = None
    #: Stops the whole service, for ``POST /api/shutdown``: the standalone server's and
    #: gunicorn.conf.py's, or a host's (``init_app(shutdown=...)``); None answers 501.
    shutdown_server: Callable[[], None] | None = None
    events: EventBus = field(default_factory=EventBus)
    #: Pings this app's WebSockets at its NOTEBOOK_WS_PING_INTERVAL (no pings by default).
    pinger: Pinger = field(default_factory=Pinger)
    #: Failed logins per client address (the login form's backoff).
    login_throttle: auth.LoginThrottle = field(default_factory=auth.LoginThrottle)
    started: float = field(default_factory=time.time)
    last_activity: float = field(default_factory=time.time)

    @property
    def root_dir(self) -> str:
        return self.contents.root.os_root

    def touch(self, when: float) -> None:
        self.last_activity = max(self.last_activity, when)

    def shutdown_all(self) -> None:
        """Stop every terminal and kernel and release what this app holds. Safe to call more
        than once."""
        if self.terminals is not None:
            self.terminals.shutdown_all()  # shells end at SIGHUP: quick, before the kernels' grace
        self.events.close()
        self.kernels.shutdown_all()
        self.notary.close()
        self.contents.close()


class Notebook:
    """Mounts the notebook server (API, login, pages) into a Flask app.

    Keeps no reference to any app: per-app state lives in ``app.extensions["notebook"]``,
    so one extension object may serve several apps.
    """

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self._options = options
        if app is not None:
            self.init_app(app)

    def init_app(
        self,
        app: Flask,
        *,
        url_prefix: str | None = None,
        authorize: Authorize | None = None,
        login_url: str | None = None,
        shutdown: Callable[[], None] | None = None,
    ) -> None:
        """Mount the notebook under `url_prefix` (default ``/notebook``).

        Reads these config keys once, here; each gets its default via ``setdefault``:

        - ``NOTEBOOK_ROOT_DIR``: directory served (default: the current directory).
        - ``NOTEBOOK_TOKEN``: the access token. ``None`` generates one (none if a password
          is set); ``""`` turns token auth off.
        - ``NOTEBOOK_PASSWORD``: a hash from ``flask-notebook --hash-password``; enables
          password login on the login page.
        - ``NOTEBOOK_SECRET_KEY``: signs the login cookie (default: the app's ``SECRET_KEY``,
          else random per process, so logins end when the process does).
        - ``NOTEBOOK_ALLOW_HIDDEN``: serve dot-files (default ``False``).
        - ``NOTEBOOK_HIDE_GLOBS``: names left out of listings.
        - ``NOTEBOOK_MAX_BODY_SIZE``: request bodies above this many bytes get 413.
        - ``NOTEBOOK_ALLOW_ORIGIN``, ``NOTEBOOK_ALLOW_ORIGIN_PAT``, ``NOTEBOOK_ALLOW_CREDENTIALS``:
          CORS: an origin (or ``*``), a regex of origins, and whether to allow credentials.
        - ``NOTEBOOK_ALLOW_REMOTE_ACCESS``: when ``False``, only loopback addresses and
          ``NOTEBOOK_LOCAL_HOSTNAMES`` are accepted as the Host header (DNS-rebinding guard;
          the command line turns it on when it binds to loopback).
        - ``NOTEBOOK_DISABLE_CHECK_XSRF``: skip the XSRF check for cookie sessions.
        - ``NOTEBOOK_COOKIE_MAX_AGE``: login cookie lifetime in seconds.
        - ``NOTEBOOK_DEFAULT_KERNEL_NAME``: the default kernelspec.
        - ``NOTEBOOK_DATA_DIR``: where notebook signatures and ``/api/config`` sections are
          kept (default: Jupyter's data dir).
        - ``NOTEBOOK_LISTING_CACHE``: reuse directory listings until inotify reports a change
          (Linux, local file systems only; default ``True``).
        - ``NOTEBOOK_MAX_KERNELS``: refuse (403) to start more kernels than this (``None``: no limit).
        - ``NOTEBOOK_CULL_IDLE_TIMEOUT``, ``NOTEBOOK_CULL_INTERVAL``, ``NOTEBOOK_CULL_CONNECTED``,
          ``NOTEBOOK_CULL_BUSY``: shut down kernels idle that many seconds (0: never), checked
          every interval, including connected or busy ones if those are ``True``.
        - ``NOTEBOOK_KERNEL_INFO_TIMEOUT``: seconds a restart waits for the kernel to answer.
        - ``NOTEBOOK_AUTOSAVE_INTERVAL``: seconds between the editor's autosaves of a changed
          notebook (``0``: no autosave).
        - ``NOTEBOOK_WS_QUEUE_LIMIT``: bytes queued for one WebSocket before output is shed
          (with a notice in the output; replies and status messages are never shed).
        - ``NOTEBOOK_WS_REPLAY_LIMIT``: bytes kept for a disconnected WebSocket, replayed when
          it reconnects with the same ``session_id`` (0: no replay).
        - ``NOTEBOOK_WS_PING_INTERVAL``: seconds between WebSocket pings (a peer that misses a
          pong is dropped).
        - ``NOTEBOOK_WS_MAX_MESSAGE_SIZE``: the largest message a client may send, in bytes.
        - ``NOTEBOOK_WS_COMPRESSION``: accept permessage-deflate (default ``False``: it costs
          CPU on every message and kernel traffic is local).
        - ``NOTEBOOK_EXECUTE_API``: serve ``POST /api/execute`` (code run on a throw-away
          kernel; default ``True``). ``/api/kernels/<id>/execute`` is always served.
        - ``NOTEBOOK_EXECUTE_RECORD_TTL``: seconds the record of a finished REST execution is
          kept for ``GET .../requests/<id>``.
        - ``NOTEBOOK_EXECUTE_TIMEOUT``: the ``timeout`` of a REST execution that sets none, in
          seconds (default 1800; ``0`` or ``None``: none): past it the request is interrupted
          and ends with status ``timeout``, also when the kernel hangs (stopped, or stuck).
        - ``NOTEBOOK_KERNEL_POOL``: kernels kept started and warm, by kernelspec name, e.g.
          ``{"python3": 2}``; starting a kernel or session takes one at once. They count
          toward ``NOTEBOOK_MAX_KERNELS``.
        - ``NOTEBOOK_KERNEL_POOL_SEED``: code run in each pooled kernel before it is handed
          out (e.g. imports); a kernel whose seed fails is discarded.
        - ``NOTEBOOK_TERMINALS_ENABLED``: serve terminals (``/api/terminals`` and their
          WebSocket; default ``True``). A terminal is a shell of the server's user, as the
          kernels are; when ``False`` those URLs are 404.

        :param authorize: ``callable(request) -> identity or None`` that replaces token and
            password auth, for a host with its own login. It is asked on every request of
            ours, the kernel WebSocket's handshake included. A request it accepts that carries
            an ``Authorization: token|Bearer`` header is exempt from the XSRF and Origin checks
            only if it is accepted for that header: when the request carries cookies too, it
            is asked a second time, in a fresh app and request context without the cookies.
        :param login_url: with ``authorize``, where pages send people who are not logged in
            (with ``next``): a URL, or the name of the host's login endpoint as in
            Flask-Login's ``login_view``. Without it they get 403.
        :param shutdown: ``callable()`` that stops the whole service, called by
            ``POST /api/shutdown`` once every kernel is shut down. Without it that request
            answers 501: stopping a host's process is the host's call. The ``flask-notebook``
            command and gunicorn.conf.py set their own.
        :raises RuntimeError: the app already has a notebook.
        """
        if "notebook" in app.extensions:
            raise RuntimeError("Notebook is already registered on this app; call init_app once per app.")
        options = {**self._options}
        url_prefix = options.pop("url_prefix", "/notebook") if url_prefix is None else url_prefix
        authorize = authorize or options.pop("authorize", None)
        login_url = login_url or options.pop("login_url", None)
        shutdown = shutdown or options.pop("shutdown", None)
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        config = {key: app.config[key] for key in DEFAULTS}
        root_dir = config["NOTEBOOK_ROOT_DIR"] or os.getcwd()
        if not os.path.isdir(root_dir):
            raise ValueError(f"NOTEBOOK_ROOT_DIR {root_dir!r} is not a directory")
        root = Root(root_dir, allow_hidden=config["NOTEBOOK_ALLOW_HIDDEN"], hide_globs=config["NOTEBOOK_HIDE_GLOBS"])
        notary = notebooks.Notary(config["NOTEBOOK_DATA_DIR"])
        password_hash = config["NOTEBOOK_PASSWORD"] or None
        token = config["NOTEBOOK_TOKEN"]
        if token is None and authorize is None:
            token = None if password_hash else auth.new_token()
        kernelspecs = Kernelspecs(default_name=config["NOTEBOOK_DEFAULT_KERNEL_NAME"])
        events = EventBus()
        max_kernels = config["NOTEBOOK_MAX_KERNELS"]
        kernels = KernelRegistry(
            kernelspecs,
            max_kernels=int(max_kernels) if max_kernels not in (None, "") else None,
            cull_idle_timeout=float(config["NOTEBOOK_CULL_IDLE_TIMEOUT"]),
            cull_interval=float(config["NOTEBOOK_CULL_INTERVAL"]),
            cull_connected=bool(config["NOTEBOOK_CULL_CONNECTED"]),
            cull_busy=bool(config["NOTEBOOK_CULL_BUSY"]),
            replay_limit=int(config["NOTEBOOK_WS_REPLAY_LIMIT"]),
            events=events,
        )
        executions = Executions(
            interrupt=kernels.interrupt,
            ready_timeout=float(config["NOTEBOOK_KERNEL_INFO_TIMEOUT"]),
            queue_limit=int(config["NOTEBOOK_WS_QUEUE_LIMIT"]),
            record_ttl=float(config["NOTEBOOK_EXECUTE_RECORD_TTL"]),
            default_timeout=_execute_timeout(config["NOTEBOOK_EXECUTE_TIMEOUT"]),
        )
        kernels.on_stop.append(executions.kernel_stopped)
        pool = _kernel_pool(kernels, kernelspecs, config, root.os_root)
        state = NotebookState(
            contents=ContentsManager(root, notary, listing_cache=config["NOTEBOOK_LISTING_CACHE"]),
            kernelspecs=kernelspecs,
            kernels=kernels,
            sessions=Sessions(kernels, root),
            executions=executions,
            notary=notary,
            token=token,
            password_hash=password_hash,
            secret_key=str(config["NOTEBOOK_SECRET_KEY"] or app.secret_key or secrets.token_hex(32)),
            authorize=authorize,
            login_url=login_url,
            config=config,
            config_sections=ConfigSections(store_dir(config["NOTEBOOK_DATA_DIR"] or jupyter_data_dir(), root.os_root)),
            pool=pool,
            shutdown_server=shutdown,
            events=events,
            pinger=Pinger(float(config["NOTEBOOK_WS_PING_INTERVAL"] or 0)),
        )
        kernels.on_activity = state.touch
        if config["NOTEBOOK_TERMINALS_ENABLED"]:
            state.terminals = Terminals(root, shell_command=default_shell(),
                                        env={"JUPYTER_SERVER_ROOT": root.os_root}, on_activity=state.touch)
        notebooks.validation_message(notebooks.new_notebook())  # compile the schema validator now
        _websocket_options(app, config)
        app.extensions["notebook"] = state
        # A weak reference: an app that is dropped (tests make hundreds) releases its state.
        atexit.register(_shutdown_at_exit, weakref.ref(state))

        from .blueprints import notebook
        from .blueprints.http import AnyPathConverter

        app.url_map.converters.setdefault("nb_path", AnyPathConverter)
        app.register_blueprint(notebook, url_prefix=url_prefix.rstrip("/"))
        if pool is not None:
            pool.start()  # in the background: greenlets run once the server serves


def _kernel_pool(kernels: KernelRegistry, kernelspecs: Kernelspecs, config: dict[str, Any],
                 root_dir: str) -> KernelPool | None:
    """The warm pool NOTEBOOK_KERNEL_POOL asks for, or None.

    :raises ValueError: a malformed size, or a kernelspec that does not exist.
    """
    sizes = parse_sizes(config["NOTEBOOK_KERNEL_POOL"] or {})
    if not any(sizes.values()):
        return None
    for name in sizes:
        try:
            kernelspecs.get_spec(name)
        except Exception as exc:
            raise ValueError(f"NOTEBOOK_KERNEL_POOL names kernelspec {name!r}, which is not installed") from exc
    return KernelPool(kernels, sizes, cwd=root_dir, seed=str(config["NOTEBOOK_KERNEL_POOL_SEED"] or ""),
                      ready_timeout=float(config["NOTEBOOK_KERNEL_INFO_TIMEOUT"]),
                      queue_limit=int(config["NOTEBOOK_WS_QUEUE_LIMIT"]))


def _execute_timeout(value: Any) -> float | None:
    """NOTEBOOK_EXECUTE_TIMEOUT as seconds, None for no limit.

    :raises ValueError: not a number of seconds (0 or more).
    """
    if value in (None, "", 0):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(value, bool) or not 0 <= seconds < float("inf"):
        raise ValueError(f"NOTEBOOK_EXECUTE_TIMEOUT must be a number of seconds (0: no limit), not {value!r}")
    return seconds or None


def _websocket_options(app: Flask, config: dict[str, Any]) -> None:
    """flask-sock reads its options app-wide: add ours to what the host set, never overriding it.

    The kernel protocol's subprotocol is only chosen when a client offers it, so a host's own
    WebSocket routes are unaffected by its presence in the list.
    """
    from .transport.upgrade import GreenThread
    from gevent.event import Event
    from .core.messages import V1_PROTOCOL

    options = app.config.setdefault("SOCK_SERVER_OPTIONS", {})
    subprotocols = list(options.get("subprotocols") or [])
    if V1_PROTOCOL not in subprotocols:
        subprotocols.append(V1_PROTOCOL)
    options["subprotocols"] = subprotocols
    # No ping_interval: our sockets are pinged by one greenlet per app (transport.pinger.Pinger).
    options.setdefault("max_message_size", config["NOTEBOOK_WS_MAX_MESSAGE_SIZE"] or None)
    from gevent import monkey

    if monkey.is_module_patched("threading"):
        # A bare greenlet and a gevent Event per socket, instead of a patched threading.Thread
        # and threading.Event: a few KiB less for each idle WebSocket.
        options.setdefault("thread_class", GreenThread)
        options.setdefault("event_class", Event)


def _shutdown_at_exit(ref: weakref.ref[NotebookState]) -> None:
    state = ref()
    if state is not None:
        state.shutdown_all()


def state() -> NotebookState:
    """The current app's notebook state: the one place that reaches into the app."""
    return current_app.extensions["notebook"]  # type: ignore[no-any-return]
