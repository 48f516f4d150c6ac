"""The kernel registry: one jupyter_client ``KernelManager`` per kernel, under gevent.

The manager is jupyter_client's own, used through its public API only; it launches the
process through a kernel provisioner (`provisioner.py`: ours, unless the kernelspec names
another).

jupyter_client's synchronous API drives a private asyncio loop and is not greenlet-safe:
two overlapping calls from different greenlets fail. Every call into it therefore goes
through ``LIFECYCLE.run``: it holds one lock (a gevent lock: greenlets only, never threads,
since gevent's subprocess launches only from the hub's thread) and runs in one shared
``contextvars.Context``, so that every call finds the event loop the first one made
(jupyter_core keeps it in a context variable, and each greenlet starts with an empty
context: a loop, and its two descriptors, were made and never closed per call). Waiting
(for a kernel to exit, to answer) happens outside the lock, so one slow kernel does not
hold up the others for long.

Also here: autorestart by a gevent restarter that wakes the moment the process exits,
culling, the kernel limits (the server's and each user's), the memory and CPU limits handed
to each kernel's provisioner (``cgroups``), and the state each kernel's model reports
(contract 4.1, 9.8, 11). Their records in the store, for re-attachment and replicas, are
`kernelrecords.py`'s.
"""

from __future__ import annotations

import contextvars
import dataclasses
import errno
import functools
import logging
import os
import re
import signal
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import gevent
from gevent.event import Event
from gevent.lock import RLock, Semaphore
from jupyter_client.manager import KernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from jupyter_client.restarter import KernelRestarter
from jupyter_core.paths import jupyter_runtime_dir
from jupyter_core.utils import run_sync

from . import errors, provisioner, remote, sandbox
from . import gateway as gateways
from .cgroups import KernelLimits
from .channels import KernelChannels, server_message, zmq_context
from .event_schemas import KERNEL_ACTIONS
from .gatewayclient import GatewayClient
from .gatewayclient import Unreachable as GatewayUnreachable
from .events import EventBus, kernel_action, owner_audience
from .gatewaybridge import session_id as gateway_session
from .kernelrecords import (HOST, HeldElsewhere, KernelRecords, Listed, holder_url, is_shared, kernel_record,
                            reachable, record_replica)
from .kernelspecs import Kernelspecs
from .messages import Msg
from .metrics import KernelMetrics
from .paths import iso_utc
from .spawn import AdoptedProcess
from .store import kernels_table
from .users import User

log = logging.getLogger(__name__)

T = TypeVar("T")


class Lifecycle:
    """The one door to jupyter_client's synchronous kernel API (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = RLock()
        self._context = contextvars.Context()
        self._inside = False  # whether the lock's holder is in `_context` (a nested call)

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` under the lock, in the shared context; a method of a remote
        kernel's manager (``remote.BridgedKernelManager``) without either: it runs on the
        provisioners' own loop, which orders its calls, and a remote launch takes seconds that
        no other kernel should wait for."""
        if isinstance(getattr(fn, "__self__", None), remote.BridgedKernelManager):
            return fn(*args, **kwargs)
        with self._lock:
            if self._inside:
                return fn(*args, **kwargs)
            self._inside = True
            try:
                return self._context.run(fn, *args, **kwargs)
            finally:
                self._inside = False


LIFECYCLE = Lifecycle()

#: Message types that do not count as activity (jupyter_server's default list).
UNTRACKED = frozenset({
    "comm_info_request", "comm_info_reply", "kernel_info_request", "kernel_info_reply",
    "shutdown_request", "shutdown_reply", "interrupt_request", "interrupt_reply",
    "debug_request", "debug_reply", "stream", "display_data", "update_display_data",
    "execute_input", "execute_result", "error", "status", "clear_output", "debug_event",
    "input_request", "input_reply",
})


#: Requests only the control channel takes (ipykernel 7's ``control_msg_types``, less the
#: shell ones): the kernel handles them beside the shells, not in one.
CONTROL_REQUESTS = frozenset({"debug_request", "usage_request", "create_subshell_request",
                              "delete_subshell_request", "list_subshell_request"})
_CONTROL = ("control",)


#: jupyter_server's kernel id pattern: five dash-separated words (not strictly a UUID). The
#: id names the connection file, so nothing else may pass: use ``fullmatch`` (``$`` also
#: matches before a final newline, so ``match`` took ``"a-b-c-d-e\n"``).
KERNEL_ID = re.compile(r"\w+-\w+-\w+-\w+-\w+", re.ASCII)

#: Whether a request for a gateway kernel that another replica holds goes to that replica
#: (``KernelRegistry.claim`` raises `HeldElsewhere`): the web layer turns it off for a request
#: another replica forwarded here, which is never forwarded again.
FORWARD: contextvars.ContextVar[bool] = contextvars.ContextVar("flask_notebook_forward", default=True)


def wait_for_exit(process: Any, timeout: float) -> None:
    """Until `process` exits or `timeout` passes: at once, through gevent's child watcher."""
    result = getattr(process, "result", None)
    if result is not None:
        result.wait(timeout=timeout)
        return
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        gevent.sleep(0.05)


def exit_cause(returncode: int | None) -> str:
    """Why a kernel process ended, in words: its exit code or signal."""
    if returncode is None:
        return "stopped for an unknown reason"
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    cause = f"was killed by {name} (signal {-returncode})"
    if -returncode == signal.SIGKILL:
        cause += "; the system may have run out of memory"
    return cause


P = ParamSpec("P")


def _emits_start(method: Callable[Concatenate[KernelRegistry, P], Kernel]) -> Callable[Concatenate[KernelRegistry, P], Kernel]:
    """A ``kernel_actions`` start event when ``start`` starts a kernel (not when it returns one
    that runs already) or fails to (not for a malformed id: nothing was tried). Kernel events
    are emitted here rather than by the views, so that sessions' kernels and culling emit
    them too, as jupyter_server's kernel manager does."""

    @functools.wraps(method)
    def start(self: KernelRegistry, /, *args: P.args, **kwargs: P.kwargs) -> Kernel:
        requested = kwargs.get("kernel_id")
        before = self.kernels.get(requested) if isinstance(requested, str) else None
        since = time.monotonic()
        try:
            kernel = method(self, *args, **kwargs)
        except errors.Invalid:
            raise
        except Exception as exc:
            name = kwargs.get("name", args[0] if args else None)
            owner = kwargs.get("owner")
            self._emit_action("start", str(name or self.kernelspecs.default_name).lower(),
                              requested if isinstance(requested, str) else None, exc,
                              owner=owner if isinstance(owner, str) else None)
            if self.metrics is not None:
                self.metrics.start_failed(str(name or self.kernelspecs.default_name).lower())
            raise
        if kernel is not before:
            self._emit_action("start", kernel.name, kernel.id, owner=kernel.owner)
            if self.metrics is not None:
                self.metrics.started(kernel, since)
        return kernel

    return start


def _emits(action: str) -> Callable[[Callable[Concatenate[KernelRegistry, str, P], T]],
                                    Callable[Concatenate[KernelRegistry, str, P], T]]:
    """A ``kernel_actions`` event when an operation on a kernel succeeds or fails, as
    jupyter_server's ``emit_kernel_action_event`` emits them. None for an unknown kernel:
    the reference looks the id up before the decorated method runs."""

    def decorate(method: Callable[Concatenate[KernelRegistry, str, P], T]) -> Callable[Concatenate[KernelRegistry, str, P], T]:
        @functools.wraps(method)
        def operation(self: KernelRegistry, kernel_id: str, /, *args: P.args, **kwargs: P.kwargs) -> T:
            kernel = self.kernels.get(kernel_id)
            try:
                result = method(self, kernel_id, *args, **kwargs)
            except Exception as exc:
                if kernel is not None:
                    self._emit_action(action, kernel.name, kernel_id, exc, owner=kernel.owner)
                raise
            if kernel is not None:
                self._emit_action(action, kernel.name, kernel_id, owner=kernel.owner)
                if self.metrics is not None:
                    self.metrics.action(action, kernel)
            return result

        return operation

    return decorate


