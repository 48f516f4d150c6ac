"""The Flask extension: ``Notebook(app)`` or ``Notebook().init_app(app, url_prefix=...)``."""

from __future__ import annotations

import atexit
import copy
import logging
import os
import secrets
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Request, current_app
from jupyter_core.paths import jupyter_data_dir

from .core import auth, cgroups, notebooks, persistence, remote, sandbox
from .core.audit import Audit
from .core.cgroups import KernelLimits
from .core.config import ConfigSections, store_dir
from .core.contents import ContentsManager
from .core.events import EventBus
from .core.execute import Executions, run_code
from .core.executionstore import StoredExecutions
from .core.kernelrecords import KernelRecords
from .core.kernels import Confine, Kernel, KernelRegistry
from .core.gateway import GatewayKernelspecs
from .core.gatewayclient import GatewayClient
from .core.gatewayclient import Unreachable as GatewayUnreachable
from .core.kernelspecs import Kernelspecs
from .core.metrics import Metrics
from .core.pool import KernelPool
from .core.ratelimit import RateLimiter
from .core.runs import Runs
from .core.sessions import Sessions
from .core.store import Store, default_url, redacted, server_name
from .core.paths import Root
from .core.terminals import Terminals, default_shell
from .core.users import User, workspace_path
from .core.userdb import UserDB
from .core.workspaces import Workspace, Workspaces
from .settings import DEFINITIONS, Settings, apply_aliases, describe
from .transport.pinger import Pinger
from .transport.wsclient import handshake

log = logging.getLogger(__name__)

#: Every config key the extension reads, with its default (``settings`` defines them all;
#: the standalone server's own keys are in ``factory.STANDALONE_DEFAULTS``).
DEFAULTS: dict[str, Any] = {d.key: d.default for d in DEFINITIONS if not d.standalone}

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
    #: Every NOTEBOOK_* setting, typed and checked once, at start-up.
    settings: Settings
    #: ``/api/config`` sections: this server's store over the Jupyter config path's.
    config_sections: ConfigSections
    #: Each user's files, trust database and config (``core.workspaces``); `contents`,
    #: `notary` and `config_sections` above are those of the shared one, NOTEBOOK_ROOT_DIR's.
    #: Views use the request's user's: ``blueprints.ownership.workspace()``.
    workspaces: Workspaces
    #: Notebooks run by the server (``/api/runs``).
    runs: Runs
    #: The database (NOTEBOOK_DATABASE_URL, else SQLite in the data directory): sessions,
    #: kernel records, runs and execution records that outlive the process (``core/store.py``).
    store: Store
    pool: KernelPool | None = None
    terminals: Terminals | None = None
    #: NOTEBOOK_EXECUTE_RATE_LIMIT's count per user, None without a limit.
    execute_rate: RateLimiter | None = None
    #: The users file's users (NOTEBOOK_USERS_FILE), who log in on the login page.
    users: UserDB | None = None
    #: Where audit lines go (NOTEBOOK_AUDIT_LOG), or None.
    audit: Audit | None = None
    #: This app's Prometheus metrics (``/metrics``), None with NOTEBOOK_METRICS off.
    metrics: Metrics | None = None
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
        self.runs.close()  # cancels running runs, which interrupts their kernels and saves: before those go
        if self.pool is not None:
            self.pool.close()
        self.kernels.shutdown_all()
        self.workspaces.close()
        self.store.close()
        if self.audit is not None:
            self.audit.close()  # last: the lines of everything above are queued by now


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

        Reads the ``NOTEBOOK_*`` config keys once, here, into ``state().settings``
        (``flask_notebook.settings.Settings``, where each is defined); each key gets its
        default via ``setdefault``. The keys are listed at the end.

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
        :raises ValueError: a config value is unusable: one line naming the key, the value and
            what it must be.

        The keys:
        """
        if "notebook" in app.extensions:
            raise RuntimeError("Notebook is already registered on this app; call init_app once per app.")
        options = {**self._options}
        url_prefix = options.pop("url_prefix", "/notebook") if url_prefix is None else url_prefix
        authorize = authorize or options.pop("authorize", None)
        login_url = login_url or options.pop("login_url", None)
        shutdown = shutdown or options.pop("shutdown", None)
        apply_aliases(app.config)
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, copy.deepcopy(value))
        settings = Settings.from_config(app.config)
        root = Root(settings.root_dir, allow_hidden=settings.allow_hidden, hide_globs=list(settings.hide_globs),
                    shared=settings.shared_dirs)
        notary = notebooks.Notary(settings.data_dir)
        password_hash = settings.password
        token = settings.token
        if token is None and authorize is None:
            token = None if password_hash else auth.new_token()
        gateway = _gateway(settings)
        kernelspecs = (Kernelspecs(default_name=settings.default_kernel_name) if gateway is None
                       else GatewayKernelspecs(gateway, default_name=settings.default_kernel_name))
        # Remote provisioners' imports (paramiko, crypto) stall the hub: here, not at a launch.
        remote_provisioners = remote.preload(kernelspecs.manager) if gateway is None else []
        if remote_provisioners:
            log.info("remote kernel provisioners: %s", ", ".join(remote_provisioners))
        confine = _kernel_sandbox(settings, root.os_root)
        data_dir = settings.data_dir or jupyter_data_dir()
        store = _store(settings, data_dir, root.os_root)
        events = EventBus()
        kernels = KernelRegistry(
            kernelspecs,
            max_kernels=settings.max_kernels,
            max_kernels_per_user=settings.max_kernels_per_user,
            limits=_kernel_limits(settings),
            cull_idle_timeout=settings.cull_idle_timeout,
            cull_interval=settings.cull_interval,
            cull_connected=settings.cull_connected,
            cull_busy=settings.cull_busy,
            replay_limit=settings.ws_replay_limit,
            events=events,
            confine=confine,
            gateway=gateway,
            persist=settings.persist_kernels,
            records=KernelRecords(store, replica=settings.replica_id, url=settings.replica_url),
        )
        executions = Executions(
            interrupt=kernels.interrupt_kernel,
            ready_timeout=settings.kernel_info_timeout,
            queue_limit=settings.ws_queue_limit,
            record_ttl=settings.execute_record_ttl,
            default_timeout=settings.execute_timeout,
            stored=StoredExecutions(store, ttl=settings.execute_record_ttl),
        )
        kernels.on_stop.append(executions.kernel_stopped)
        pool = _kernel_pool(kernels, kernelspecs, settings, root.os_root)
        shared = Workspace(username=None, root=root,
                           contents=ContentsManager(root, notary, listing_cache=settings.listing_cache),
                           notary=notary, config_sections=ConfigSections(store_dir(data_dir, root.os_root)))
        workspaces = Workspaces(shared, user_root=settings.user_root, shared_dirs=settings.shared_dirs,
                                data_dir=data_dir, allow_hidden=settings.allow_hidden,
                                hide_globs=list(settings.hide_globs), listing_cache=settings.listing_cache)
        state = NotebookState(
            contents=shared.contents,
            kernelspecs=kernelspecs,
            kernels=kernels,
            sessions=Sessions(kernels, root, store=store, roots=_roots(workspaces)),
            executions=executions,
            notary=notary,
            token=token,
            password_hash=password_hash,
            secret_key=str(settings.secret_key or app.secret_key
                           or (_kept_secret(data_dir) if settings.persist_kernels else secrets.token_hex(32))),
            authorize=authorize,
            login_url=login_url,
            settings=settings,
            config_sections=shared.config_sections,
            workspaces=workspaces,
            store=store,
            runs=Runs(kernels=kernels, kernelspecs=kernelspecs, executions=executions, store=store,
                      import_dir=os.path.join(data_dir, "flask_notebook", "runs"),
                      history_runs=settings.run_history.runs, history_age=settings.run_history.age,
                      max_concurrent=settings.max_concurrent_runs, save_interval=settings.run_save_interval,
                      max_output_bytes=settings.run_max_output_bytes, input_timeout=settings.run_input_timeout,
                      ready_timeout=settings.kernel_info_timeout),
            pool=pool,
            shutdown_server=shutdown,
            events=events,
            pinger=Pinger(settings.ws_ping_interval),
            execute_rate=RateLimiter(*settings.execute_rate_limit) if settings.execute_rate_limit else None,
            users=UserDB(settings.users_file) if settings.users_file else None,
            audit=_audit(settings),
        )
        kernels.on_activity = state.touch
        kernels.on_takeover.append(state.runs.kernel_taken_over)  # replicas: a dead one's runs stop
        state.metrics = _metrics(state)
        if settings.terminals_enabled:
            state.terminals = Terminals(root, shell_command=default_shell(),
                                        env={"JUPYTER_SERVER_ROOT": root.os_root}, on_activity=state.touch,
                                        confine=confine, cull_inactive_timeout=settings.terminals_cull_timeout,
                                        cull_interval=settings.cull_interval)
        notebooks.validation_message(notebooks.new_notebook())  # compile the schema validator now
        _websocket_options(app, settings)
        app.extensions["notebook"] = state
        # A weak reference: an app that is dropped (tests make hundreds) releases its state.
        atexit.register(_shutdown_at_exit, weakref.ref(state))

        from .blueprints import notebook
        from .blueprints.http import AnyPathConverter

        app.url_map.converters.setdefault("nb_path", AnyPathConverter)
        app.register_blueprint(notebook, url_prefix=url_prefix.rstrip("/"))
        if pool is not None:
            pool.start()  # in the background: greenlets run once the server serves
        # The kernels the previous server left (NOTEBOOK_PERSIST_KERNELS: re-attached; else
        # stopped), in the background too; a request for one of them waits meanwhile.
        persistence.start(kernels, state.sessions, store, keep=settings.persist_kernels)
        state.runs.stop_orphans()  # once those kernels are back


def _roots(workspaces: Workspaces) -> Callable[[str | None], Root | None]:
    """The workspace root of a session's owner, for sessions restored from the store."""
    def root(owner: str | None) -> Root | None:
        return workspaces.for_user(User(owner)).root if owner is not None else None
    return root