class GeventRestarter(KernelRestarter):
    """Autorestart for a gevent process: jupyter_client's only concrete restarter needs tornado.

    The registry makes one per kernel (``Kernel.restarter``), starts it when the kernel's
    process has started, and stops it before it stops or restarts the process itself: the
    kernel manager, a plain jupyter_client ``KernelManager``, knows nothing of it.

    One greenlet per kernel waits for the process to exit (gevent's child watcher says so at
    once; ``time_to_dead`` bounds the wait), then runs the base class's ``poll`` under the lock.
    ``poll`` restarts the kernel from this very greenlet, which then watches the new process;
    ``stop`` never kills the greenlet that calls it (``poll`` does, when it gives up): it only
    retires it.

    A kernel is dead only when its process has exited (or its provisioner says so) and
    restarting it keeps failing. ``poll`` failing otherwise (the process runs, or its state
    could not be learnt: descriptors ran out, say) is logged and retried with backoff, and so
    is a restart that fails for want of resources (descriptors, memory, processes), which
    pass; other failed restarts are retried ``restart_limit`` times before the kernel is
    declared dead (``dead`` callbacks).
    """

    #: Seconds before the first retry of a failed poll; doubled on each failure, up to the last.
    retry_delays = (0.5, 30.0)

    def __init__(self, *, after_poll: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._after_poll = after_poll
        self._greenlet: Any = None

    def start(self) -> None:
        if self._greenlet is None or self._greenlet.dead:
            self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        current, self._greenlet = self._greenlet, None
        if current is not None and current is not gevent.getcurrent():
            current.kill(block=False)

    def _loop(self) -> None:
        me = gevent.getcurrent()
        failures = 0
        while self._greenlet is me:
            process = getattr(self.kernel_manager.provisioner, "process", None)
            if process is not None:
                # Wakes the moment the process exits; the timeout only lets poll() note a
                # stable start and reset the restart count now and then.
                wait_for_exit(process, self.stable_start_time)
                gevent.sleep(0.05)  # let a shutdown in progress mark itself first
            else:
                gevent.sleep(self.time_to_dead)
            if self._greenlet is not me:
                return
            try:
                if isinstance(self.kernel_manager, remote.BridgedKernelManager):
                    self.poll()  # on the provisioners' loop, which orders the calls (``Lifecycle.run``)
                else:
                    LIFECYCLE.run(self.poll)
            except Exception as exc:
                failures += 1
                if self._dead(exc, failures):
                    log.error("restarting kernel %s failed %d times, lastly with %s: %s", self.kernel_manager.kernel_id,
                              failures, type(exc).__name__, exc)
                    self._declare_dead()
                    if self._greenlet is me:
                        self._greenlet = None
                else:
                    self._retry_later(me, exc, failures)
                    continue
            else:
                failures = 0
            self._after_poll()

    def _declare_dead(self) -> None:
        for callback in self.callbacks["dead"]:
            try:
                callback()
            except Exception:
                log.exception("a callback failed for dead kernel %s", self.kernel_manager.kernel_id)

    def _dead(self, exc: Exception, failures: int) -> bool:
        """Whether a failed poll means the kernel is dead (see the class docstring)."""
        return (failures > self.restart_limit and not _wants_resources(exc)
                and _has_exited(self.kernel_manager))

    def _retry_later(self, me: Any, exc: Exception, failures: int) -> None:
        # A restart that failed midway (the manager is left marked as shutting down, which
        # makes every later poll a no-op) is this greenlet's to retry. No shutdown can have
        # come meanwhile: it would have waited for the lock and killed this greenlet, which
        # has not yielded since.
        self._greenlet = me
        self.kernel_manager.shutting_down = False
        first, last = self.retry_delays
        delay = min(first * 2 ** (failures - 1), last)
        log.warning("watching kernel %s failed (%s: %s); trying again in %g s", self.kernel_manager.kernel_id,
                    type(exc).__name__, exc, delay)
        gevent.sleep(delay)


#: errno values of a want of resources, which passes: retried however often it happens.
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EAGAIN, errno.ENOBUFS})


def _wants_resources(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from, is a want of descriptors, memory or
    processes."""
    return errors.caused_by_errno(exc, _RESOURCE_ERRNOS)


def _has_exited(km: KernelManager) -> bool:
    """Whether the kernel's process is known to have exited: its exit status is in, or (a
    provisioner with no local process) the provisioner says it has none. Not knowing is not
    having exited. Never yields to another greenlet."""
    process = getattr(km.provisioner, "process", None)
    try:
        if process is not None:
            return process.poll() is not None
        return not km.has_kernel
    except Exception:
        return False


class RegistryKernelManager(KernelManager):
    """jupyter_client's ``KernelManager``, which can also restart a kernel it did not start:
    one re-attached after the server that started it stopped (NOTEBOOK_PERSIST_KERNELS).

    jupyter_client restarts a kernel with the options of its ``start_kernel`` call, which a
    re-attached kernel's manager never made; `relaunch_options` (from its record) stand in for
    them, once: the new process is started by ``start_kernel``, whose options later restarts
    reuse. (``restart_kernel`` is public and meant to be overridden by subclasses.)
    """

    #: ``start_kernel``'s options for the first restart of a re-attached kernel; None otherwise.
    relaunch_options: dict[str, Any] | None = None

    def restart_kernel(self, now: bool = False, newports: bool = False, **kw: Any) -> None:
        options = self.relaunch_options
        if options is None:
            super().restart_kernel(now=now, newports=newports, **kw)
            return
        # What ``shutdown_kernel(now=True, restart=True)`` does, through the provisioner's
        # public API: that method, marked as a pending start, leaves the manager in a state in
        # which a start that was never attempted before fails ("invalid state").
        provisioner_ = self.provisioner
        assert provisioner_ is not None
        self.shutting_down = True
        run_sync(provisioner_.kill)(restart=True)
        run_sync(provisioner_.wait)()
        self.cleanup_resources(restart=True)
        if newports:
            self.cleanup_random_ports()
        self.relaunch_options = None
        self.start_kernel(**{**options, **kw})


class Kernel:
    """A running kernel, as the registry and its model see it.

    `km` is jupyter_client's ``KernelManager``, which launches the process through a
    provisioner (`provisioner.HeldPortsProvisioner` unless the kernelspec names another);
    `restarter` is its autorestart, which the registry starts once the kernel is listed (a
    pooled kernel has none running) and stops before it stops or restarts the process.
    """

    def __init__(self, kernel_id: str, name: str, km: KernelManager, cwd: str) -> None:
        self.id = kernel_id
        self.name = name
        self.km = km
        self.cwd = cwd
        #: The user who started it (``users.User.username``); None for a pooled kernel not
        #: handed out yet, or one of the server's own user (administrators see those).
        self.owner: str | None = None
        self.channels: KernelChannels | None = None
        self.restarter: GeventRestarter | None = None
        self.execution_state = "starting"
        self.last_activity = time.time()
        self.reason: str | None = None
        self.cause: str | None = None  # of the last unexpected exit
        self.restart_pending = False
        #: Held by a restart or a shutdown of this kernel: one at a time.
        self.lifecycle = Semaphore()
        #: The shells running a request: None (the main shell), subshell ids, ``_CONTROL``.
        self.busy_shells: set[object] = set()
        #: What the registry added to the server's environment for it (``JPY_SESSION_NAME``...):
        #: kept in its record to restart it with, never the server's own environment.
        self.launch_env: dict[str, str] = {}
        #: Whether it is (or was) listed; a pooled kernel not handed out yet is not.
        self.listed = False
        #: When its first process was launched (Unix time).
        self.launched = time.time()
        #: Re-attached: launched by a server before this one (``KernelRegistry.adopt``).
        self.adopted = False
        #: Another replica's gateway kernel, adopted here on demand (``KernelRegistry.claim``):
        #: this replica's stop lets it go without shutting it down.
        self.borrowed = False

    def shell_status(self, state: str, parent: dict[str, Any]) -> None:
        """A status the kernel published for a request (`parent` its header).

        Kernel subshells (JEP 91) run requests side by side: the main shell, each subshell,
        and the control channel each report their own busy and idle. The kernel is busy while
        any of them is. (jupyter_server 2.21 takes the last status as the kernel's: a subshell
        that goes idle while the main shell runs a cell leaves the kernel "idle"; checked live.)
        A subshell deleted while busy reports its idle first: ipykernel 7.4 answers the
        ``delete_subshell_request`` only once the subshell's running request has ended (checked).
        """
        if parent.get("msg_type") in CONTROL_REQUESTS:
            lane: object = _CONTROL
        else:
            subshell_id = parent.get("subshell_id")
            lane = subshell_id if isinstance(subshell_id, str) else None  # None: the main shell
        if state == "busy":
            self.busy_shells.add(lane)
        elif state == "idle":
            self.busy_shells.discard(lane)
        else:  # starting, or what a kernel may invent
            self.busy_shells.clear()
        self.execution_state = "busy" if self.busy_shells else state

    def reset_state(self, state: str) -> None:
        """The process is new, gone or going: nothing runs in it."""
        self.busy_shells.clear()
        self.execution_state = state

    @property
    def connections(self) -> int:
        return len(self.channels.connections) if self.channels is not None else 0

    def model(self) -> dict[str, Any]:
        model: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "last_activity": iso_utc(self.last_activity),
            "execution_state": self.execution_state,
            "connections": self.connections,
        }
        if self.reason:
            model["reason"] = self.reason
        return model

    @property
    def process(self) -> Any:
        """The kernel's process (a ``subprocess.Popen``, or what the provisioner has instead),
        None while it has none."""
        return getattr(self.km.provisioner, "process", None)

    @property
    def pid(self) -> int | None:
        return getattr(self.process, "pid", None)

    @property
    def remote(self) -> bool:
        """Whether a remote provisioner runs it elsewhere (``remote.py``): it has no process here."""
        return isinstance(self.km, remote.BridgedKernelManager)

    @property
    def alive(self) -> bool:
        """Whether the kernel's process is there and has not exited (a remote kernel: its
        provisioner has one, and the last poll found it). Never yields."""
        if isinstance(self.km, remote.BridgedKernelManager):
            return self.km.has_kernel and self.km.seen_alive is not None
        process = self.process
        return process is not None and process.poll() is None

    def provisioner_info(self) -> dict[str, Any]:
        """Its provisioner's ``get_provisioner_info`` (under the lifecycle lock), for its record."""
        provisioner_ = self.km.provisioner
        assert provisioner_ is not None
        info: dict[str, Any] = LIFECYCLE.run(run_sync(provisioner_.get_provisioner_info))
        return info

    def interrupt(self) -> None:
        """Send the interrupt now (SIGINT, or the kernelspec's ``interrupt_mode`` message),
        however far the kernel has started: ``KernelRegistry.interrupt_kernel`` waits for that.
        A gateway kernel is interrupted by the gateway, asked outside the lifecycle lock."""
        gw = gateways.remote(self.km)
        if gw is not None:
            gw.interrupt()
            return
        LIFECYCLE.run(self.km.interrupt_kernel)

    @property
    def started(self) -> bool:
        """Whether the process has spoken since it (re)started: it published a status of its own,
        which a kernel does once it serves requests (ipykernel: after it has set up its signal
        handling). Before that, SIGINT kills it."""
        return self.execution_state not in ("starting", "restarting", "dead") and not self.restart_pending

    def responsive(self, timeout: float) -> bool:
        """Whether the kernel answers a ``kernel_info_request`` on its control channel within
        `timeout` seconds. A kernel running code answers (ipykernel serves control in a thread
        of its own); one that is stopped (SIGSTOP), or stuck in native code that holds the GIL,
        does not."""
        return self.channels is not None and self.channels.probe(timeout)