def _kept_secret(data_dir: str) -> str:
    """The login cookie's key kept in `data_dir` (made once, 0600), for servers whose kernels
    outlive them: the pages open on those kernels stay logged in across the restart (as
    jupyter_server keeps its cookie secret in a file).

    :raises ValueError: the file cannot be read or written.
    """
    folder = os.path.join(data_dir, "flask_notebook")
    path = os.path.join(folder, "cookie_secret")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        try:
            with open(path, encoding="ascii") as f:
                kept = f.read().strip()
            if len(kept) >= 32:
                return kept
        except FileNotFoundError:
            pass
        made = secrets.token_hex(32)
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(made)
            f.flush()
            os.fsync(f.fileno())
        os.replace(path + ".tmp", path)
        return made
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"NOTEBOOK_PERSIST_KERNELS is on and the login cookie's key cannot be kept in {path} "
                         f"({exc}); set NOTEBOOK_SECRET_KEY") from None


def _gateway(settings: Settings) -> GatewayClient | None:
    """The kernel gateway NOTEBOOK_GATEWAY_URL names, or None (kernels run here).

    :raises ValueError: its TLS files cannot be loaded.
    """
    if settings.gateway_url is None:
        return None
    if settings.gateway_client_key and not settings.gateway_client_cert:
        raise ValueError("NOTEBOOK_GATEWAY_CLIENT_KEY is set without NOTEBOOK_GATEWAY_CLIENT_CERT: set the client "
                         "certificate too, or neither")
    if settings.gateway_ca_certs:
        import ssl

        try:
            ssl.create_default_context(cafile=settings.gateway_ca_certs)
        except (OSError, ValueError) as exc:
            raise ValueError(f"NOTEBOOK_GATEWAY_CA_CERTS={settings.gateway_ca_certs!r} is not a PEM file of CA "
                             f"certificates ({exc})") from None
    try:
        client = GatewayClient(settings.gateway_url, token=settings.gateway_token, headers=settings.gateway_headers,
                               validate_cert=settings.gateway_validate_cert, ca_certs=settings.gateway_ca_certs,
                               client_cert=settings.gateway_client_cert, client_key=settings.gateway_client_key,
                               connect_timeout=settings.gateway_connect_timeout,
                               request_timeout=settings.gateway_request_timeout, open_websocket=handshake)
    except (OSError, ValueError) as exc:
        raise ValueError(f"NOTEBOOK_GATEWAY_CLIENT_CERT / NOTEBOOK_GATEWAY_CLIENT_KEY: the client certificate and "
                         f"its key cannot be loaded ({exc})") from None
    log.info("kernels run on the kernel gateway %s", settings.gateway_url)
    return client