#: Takes a warm kernel of a kernelspec for a working directory and environment, or None
#: (`pool.KernelPool.take`); it was launched by the registry, unlisted.
Take = Callable[[str, str, "dict[str, str] | None"], "Kernel | None"]
#: Makes room under the kernel limit for a kernel of a kernelspec the pool cannot give, by
#: giving up a warm kernel of another: True when it did (`pool.KernelPool.evict`).
Evict = Callable[[str], bool]
#: The sandbox of a kernel or terminal from its owner, the owner's workspace when the caller
#: knows it (terminals: their root), and the folder it is to start in (the app's, from its
#: settings: ``extension.py``).
Confine = Callable[[str | None, str | None, str], sandbox.Confinement]


class KernelRegistry:
    """Every kernel of one app, by id, with the jupyter_client verbs (``start_kernel``,
    ``list_kernels``, ``get_kernel``, ``interrupt_kernel``, ``restart_kernel``,
    ``shutdown_kernel``), autorestart, culling and the kernel limit.

    Kernels it launched without listing them (``launch``: a pool's warm kernels) count toward
    the limit and are stopped by ``shutdown_all`` too.

    :param max_kernels: refuse to start more than this many (``None``: no limit).
    :param max_kernels_per_user: refuse to start more than this many for one owner (``None``:
        no limit); see ``start_kernel``.
    :param limits: the memory and CPU limits every kernel it launches gets (``cgroups``).
    :param cull_idle_timeout: shut down kernels idle this many seconds (0: never), checked
        every ``cull_interval`` seconds; ``cull_connected`` and ``cull_busy`` as jupyter_server's.
    :param replay_limit: bytes kept for a disconnected WebSocket, per session id.
    :param take: where ``start_kernel`` first looks for a kernel (see `Take`), and `evict`
        what it asks for room; both built from the pool by the app (``extension.py``).
    :param confine: with a sandbox, each kernel's `sandbox.Confinement` (see `Confine`);
        kernels are then launched by ``sandbox.BubblewrapProvisioner`` unless their
        kernelspec names a provisioner, which must not be a local unconfined one.
    """

    def __init__(self, kernelspecs: Kernelspecs, *, max_kernels: int | None = None,
                 cull_idle_timeout: float = 0, cull_interval: float = 300, cull_connected: bool = False,
                 cull_busy: bool = False, replay_limit: int = 16 * 1024 * 1024, replay_sessions: int = 8,
                 on_activity: Callable[[float], None] | None = None, events: EventBus | None = None,
                 take: Take | None = None, evict: Evict | None = None, max_kernels_per_user: int | None = None,
                 limits: KernelLimits | None = None, confine: Confine | None = None, persist: bool = False,
                 records: KernelRecords | None = None, gateway: GatewayClient | None = None) -> None:
        self.kernelspecs = kernelspecs
        #: Where kernels run when not here (``NOTEBOOK_GATEWAY_URL``): ``gateway.py``.
        self.gateway = gateway
        #: Kernels outlive the server (NOTEBOOK_PERSIST_KERNELS): launched in a session of
        #: their own without a parent poller (``independent``) nor bwrap's ``--die-with-parent``;
        #: ``shutdown_all`` leaves the listed ones running.
        self.persist = persist
        #: Where each kernel's record is kept (the store), or None.
        self.records = records
        #: Kernel id -> set once a re-attachment of it at start-up is over (listed or dropped).
        self.reattaching: dict[str, Event] = {}
        self.events = events
        self.kernels: dict[str, Kernel] = {}
        self.max_kernels = max_kernels
        self.max_kernels_per_user = max_kernels_per_user
        self.limits = limits
        self.cull_idle_timeout = cull_idle_timeout
        self.cull_interval = cull_interval if cull_interval > 0 else 300
        self.cull_connected = cull_connected
        self.cull_busy = cull_busy
        self.replay_limit = replay_limit
        self.replay_sessions = replay_sessions
        self.on_activity = on_activity
        self.take = take
        self.evict = evict
        #: Called with a kernel that is gone (shut down, culled, dead or discarded) and why.
        self.on_stop: list[Callable[[Kernel, str], None]] = []
        #: Called with a gateway kernel this replica took over and the replica that held it,
        #: which is gone (``claim``).
        self.on_takeover: list[Callable[[Kernel, str], None]] = []
        self.confine = confine
        #: Where starts, deaths and stops are counted, and the relay's counts (``metrics.Metrics.watch``).
        self.metrics: KernelMetrics | None = None
        default = sandbox.NAME if confine is not None else provisioner.NAME
        self.provisioners = provisioner.factory(gateways.NAME if gateway is not None else default)
        self._unlisted: set[Kernel] = set()
        self._starting = 0
        #: Starts in flight per owner: between the per-user check and the kernel's listing.
        self._starting_for: dict[str, int] = {}
        self._culler: Any = None
        self._closed = False

    # -- queries --------------------------------------------------------------------------

    def get_kernel(self, kernel_id: str, *, user: User | None = None) -> Kernel:
        """:raises errors.NotFound: no such kernel, or one `user` may not see (the same
            message: another user's kernel is not known to exist)."""
        kernel = self.held(kernel_id, user=user)
        if kernel is None or (user is not None and not user.may_see(kernel.owner)):
            raise errors.NotFound(f"Kernel does not exist: {kernel_id}")
        return kernel

    def held(self, kernel_id: str, *, user: User | None = None) -> Kernel | None:
        """The kernel `kernel_id` if this registry holds it, or can: one being re-attached is
        waited for; another replica's gateway kernel is adopted now (`claim`), if `user` may
        see it (another user's is not adopted for them)."""
        kernel = self.kernels.get(kernel_id)
        if kernel is None and self.await_reattach(kernel_id):
            kernel = self.kernels.get(kernel_id)
        if kernel is None:
            kernel = self.claim(kernel_id, user=user)
        return kernel

    #: Seconds another replica's gateway kernel has to answer when it is adopted on demand.
    CLAIM_TIMEOUT = 10.0

    def claim(self, kernel_id: str, *, user: User | None = None) -> Kernel | None:
        """Replicas: a gateway kernel that this replica does not hold, from its record in the
        shared store, on the first request for it. None when there is no gateway, no such
        record, or it is not a gateway kernel (a local kernel of another replica is never
        taken: it runs on that replica's host). Concurrent requests for one kernel claim it once.

        Its holder (the replica that wrote its record) has an address (``NOTEBOOK_REPLICA_URL``):
        the request goes there (`HeldElsewhere`), so that the kernel has one connection to
        the gateway, whose buffer then covers every client if the holder dies. A holder that
        does not answer is dead: this replica takes the kernel over (`adopt` with `take`: it
        connects as the holder's session, the gateway replays what it kept, and its record
        names this replica now). A request another replica forwarded here is served by a
        connection of its own (`FORWARD`). Without an address, the kernel is adopted here and
        its record left as its holder wrote it."""
        if self.gateway is None or self.records is None or self._closed or not KERNEL_ID.fullmatch(kernel_id):
            return None
        done = self.reattaching.get(kernel_id)
        if done is not None:  # being adopted by another greenlet
            done.wait(self.REATTACH_WAIT)
            return self.kernels.get(kernel_id)
        done = self.reattaching[kernel_id] = Event()
        try:
            try:
                found = self.records.store.records(kernels_table, id=kernel_id)
            except Exception:
                log.exception("the record of kernel %s could not be read", kernel_id)
                return None
            record = found[0] if found else None
            if record is None or not is_shared(record) or not record.get("listed"):
                return None
            if user is not None and not user.may_see(record.get("owner")):
                return None
            if kernel_id in self.kernels:
                return self.kernels[kernel_id]
            return self._claim(record)
        finally:
            self.reattaching.pop(kernel_id, None)
            done.set()

    def _claim(self, record: dict[str, Any]) -> Kernel | None:
        """`claim`'s choice for a gateway kernel's `record`: forward to its holder, take it
        over, or adopt it."""
        assert self.records is not None
        kernel_id = str(record["id"])
        for _ in range(3):  # a holder that died, then the one that took its kernel over...
            url = holder_url(record, self.records.replica)
            if url is None:  # its holder does not take forwarded requests (or it is this one's)
                return self.adopt(record, timeout=self.CLAIM_TIMEOUT, shared=True,
                                  take=record_replica(record) == self.records.replica)
            if not FORWARD.get():  # forwarded here: served, not taken (never forwarded twice)
                return self.adopt(record, timeout=self.CLAIM_TIMEOUT, shared=True, visitor=True)
            if reachable(url):
                raise HeldElsewhere(f"kernel {kernel_id}", url, record_replica(record))
            try:
                taken = self.records.take_over(record)
                found = [] if taken else self.records.store.records(kernels_table, id=kernel_id)
            except Exception:
                log.exception("kernel %s: its record could not be updated", kernel_id)
                return None
            if taken:
                log.warning("kernel %s: its holder, replica %s, does not answer at %s: this replica takes it over",
                            kernel_id, record_replica(record), url)
                kernel = self.adopt(record, timeout=self.CLAIM_TIMEOUT, shared=True, take=True)
                if kernel is not None:
                    for hook in self.on_takeover:
                        try:
                            hook(kernel, record_replica(record))
                        except Exception:
                            log.exception("kernel %s: a takeover hook failed", kernel_id)
                return kernel
            if not found:  # shut down meanwhile
                return None
            record = found[0]  # another replica took it over first: ask that one
        return None

    def shared_records(self) -> list[dict[str, Any]] | None:
        """The records of every replica's gateway kernels in the shared store (listed ones),
        or None when there is no gateway (or the store cannot be read: logged)."""
        if self.gateway is None or self.records is None:
            return None
        try:
            found = self.records.store.records(kernels_table)
        except Exception:
            log.exception("the kernel records could not be read")
            return None
        return [record for record in found if is_shared(record) and record.get("listed")]

    def listing(self, user: User | None = None) -> list[Kernel | Listed]:
        """What ``GET /api/kernels`` shows: with a gateway, every replica's gateway kernels
        (from the store: those held here as they are, the others as their record tells,
        `Listed`), and this replica's local ones; without, ``list_kernels``. A gateway kernel
        held here whose record is gone (another replica shut it down) is not listed, and the
        gateway is asked about it at once (a 404 drops it)."""
        held = self.list_kernels(user)
        records = self.shared_records()
        if records is None:
            return list(held)
        recorded = {str(record["id"]) for record in records}
        shown: list[Kernel | Listed] = []
        for kernel in held:
            remote = gateways.remote(kernel.km)
            if remote is not None and kernel.id not in recorded and kernel.id not in self._fresh():
                remote.check()
                continue
            shown.append(kernel)
        for record in records:
            if str(record["id"]) not in self.kernels and (user is None or user.may_see(record.get("owner"))):
                shown.append(Listed(record))
        return shown

    def _fresh(self) -> set[str]:
        """Kernels whose record write is still queued (`KernelRecords`): listed all the same."""
        return self.records.queued() if self.records is not None else set()

    #: Seconds a request for a kernel being re-attached waits for it.
    REATTACH_WAIT = 10.0

    def await_reattached(self) -> None:
        """While the previous server's kernels are re-attached (start-up), wait until every
        one is listed or dropped, for at most `REATTACH_WAIT` seconds: a listing of kernels
        or sessions then shows them all (``/api/status`` does not wait)."""
        deadline = time.monotonic() + self.REATTACH_WAIT
        for done in list(self.reattaching.values()):
            done.wait(max(0.0, deadline - time.monotonic()))

    def await_reattach(self, kernel_id: str) -> bool:
        """While the kernels of the previous server are re-attached (start-up), wait for
        `kernel_id` if it is one of them, for at most `REATTACH_WAIT` seconds: a client that
        asks at once does not find it missing. Whether it waited."""
        done = self.reattaching.get(kernel_id)
        if done is None:
            return False
        done.wait(self.REATTACH_WAIT)
        return True

    def list_kernels(self, user: User | None = None) -> list[Kernel]:
        """Every kernel, or those `user` may see."""
        if user is None or user.admin:
            return list(self.kernels.values())
        return [kernel for kernel in self.kernels.values() if user.may_see(kernel.owner)]

    @property
    def connections(self) -> int:
        return sum(k.connections for k in self.kernels.values())

    @property
    def closed(self) -> bool:
        """Whether ``shutdown_all`` has run: no kernel starts any more."""
        return self._closed

    # -- start ------------------------------------------------------------------------------

    @_emits_start
    def start_kernel(self, name: str | None = None, *, cwd: str, kernel_id: str | None = None,
                     env: dict[str, str] | None = None, owner: str | None = None, limited: bool = True) -> Kernel:
        """Launch a kernel (returns once the process is launched, not when it answers), or
        take a warm one (`take`).

        `owner`'s kernels are limited to ``max_kernels_per_user`` unless `limited` is false
        (the server's own user) or there is no owner. They are counted when the start is
        asked for, before anything yields to another greenlet: the owner's listed kernels
        plus their starts still in flight, so starts at the same moment can never pass the
        limit together (Enterprise Gateway counts the user's kernel sessions, which exist only
        once a kernel has started: simultaneous starts all pass its check).
        A kernel taken from the pool counts from then on.

        :param owner: who it is for (``Kernel.owner``). A `kernel_id` that is running already
            gives that kernel if it is `owner`'s.
        :raises errors.Invalid: `kernel_id` is not of the form jupyter_server accepts.
        :raises errors.Conflict: `kernel_id` is another owner's kernel. (A kernel id is a
            uuid4: whoever names another user's has learnt it elsewhere; a 404 would be no
            truer, since the id cannot be started.)
        :raises errors.NotFound: no kernelspec of that name.
        :raises errors.LimitReached: the kernel limit, or the owner's, is reached.
        :raises errors.KernelFailed: the kernel process could not be launched.
        :raises errors.Unavailable: the server is shutting down.
        """
        if kernel_id is not None and not KERNEL_ID.fullmatch(kernel_id):
            raise errors.Invalid(f"{kernel_id!r} is not a valid kernel id")
        if kernel_id is not None:
            self.await_reattach(kernel_id)  # never a second kernel on a re-attaching one's id
        if kernel_id is not None and kernel_id in self.kernels:
            running = self.kernels[kernel_id]
            if running.owner != owner:
                raise errors.Conflict(f"Kernel id {kernel_id} is in use", reason="kernel id in use")
            return running
        if self._closed:
            raise errors.Unavailable("The server is shutting down", reason="shutting down")
        counted = owner if limited and self.max_kernels_per_user is not None else None
        if counted is not None:
            self._check_user_room(counted)
            self._starting_for[counted] = self._starting_for.get(counted, 0) + 1
        try:
            return self._start(name, cwd=cwd, kernel_id=kernel_id, env=env, owner=owner)
        finally:
            if counted is not None:
                left = self._starting_for[counted] - 1
                if left:
                    self._starting_for[counted] = left
                else:
                    del self._starting_for[counted]

    def _check_user_room(self, owner: str) -> None:
        """:raises errors.LimitReached: `owner` holds (or is starting) ``max_kernels_per_user`` kernels."""
        mine = {k.id for k in self.kernels.values() if k.owner == owner}
        records = self.shared_records() if self.max_kernels_per_user is not None else None
        if records:  # replicas: the owner's kernels on every replica
            mine |= {str(r["id"]) for r in records if r.get("owner") == owner}
        held = self._starting_for.get(owner, 0) + len(mine)
        if self.max_kernels_per_user is not None and held >= self.max_kernels_per_user:
            raise errors.LimitReached(
                f"You have the maximum number of kernels one user may run ({self.max_kernels_per_user}); "
                "shut one down first (NOTEBOOK_MAX_KERNELS_PER_USER)", reason="user kernel limit reached")

    def _start(self, name: str | None, *, cwd: str, kernel_id: str | None, env: dict[str, str] | None,
               owner: str | None) -> Kernel:
        name = (name or self.kernelspecs.default_name).lower()
        self.kernelspecs.get_spec(name)  # NotFound, with a clear message
        kernel = None
        if kernel_id is None and self.take is not None and self._poolable(owner, env):
            # A client-chosen id names the connection file: such a kernel is started cold.
            kernel = self.take(name, cwd, env)
        if kernel is not None:
            self._unlisted.discard(kernel)
            self._start_restarter(kernel)
        else:
            if not self.has_room() and not (self.evict is not None and self.evict(name)):
                raise errors.LimitReached(
                    f"The maximum number of kernels ({self.max_kernels}) is running; "
                    "shut one down first (NOTEBOOK_MAX_KERNELS)", reason="kernel limit reached")
            kernel = self.launch(name, cwd=cwd, kernel_id=kernel_id, env=env, listed=True, owner=owner)
        kernel.owner = owner
        self._list(kernel)
        if self.gateway is not None and self.records is not None:
            # Other replicas find a gateway kernel by its record (``claim``): written before
            # the start answers, so that a client sent to another replica next finds it.
            self.records.flush(timeout=5)
        return kernel

    def _list(self, kernel: Kernel, *, record: bool = True) -> None:
        kernel.listed = True
        self.kernels[kernel.id] = kernel
        self._touch(kernel)
        if record:
            self._record(kernel)
        if self.cull_idle_timeout > 0 and self._culler is None:
            self._culler = gevent.spawn(self._cull_loop)

    def _record(self, kernel: Kernel) -> None:
        # A remote provisioner's kernel (``remote.py``) is not re-attached by a later server:
        # its provisioner's state lives on the provisioners' loop of this process only.
        if self.records is not None and not kernel.remote:
            self.records.put(kernel)

    def _poolable(self, owner: str | None, env: dict[str, str] | None) -> bool:
        """Whether a pooled kernel may serve a start for `owner` with `env`.

        A gateway kernel's ``KERNEL_USERNAME`` and ``KERNEL_*`` variables are what the gateway
        launched it with (the user it impersonates, the pod's namespace, ...): they cannot be
        changed once it runs. Pooled kernels are started before they have an owner, as the
        server's own user, without variables: with a gateway, they serve only starts that would
        launch the same, and any other user's kernel starts cold, with that user's name.
        """
        return self.gateway is None or (not env and gateways.username(owner) == gateways.username(None))

    def has_room(self) -> bool:
        """Whether one more kernel fits under the limit (unlisted kernels count)."""
        held = len(self.kernels) + len(self._unlisted) + self._starting
        return self.max_kernels is None or held < self.max_kernels

    def launch(self, name: str, *, cwd: str, kernel_id: str | None = None, env: dict[str, str] | None = None,
               listed: bool = False, owner: str | None = None) -> Kernel:
        """Launch a kernel process and its relay. Unless `listed` (``start_kernel`` lists it),
        the kernel is not listed and has no autorestart, until ``start_kernel`` takes it (`take`)
        or ``discard`` stops it. With a sandbox, confined as `confine` says for `owner`.

        :raises errors.KernelFailed: the kernel process could not be launched.
        :raises errors.Unavailable: the server is shutting down (or did while it launched).
        """
        if self._closed:
            raise errors.Unavailable("The server is shutting down", reason="shutting down")
        kernel_id = kernel_id or str(uuid.uuid4())
        try:
            kernel = self._kernel(kernel_id, name, cwd, owner, env or {})
        except Exception as exc:  # its provisioner cannot be made, or not confined as it must be
            log.warning("kernel %s (%s) could not be started: %s", kernel_id, name, exc)
            raise errors.KernelFailed(f"The kernel '{name}' could not be started: {exc}", reason=str(exc)) from exc
        km = kernel.km
        self._starting += 1
        try:
            gw = gateways.remote(km)
            if gw is not None:
                # The gateway starts it (seconds, for a pod): outside LIFECYCLE's lock.
                gw.create(env=kernel.launch_env, owner=owner, cwd=cwd)
            LIFECYCLE.run(km.start_kernel, **self._launch_options(kernel))
        except Exception as exc:
            gw = gateways.remote(km)
            if gw is not None:
                gw.delete()
            _discard(km)
            log.warning("kernel %s (%s) could not be started: %s", kernel_id, name, exc)
            if isinstance(exc, errors.Unavailable):  # the gateway cannot be reached: 503, as it says
                raise
            message = exc.message if isinstance(exc, errors.NotebookError) else str(exc)
            raise errors.KernelFailed(f"The kernel '{name}' could not be started: {message}",
                                      reason=message) from exc
        finally:
            self._starting -= 1
        self._equip(kernel)
        if self.persist and not listed:
            self._record(kernel)  # a pooled kernel too: a server that dies leaves it behind
        if self._closed:  # shutdown_all came while it launched, and did not see it
            gevent.spawn(self._stop, kernel, 0, "The server is shutting down")
            raise errors.Unavailable("The server is shutting down", reason="shutting down")
        if listed:
            self._start_restarter(kernel)
        else:
            self._unlisted.add(kernel)
        log.info("kernel %s started (%s) in %s", kernel_id, name, cwd)
        return kernel

    def _kernel(self, kernel_id: str, name: str, cwd: str, owner: str | None, env: dict[str, str]) -> Kernel:
        """A kernel with its manager and provisioner (confined, limited), not yet launched.

        :raises Exception: the kernelspec is gone, or its provisioner cannot be made.
        """
        runtime = jupyter_runtime_dir()
        os.makedirs(runtime, exist_ok=True)
        # The relay's ZMQ context, not one per kernel: jupyter_client's default would start two
        # more threads (ZMQ's I/O and reaper) in this process for every kernel, for the one
        # control socket it opens to ask for a polite shutdown.
        # A remote provisioner's kernel gets a manager whose calls run on the provisioners' loop.
        remote_spec = self.gateway is None and remote.is_remote(self.kernelspecs.manager.get_kernel_spec(name))
        manager_class = remote.BridgedKernelManager if remote_spec else RegistryKernelManager
        km = manager_class(kernel_name=name, kernel_spec_manager=self.kernelspecs.manager, context=zmq_context(),
                           connection_file=os.path.join(runtime, f"kernel-{kernel_id}.json"))
        km.kernel_id = kernel_id
        kernel = Kernel(kernel_id, name, km, cwd)
        kernel.launch_env = dict(env)
        try:
            # Ours, unless the kernelspec names another (``provisioner.factory``).
            if isinstance(km, remote.BridgedKernelManager):
                km.make_provisioner(self.provisioners, kernel_id)
                if owner is not None:  # whom the remote side runs it for
                    kernel.launch_env["KERNEL_USERNAME"] = owner
            else:
                km.provisioner = self.provisioners.create_provisioner_instance(kernel_id, km.kernel_spec, parent=km)
            gw = gateways.remote(km)
            if gw is not None:
                gw.client = self.gateway
                gw.replica = self.records.replica if self.records is not None else HOST
            elif self.confine is not None:
                confinement = self.confine(owner, None, cwd)
                _confine(km, dataclasses.replace(confinement, env={**confinement.env, **env},
                                                 outlive_server=self.persist))
            self._set_limits(km)
        except Exception:
            _discard(km)
            raise
        return kernel

    def _launch_options(self, kernel: Kernel) -> dict[str, Any]:
        """``start_kernel``'s options: the server's environment with the kernel's own; a kernel
        that outlives the server is ``independent`` (no parent poller: jupyter_client's option)."""
        options: dict[str, Any] = {"cwd": kernel.cwd, "env": {**os.environ, **kernel.launch_env}}
        if self.persist:
            options["independent"] = True
        return options

    def _equip(self, kernel: Kernel) -> None:
        """The launched kernel's restarter (not started) and relay."""
        km = kernel.km
        gw = gateways.remote(km)
        if gw is not None:
            # The gateway restarts a kernel process that dies; one it no longer has is gone.
            gw.on_gone = lambda reason: self._declare_dead(kernel, reason)
        else:
            kernel.restarter = GeventRestarter(kernel_manager=km, parent=km, log=km.log, time_to_dead=1.0,
                                               after_poll=lambda: self._after_poll(kernel))
            kernel.restarter.add_callback(lambda: self._on_restart(kernel), "restart")
            kernel.restarter.add_callback(lambda: self._on_dead(kernel), "dead")
        kernel.channels = KernelChannels(kernel.id, dict(km.get_connection_info(session=False)),
                                         on_iopub=lambda msg: self._track(kernel, msg),
                                         replay_limit=self.replay_limit, replay_sessions=self.replay_sessions,
                                         stats=self.metrics.relay if self.metrics is not None else None)
        if gw is not None:  # other replicas may serve it too: see ``KernelChannels.foreign``
            kernel.channels.foreign = OrderedDict()
            # Re-attached, or adopted from a replica that died: what the gateway kept for the
            # old connection comes in first; it goes to the clients it was for (``orphans``).
            gw.on_drain = kernel.channels.expect_orphans
            if not kernel.borrowed:  # (another replica's record is left as it wrote it)
                gw.on_open = lambda: self._record(kernel)

    # -- re-attachment ------------------------------------------------------------------------

    def adopt(self, record: dict[str, Any], *, timeout: float = 2.0, keep: bool = True,
              shared: bool = False, take: bool = False, visitor: bool = False) -> Kernel | None:
        """Re-attach to the kernel of `record` (``kernel_record``: written by a server that
        has stopped since), if its process still runs and answers a ``kernel_info_request`` on
        its control channel within `timeout` seconds: same id, connection info and owner; its
        relay and autorestart (by its pidfd: it is not our child), listed (unless it was a
        pooled kernel, which is stopped). A kernel that does not answer is killed (by its
        process group, if its process is still the one recorded), its record deleted, its
        connection file removed: None. With `keep` false (persistence is off), every such
        leftover is stopped so.

        `shared`: another replica's gateway kernel, adopted on demand (`claim`): its record is
        left as that replica wrote it, and if it does not answer it is only let go here (not
        shut down, its record kept) unless the gateway no longer has it. With `take`, this
        replica becomes its holder (its record rewritten); a `visitor` connects with a
        session of its own, never the holder's.
        """
        kernel_id = str(record["id"])
        kernel = None
        try:
            kernel = self._kernel(kernel_id, str(record["name"]), str(record["cwd"]), record.get("owner"),
                                  dict(record.get("env") or {}))
            kernel.borrowed = shared and not take
            km = kernel.km
            assert isinstance(km, RegistryKernelManager) and km.provisioner is not None
            km.connection_file = str(record.get("connection_file") or km.connection_file)  # the file it read
            info = dict(record["connection_info"])
            if is_shared(record):
                # Its channels are the gateway's, through a bridge of this process's
                # (``load_provisioner_info``): the recorded ports are another process's bridge.
                # (jupyter_client's ``load_connection_info`` only sets ports still unset.)
                info = {name: value for name, value in info.items() if not name.endswith("_port")}
            km.load_connection_info(info)  # type: ignore[arg-type]
            gw = gateways.remote(km)
            if gw is not None and visitor:
                gw.visitor = True
            elif gw is not None and is_shared(record) and record["provisioner"].get("bridged"):
                # The session its holder connected with, kept for it since it went (if nobody
                # is connected now). Not before that holder's connection was open: it may still
                # be on its way (two connections of one session would each close the other).
                gw.drain_session = record["provisioner"].get("session") or \
                    gateway_session(record_replica(record), str(record["provisioner"]["remote_id"]))
            LIFECYCLE.run(run_sync(km.provisioner.load_provisioner_info), record["provisioner"])
            remote = gateways.remote(km)
            if remote is not None and remote.bridge is not None:
                km.load_connection_info(remote.connection_info)  # this replica's end of the gateway's channels
            km.relaunch_options = self._launch_options(kernel)
            kernel.adopted = True
            kernel.owner = record.get("owner")
            kernel.launched = float(record.get("launched") or time.time())
            if not km.has_kernel:
                raise LookupError("its process is gone")
            self._equip(kernel)
            if not keep:
                raise _Leftover("kernels do not outlive the server (NOTEBOOK_PERSIST_KERNELS is off)")
            if not record.get("listed"):
                raise LookupError("it was a pooled kernel")
            if not kernel.responsive(timeout):
                raise LookupError(f"it did not answer within {timeout:g} s")
        except Exception as exc:
            if shared:
                self._let_go(kernel, kernel_id, exc)
                return None
            if isinstance(exc, GatewayUnreachable):
                # Not an answer about the kernel: it may well run on. Its record stays for a
                # server that reaches the gateway (this one's next start).
                log.warning("kernel %s of the previous server not re-attached for now: %s", kernel_id, exc)
                if kernel is not None:
                    remote = gateways.remote(kernel.km)
                    if remote is not None:
                        remote.detach()
                    _discard(kernel.km)
                return None
            if isinstance(exc, _Leftover):  # expected: what a crash with persistence off leaves
                log.info("kernel %s left running by the previous server: stopped, as %s", kernel_id, exc)
            else:
                log.warning("kernel %s of the previous server not re-attached: %s", kernel_id, exc)
            if kernel is not None:
                gevent.spawn(self._stop, kernel, 0, "The kernel did not answer after a server restart")
            if self.records is not None:
                self.records.delete(kernel_id)
            return None
        if self._closed:
            gevent.spawn(self._stop, kernel, 0, "The server is shutting down")
            return None
        kernel.reset_state("idle")  # it answered; a status it publishes corrects this
        kernel.borrowed = shared and not take
        self._list(kernel, record=not kernel.borrowed)
        self._start_restarter(kernel)
        log.info("kernel %s (%s) %s", kernel_id, kernel.name,
                 "taken over" if shared and take else "adopted from another replica" if shared else "re-attached")
        return kernel

    def _let_go(self, kernel: Kernel | None, kernel_id: str, exc: Exception) -> None:
        """Release what adopting another replica's kernel made here (its bridge, its relay),
        without shutting it down; its record is deleted only if the gateway no longer has it."""
        remote = gateways.remote(kernel.km) if kernel is not None else None
        gone = remote is not None and remote.exists() is False
        log.warning("kernel %s of another replica not adopted: %s%s", kernel_id, exc,
                    " (the gateway no longer has it: its record deleted)" if gone else "")
        if kernel is not None:
            if remote is not None:
                remote.detach()
            _discard(kernel.km)
            if kernel.channels is not None:
                kernel.channels.close()
        if gone and self.records is not None:
            self.records.delete(kernel_id)

    def _set_limits(self, km: KernelManager) -> None:
        if self.limits is None:
            return
        if isinstance(km.provisioner, provisioner.HeldPortsProvisioner):
            km.provisioner.limits = self.limits
        else:
            log.warning("kernel %s runs without this server's memory and CPU limits (NOTEBOOK_KERNEL_MEMORY_LIMIT, "
                        "NOTEBOOK_KERNEL_CPU_LIMIT): its kernelspec names the provisioner %s, which %s", km.kernel_id,
                        type(km.provisioner).__name__,
                        "runs it on another host, as that host limits it" if isinstance(km, remote.BridgedKernelManager)
                        else "does not apply them")

    def discard(self, kernel: Kernel, *, grace: float = 1.0, reason: str = "The kernel was shut down") -> None:
        """Stop an unlisted kernel (a pooled one), in the background: it stops counting at once."""
        self._unlisted.discard(kernel)
        if self.metrics is not None:
            self.metrics.stopping(kernel, "discarded")
        gevent.spawn(self._stop, kernel, grace, reason)

    def _start_restarter(self, kernel: Kernel) -> None:
        if kernel.restarter is not None and kernel.km.has_kernel:
            kernel.restarter.start()

    # -- operations ---------------------------------------------------------------------------

    @_emits("interrupt")
    def interrupt_kernel(self, kernel_id: str, *, timeout: float = 60) -> None:
        """Interrupt the kernel; a kernel still starting, once it has started (``Kernel.started``).

        A kernel process that gets SIGINT before it has set up its handler dies of it
        (ipykernel, in the middle of its imports: the autorestarter then starts it again, its
        state lost). So the interrupt waits, for at most `timeout` seconds.

        :raises errors.NotFound: no such kernel, or it was shut down meanwhile.
        :raises errors.Unavailable: the kernel did not start within `timeout`.
        """
        kernel = self.get_kernel(kernel_id)
        deadline = time.monotonic() + timeout
        while not kernel.started and self.kernels.get(kernel_id) is kernel:
            if time.monotonic() >= deadline:
                raise errors.Unavailable(f"Kernel {kernel_id} has not finished starting within {timeout} s; "
                                         "it cannot be interrupted yet", reason="kernel starting")
            gevent.sleep(0.05)
        if self.kernels.get(kernel_id) is not kernel:
            raise errors.NotFound(f"Kernel {kernel_id} was shut down before it could be interrupted")
        kernel.interrupt()
        self._touch(kernel)

    @_emits("restart")
    def restart_kernel(self, kernel_id: str, *, timeout: float = 60) -> Kernel:
        """Restart on the same ports; returns once the new kernel answers kernel_info.

        What jupyter_client's ``restart_kernel(now=False)`` does, in three steps, so that the
        wait for the old process holds up no other kernel: under ``LIFECYCLE``'s lock ask it to
        shut down (clients see its ``shutdown_reply`` with ``restart: true``); without the
        lock wait for it to exit, for at most ``shutdown_wait_time``, with SIGTERM halfway,
        as jupyter_client's ``finish_shutdown`` does; under the lock again kill what is left
        and start the new process (``restart_kernel(now=True)``: same ports and arguments).

        :raises errors.NotFound: no such kernel, or it was shut down during the restart.
        :raises errors.KernelFailed: the restart failed, or the kernel did not come back within `timeout`.
        """
        kernel = self.get_kernel(kernel_id)
        assert kernel.channels is not None
        with kernel.lifecycle:
            try:
                self._restart(kernel)
            except errors.NotebookError:
                raise
            except Exception as exc:
                log.warning("restarting kernel %s failed: %s", kernel_id, exc)
                if not kernel.alive:  # the old process is gone and no new one came
                    self._declare_dead(kernel, f"The kernel could not be restarted: {exc}")
                raise errors.KernelFailed(f"Exception restarting kernel: {exc}", reason=str(exc)) from exc
        kernel.reset_state("starting")
        kernel.reason = None
        self._touch(kernel)
        if not kernel.channels.moved(dict(kernel.km.get_connection_info(session=False))):
            kernel.channels.nudge()
        if not kernel.channels.ready.wait(timeout):
            raise errors.KernelFailed(f"Kernel {kernel_id} did not answer within {timeout} s after a restart",
                                      reason="restart timed out")
        if kernel.channels.closed:
            raise errors.NotFound(f"Kernel {kernel_id} was shut down during its restart")
        return kernel

    def _restart(self, kernel: Kernel) -> None:
        km = kernel.km
        gw = gateways.remote(km)
        if gw is not None:
            gw.restart()  # the gateway's own restart, outside the lock: same kernel, same channels
            return
        process = kernel.process
        if kernel.remote:
            LIFECYCLE.run(_ask_to_exit, kernel, None, restart=True, ask_remote=kernel.alive)
            _wait_gone(kernel, None, max(km.shutdown_wait_time, 0))
        else:
            LIFECYCLE.run(_ask_to_exit, kernel, process, restart=True)
        if process is not None and process.poll() is None:
            wait = max(km.shutdown_wait_time, 0)
            if km.provisioner is not None:
                wait = km.provisioner.get_shutdown_wait_time(recommended=wait)
            wait_for_exit(process, wait / 2)
            if process.poll() is None:
                LIFECYCLE.run(km.signal_kernel, signal.SIGTERM)
                wait_for_exit(process, wait / 2)
        if self.kernels.get(kernel.id) is not kernel:  # shut down meanwhile: ``_stop`` finishes
            raise errors.NotFound(f"Kernel {kernel.id} was shut down during its restart")
        LIFECYCLE.run(km.restart_kernel, now=True)  # kills what is left; the same ports and arguments
        self._start_restarter(kernel)
        self._record(kernel)  # a new process

    @_emits("shutdown")
    def shutdown_kernel(self, kernel_id: str, *, grace: float = 3.0) -> None:
        """Ask the kernel to exit; after `grace` seconds, kill it. Removes its connection file.

        :raises errors.NotFound: no such kernel.
        """
        kernel = self.kernels.pop(kernel_id, None)
        if kernel is None:
            raise errors.NotFound(f"Kernel does not exist: {kernel_id}")
        self._stop(kernel, grace)
        log.info("kernel %s shut down", kernel_id)

    def shutdown_all(self, *, grace: float = 1.5, keep: bool | None = None) -> None:
        """Stop every kernel, in parallel, best effort per kernel, and close their WebSockets.
        No new kernel starts after.

        :param keep: leave the listed kernels running, with their records, for the next server
            to re-attach (their WebSockets are closed all the same); by default, when kernels
            outlive the server (`persist`). Unlisted (pooled) kernels are always stopped.
        """
        keep = self.persist if keep is None else keep
        if keep and self._closed:
            return
        self._closed = True
        if self._culler is not None:
            self._culler.kill(block=False)
        # Remote provisioners' kernels cannot be re-attached (`_record`): stopped in any case.
        # Kernels borrowed from other replicas (``claim``) are theirs: let go, never shut down.
        kept = [k for k in self.kernels.values() if (keep and not k.remote) or k.borrowed]
        kernels = [k for k in self.kernels.values() if k not in kept] + list(self._unlisted)
        # Kept ones stay listed: a request that reaches this server before it stops accepting
        # (gunicorn's worker, for up to a second) still finds them.
        for kernel in kernels:
            self.kernels.pop(kernel.id, None)
        self._unlisted.clear()
        for kernel in kept:
            if kernel.restarter is not None:
                kernel.restarter.stop()  # its exit now is no death to restart from here
            remote = gateways.remote(kernel.km)
            if remote is not None and kernel.borrowed:
                remote.detach()  # its bridge closes; the gateway keeps the kernel
        if kernels:
            gevent.joinall([gevent.spawn(self._stop, k, grace) for k in kernels], timeout=grace + 6)
        for kernel in kernels + kept:
            if kernel.channels is not None:
                kernel.channels.hang_up()
        if kept:
            log.info("%d kernel(s) left running for the next server (NOTEBOOK_PERSIST_KERNELS)", len(kept))
        if self.records is not None:
            self.records.flush()
        if self.limits is not None and not kept:
            self.limits.close()

    def _stop(self, kernel: Kernel, grace: float, reason: str = "The kernel was shut down") -> None:
        km = kernel.km
        try:
            with kernel.lifecycle:  # after a restart in progress (which then starts nothing)
                process = kernel.process
                gw = gateways.remote(km)
                if gw is not None:
                    gw.delete()  # the gateway shuts it down: outside the lock
                elif kernel.remote:  # no process here: ask while its provisioner has one, then poll
                    LIFECYCLE.run(_ask_to_exit, kernel, None, ask_remote=grace > 0 and kernel.alive)
                    if grace > 0:
                        _wait_gone(kernel, None, grace)
                else:
                    LIFECYCLE.run(_ask_to_exit, kernel, process if grace > 0 else None)
                    if process is not None and grace > 0:
                        wait_for_exit(process, grace)
                LIFECYCLE.run(km.shutdown_kernel, now=True)  # kills what is left; reaps; removes the connection file
            if kernel.adopted:  # a file this manager did not write, which it leaves
                _remove(km.connection_file)
        except Exception:
            log.exception("error while shutting down kernel %s", kernel.id)
            _discard(km)
        kernel.reset_state("dead")
        self._stopped(kernel, reason)
        if kernel.channels is not None:
            # The kernel's last words (shutdown_reply, status) still reach its clients.
            gevent.spawn_later(0.5, kernel.channels.close)

    def _stopped(self, kernel: Kernel, reason: str) -> None:
        if self.records is not None and (kernel.listed or self.persist):
            self.records.delete(kernel.id)
        for listener in self.on_stop:
            try:
                listener(kernel, reason)
            except Exception:
                log.exception("a listener failed for kernel %s", kernel.id)

    def _emit_action(self, action: str, kernel_name: str, kernel_id: str | None,
                     error: BaseException | None = None, *, owner: str | None = None) -> None:
        """A ``kernel_actions`` event, for the kernel's owner (and administrators) only."""
        if self.events is not None:
            self.events.emit(KERNEL_ACTIONS, kernel_action(action, kernel_name=kernel_name, kernel_id=kernel_id,
                                                           error=error), audience=owner_audience(owner))

    # -- state tracking -----------------------------------------------------------------------

    def _touch(self, kernel: Kernel) -> None:
        now = time.time()
        kernel.last_activity = now
        if self.on_activity is not None:
            self.on_activity(now)

    def _track(self, kernel: Kernel, msg: Msg) -> None:
        """execution_state and last_activity from iopub, as jupyter_server keeps them (contract 4.1),
        except that a kernel is busy while any of its shells is (``Kernel.shell_status``)."""
        msg_type = msg.msg_type
        parent_type = msg.parent.get("msg_type")
        if msg_type == "status":
            state = msg.content().get("execution_state")
            if isinstance(state, str):
                if parent_type not in UNTRACKED:
                    kernel.shell_status(state, msg.parent)
                elif kernel.execution_state == "starting" and state != "starting":
                    kernel.execution_state = "idle"
        if msg_type not in UNTRACKED or parent_type not in UNTRACKED or kernel.execution_state == "busy":
            self._touch(kernel)

    # -- autorestart --------------------------------------------------------------------------

    def _on_restart(self, kernel: Kernel) -> None:
        """The process died unexpectedly and is about to be restarted (under the lock)."""
        process = kernel.process
        if process is None and kernel.restart_pending and kernel.cause:
            cause = kernel.cause  # a restart that failed, retried: the process that died is gone
        elif kernel.remote:
            cause = f"is gone from its host (its provisioner {type(kernel.km.provisioner).__name__} found no process)"
        else:
            returncode = getattr(process, "returncode", None)
            by_limits = self.limits.death_cause(kernel.id, returncode) if self.limits is not None else None
            cause = by_limits or exit_cause(returncode)
            if self.metrics is not None:
                self.metrics.died(kernel, returncode, by_limits)
            if isinstance(process, AdoptedProcess) and not by_limits:
                cause = "ended (its exit status is unknown: an earlier server started it)"
        kernel.cause = cause
        kernel.reason = f"The kernel {cause}; it was restarted"
        kernel.reset_state("restarting")
        kernel.restart_pending = True
        log.warning("kernel %s %s; restarting it", kernel.id, cause)
        if kernel.channels is not None:
            kernel.channels.broadcast(lambda session_id: server_message(
                session_id, "status", {"execution_state": "restarting", "reason": kernel.reason}))

    def _after_poll(self, kernel: Kernel) -> None:
        if not kernel.restart_pending or kernel.channels is None or kernel.id not in self.kernels:
            return
        kernel.restart_pending = False
        kernel.reset_state("starting")
        self._touch(kernel)
        self._record(kernel)  # a new process
        if not kernel.channels.moved(dict(kernel.km.get_connection_info(session=False))):
            kernel.channels.nudge()  # same ports: the sockets reconnect by themselves

    def _on_dead(self, kernel: Kernel) -> None:
        """Autorestart gave up: the kernel is removed (REST 404), its clients told why."""
        kernel.restart_pending = False
        self._declare_dead(kernel, f"The kernel {kernel.cause or 'could not be restarted'}, again and again; "
                                   "it is dead")

    def _declare_dead(self, kernel: Kernel, reason: str) -> None:
        """The kernel has no process and will get none: removed (REST 404), its clients told
        why with a ``dead`` status, what it holds released."""
        kernel.reset_state("dead")
        kernel.reason = reason
        log.error("kernel %s is dead: %s", kernel.id, kernel.reason)
        if kernel.channels is not None:
            kernel.channels.broadcast(lambda session_id: server_message(
                session_id, "status", {"execution_state": "dead", "reason": kernel.reason}))
        if self.kernels.get(kernel.id) is kernel:
            del self.kernels[kernel.id]
            if self.metrics is not None:
                self.metrics.stopping(kernel, "dead")
            gevent.spawn(self._stop, kernel, 0, kernel.reason)

    # -- culling ------------------------------------------------------------------------------

    def _cull_loop(self) -> None:
        while True:
            gevent.sleep(self.cull_interval)
            self.cull()

    def cull(self) -> list[str]:
        """Shut down idle kernels, as jupyter_server's culler does. Returns the culled ids."""
        culled = []
        now = time.time()
        for kernel in list(self.kernels.values()):
            idle = now - kernel.last_activity
            if kernel.execution_state == "dead":
                why = "it is dead"
            elif idle <= self.cull_idle_timeout:
                continue
            elif kernel.execution_state == "busy" and not self.cull_busy:
                continue
            elif kernel.connections and not self.cull_connected:
                continue
            else:
                why = (f"idle for {idle:.0f} s (NOTEBOOK_CULL_IDLE_TIMEOUT={self.cull_idle_timeout}), "
                       f"{kernel.execution_state}, {kernel.connections} connection(s)")
            log.warning("culling kernel %s (%s): %s", kernel.id, kernel.name, why)
            if self.metrics is not None:
                self.metrics.stopping(kernel, "culled")
            try:
                self.shutdown_kernel(kernel.id)
            except errors.NotFound:
                continue
            culled.append(kernel.id)
        return culled