def _kernel_sandbox(settings: Settings, root_dir: str) -> Confine | None:
    """How kernels and terminals are confined (``core/sandbox.py``), or None without a sandbox.

    With the sandbox on, bubblewrap must be on the server's PATH and able to make a sandbox
    here (checked once, now): nothing silently runs unsandboxed. A kernel's or terminal's
    workspace is the one its caller names, else its owner's under NOTEBOOK_USER_ROOT (the
    function ``Workspaces.for_user`` uses), else (no user root, or no owner: the server's own
    user) NOTEBOOK_ROOT_DIR.

    :raises ValueError: bubblewrap is missing or does not work; or NOTEBOOK_KERNEL_POOL is set
        with per-user sandboxes, whose mounts are fixed when a kernel starts, before a pooled
        kernel has an owner.
    """
    if settings.sandbox != "bubblewrap":
        if settings.user_root is not None:
            log.warning('NOTEBOOK_USER_ROOT is set and the kernel sandbox is off (NOTEBOOK_KERNEL_SANDBOX = "none"): '
                        "every user's kernels and terminals can read and write what the server's user can, "
                        "other users' workspaces included")
        return None
    if settings.user_root is not None and any(settings.kernel_pool.values()):
        raise ValueError("NOTEBOOK_KERNEL_POOL cannot be used with per-user sandboxes (NOTEBOOK_USER_ROOT with "
                         'NOTEBOOK_KERNEL_SANDBOX = "bubblewrap"): a sandbox\'s mounts are fixed when its kernel '
                         "starts, before a pooled kernel has an owner. Unset one of them.")
    try:
        bwrap = sandbox.find_bwrap()
        sandbox.check(bwrap, network=settings.kernel_network)
    except sandbox.Unavailable as exc:
        raise ValueError(f'NOTEBOOK_KERNEL_SANDBOX is "bubblewrap" but {exc}. Install it (Debian, Ubuntu: '
                         "apt-get install bubblewrap; in a source tree, make), or run kernels unsandboxed with "
                         'NOTEBOOK_KERNEL_SANDBOX = "none".') from None
    user_root, shared, extra = settings.user_root, dict(settings.shared_dirs), dict(settings.kernel_env)
    network = settings.kernel_network

    def confine(owner: str | None, workspace: str | None, cwd: str) -> sandbox.Confinement:
        if workspace is None:
            # The owner None is the server's own user (``blueprints.ownership.owner``).
            workspace = root_dir if user_root is None or owner is None else workspace_path(user_root, User(owner))
        workspace = os.path.realpath(workspace)
        return sandbox.Confinement(workspace, sandbox.starting_folder(cwd, workspace, shared), shared, network,
                                   extra, bwrap)

    log.info("kernels run in bubblewrap sandboxes (%s)", bwrap)
    return confine


def _metrics(state: NotebookState) -> Metrics | None:
    """The app's metrics, counting from now, or None with NOTEBOOK_METRICS off."""
    settings = state.settings
    if not settings.metrics:
        return None
    from . import __version__

    metrics = Metrics(version=__version__,
                      per_user=settings.user_root is not None or settings.users_file is not None)
    metrics.watch(state.kernels, state.pool)
    state.runs.metrics = metrics
    state.store.timing = metrics.database  # called on the event loop, once a statement is done
    return metrics


def _store(settings: Settings, data_dir: str, root_dir: str) -> Store:
    """The database, its schema brought up to date.

    :raises ValueError: NOTEBOOK_DATABASE_URL is unusable: no driver, unreachable, or migrated
        by a newer flask-notebook (the password is never shown).
    """
    url = settings.database_url or default_url(data_dir, root_dir)
    try:
        store = Store(url, server=server_name(root_dir))
    except ValueError as exc:
        raise ValueError(f"NOTEBOOK_DATABASE_URL: {exc}") from None
    if store.dialect == "sqlite" and store.engine.url.database in (None, "", ":memory:"):
        store.close()
        raise ValueError("NOTEBOOK_DATABASE_URL names an in-memory SQLite database, which each connection would "
                         "see empty: give a file (sqlite:////path/to/file.sqlite), or leave it unset for one in "
                         "the data directory")
    try:
        store.migrate()
    except Exception as exc:
        store.close()
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"NOTEBOOK_DATABASE_URL {redacted(url)} cannot be used: {detail}") from None
    return store