def _wait_gone(kernel: Kernel, process: Any, timeout: float) -> None:
    """Until the kernel is gone or `timeout` passes: its process's exit, or for a remote kernel
    its provisioner's poll (on the provisioners' loop, every half second)."""
    if process is not None:
        wait_for_exit(process, timeout)
        return
    if not kernel.remote:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and kernel.km.is_alive():
        gevent.sleep(0.5)


def _ask_to_exit(kernel: Kernel, process: Any, *, restart: bool = False, ask_remote: bool = False) -> None:
    """Stop watching the kernel (its exit is no death to autorestart) and, if `process` is
    still running, ask it to shut down: interrupted first, so a busy kernel reads the
    request at once, and continued, so a stopped one does too (without, it would wait for
    SIGKILL, which works on a stopped process, after the whole grace period). Called through
    ``LIFECYCLE.run``."""
    km = kernel.km
    if kernel.restarter is not None:
        kernel.restarter.stop()
    km.shutting_down = True
    if ask_remote:  # a remote kernel, with no process here, that its provisioner found alive
        km.interrupt_kernel()
        km.request_shutdown(restart=restart)
    elif process is not None and process.poll() is None:
        km.interrupt_kernel()
        km.request_shutdown(restart=restart)
        if hasattr(signal, "SIGCONT"):  # a stopped kernel (SIGSTOP) reads neither until continued
            km.signal_kernel(signal.SIGCONT)