def _audit(settings: Settings) -> Audit | None:
    """:raises ValueError: NOTEBOOK_AUDIT_LOG names a file that cannot be opened for appending."""
    if settings.audit_log is None:
        return None
    try:
        return Audit(settings.audit_log, code=settings.audit_code)
    except OSError as exc:
        raise ValueError(f"NOTEBOOK_AUDIT_LOG={settings.audit_log!r}: the file cannot be opened for appending "
                         f"({exc.strerror})") from None


def _kernel_pool(kernels: KernelRegistry, kernelspecs: Kernelspecs, settings: Settings,
                 root_dir: str) -> KernelPool | None:
    """The warm pool NOTEBOOK_KERNEL_POOL asks for, or None.

    :raises ValueError: a kernelspec that does not exist.
    """
    sizes = settings.kernel_pool
    if not any(sizes.values()):
        return None
    if settings.gateway_url is not None and (settings.users_file is not None or settings.user_root is not None):
        log.warning("NOTEBOOK_KERNEL_POOL with NOTEBOOK_GATEWAY_URL and named users: a gateway kernel runs as the "
                    "KERNEL_USERNAME it was started with, and pooled kernels are started before they have an owner, "
                    "so they serve only the server's own user; every named user's kernels start cold on the gateway")
    for name in sizes:
        try:
            kernelspecs.get_spec(name)
        except GatewayUnreachable as exc:  # the gateway is down now: the pool fills once it is up
            log.warning("NOTEBOOK_KERNEL_POOL: kernelspec %r cannot be checked: %s", name, exc.message)
        except Exception as exc:
            raise ValueError(f"NOTEBOOK_KERNEL_POOL names kernelspec {name!r}, which is not installed") from exc
    ready_timeout, queue_limit = settings.kernel_info_timeout, settings.ws_queue_limit

    def run(kernel: Kernel, code: str, timeout: float) -> Callable[[], str | None]:
        return run_code(kernel, code, timeout, ready_timeout=ready_timeout, queue_limit=queue_limit)

    pool = KernelPool(kernels, sizes, cwd=root_dir, seed=settings.kernel_pool_seed,
                      ready_timeout=ready_timeout, run_code=run)

    def take(name: str, cwd: str, env: dict[str, str] | None) -> Kernel | None:
        return pool.take(name, cwd=cwd, env=env)

    kernels.take = take
    kernels.evict = pool.evict
    kernels.on_stop.append(lambda kernel, reason: pool.start())  # the limit may have kept it from refilling
    return pool


def _kernel_limits(settings: Settings) -> KernelLimits | None:
    """Each kernel's memory and CPU limits, by cgroup where the server can make them (probed
    now, and said in the log, with a warning for what falls back), or None without limits."""
    if settings.kernel_memory_limit is None and settings.kernel_cpu_limit is None:
        return None
    limits = KernelLimits(settings.kernel_memory_limit, settings.kernel_cpu_limit,
                          root=os.environ.get(cgroups.ROOT_VARIABLE) or cgroups.ROOT)
    for level, message in limits.describe():
        log.log(level, "%s", message)
    return limits


def _websocket_options(app: Flask, settings: Settings) -> None:
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
    options.setdefault("max_message_size", settings.ws_max_message_size)
    from gevent import monkey

    if monkey.is_module_patched("threading"):
        # A bare greenlet and a gevent Event per socket, instead of a patched threading.Thread
        # and threading.Event: a few KiB less for each idle WebSocket.
        options.setdefault("thread_class", GreenThread)
        options.setdefault("event_class", Event)


#: One definition per key: the list of keys comes from ``settings``.
Notebook.init_app.__doc__ = (Notebook.init_app.__doc__ or "").rstrip() + "\n\n" + "\n".join(
    "        " + line for line in describe().splitlines()) + "\n"


def _shutdown_at_exit(ref: weakref.ref[NotebookState]) -> None:
    state = ref()
    if state is not None:
        state.shutdown_all()


def state() -> NotebookState:
    """The current app's notebook state: the one place that reaches into the app."""
    return current_app.extensions["notebook"]  # type: ignore[no-any-return]