def _confine(km: KernelManager, confinement: sandbox.Confinement) -> None:
    """Hand the kernel's sandbox to its provisioner. A kernelspec may name a provisioner of
    its own: one that starts a local process unconfined is refused (nothing runs unsandboxed
    by accident); a remote one (a gateway's) runs the kernel elsewhere, as that place confines it.

    :raises RuntimeError: the kernelspec's provisioner would run the kernel here, unconfined.
    """
    made = km.provisioner
    if isinstance(made, sandbox.BubblewrapProvisioner):
        made.confinement = confinement
    elif isinstance(made, LocalProvisioner):
        raise RuntimeError(f"its kernelspec names the kernel provisioner {type(made).__name__}, which runs "
                           f"kernels unconfined, and the kernel sandbox is on (NOTEBOOK_KERNEL_SANDBOX)")
    else:
        log.warning("kernel %s: its provisioner %s runs it on another host, outside this server's kernel sandbox "
                    "(NOTEBOOK_KERNEL_SANDBOX), as that host confines it", km.kernel_id, type(made).__name__)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class _Leftover(LookupError):
    """A previous server's kernel that is stopped because persistence is off (``adopt``)."""


def _discard(km: KernelManager) -> None:
    """Release what a kernel manager holds after a failure: process, connection file, sockets."""
    LIFECYCLE.run(_release, km)


def _release(km: KernelManager) -> None:
    try:
        process = getattr(km.provisioner, "process", None)
        if process is not None and process.poll() is None:
            process.kill()
        km.cleanup_resources()
    except Exception:
        log.debug("cleanup after a failed kernel", exc_info=True)
    try:
        km.cleanup_connection_file()
    except Exception:
        pass
