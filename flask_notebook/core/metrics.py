"""Prometheus metrics of one app: a ``CollectorRegistry`` of its own (never the process-wide
default one: a process may hold many apps, and tests make hundreds), served by
``blueprints/metrics.py`` at ``/metrics``.

Three kinds of numbers:

- states (kernels by execution state, open WebSockets, bytes queued for them, replay buffers,
  the warm pool) are read from the kernel registry at scrape time by `_StateCollector`:
  no bookkeeping that could drift from the truth;
- events off the hot path (kernel starts, deaths, stops, REST executions, runs, HTTP
  requests, contents operations, database calls) are prometheus_client counters and
  histograms, their labelled children resolved once where the label values are few;
- events on the relay's hot path (each message relayed, each output message shed) are
  plain integers in `RelayStats`, bumped by ``core/channels.py`` without a lock, a label
  tuple or an allocation (greenlets do not preempt one another inside ``+=``), and reported
  as counters at scrape time.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, Info, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .execute import Execution
    from .kernels import Kernel, KernelRegistry
    from .pool import KernelPool
    from .runrecord import Run

PREFIX = "flask_notebook"
#: Execution states a kernel reports (``Kernel.execution_state``), each always exposed.
KERNEL_STATES = ("starting", "idle", "busy", "restarting", "dead")
#: The kernel's ZMQ channels, as the relay names them (``Msg.channel``).
CHANNELS = ("shell", "control", "stdin", "iopub")
#: Why a kernel stopped: `KernelMetrics.stopping` is told before the stop, else by the
#: registry's state when it happens.
STOP_CAUSES = ("shutdown", "culled", "dead", "discarded", "server_shutdown")
#: A REST execution's and a run's final statuses (``execute.FINAL``, ``runrecord.FINAL``: not
#: imported, as they import the kernel registry, which imports this), exposed from the start.
EXECUTION_OUTCOMES = ("ok", "error", "aborted", "timeout")
RUN_OUTCOMES = ("completed", "failed", "cancelled")
#: Kernel start latency, seconds: a warm pooled kernel takes milliseconds, a cold ipykernel
#: about one second, a kernel on a remote host or a gateway many.
START_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120)
#: Code run through REST, and whole runs: from milliseconds to hours.
RUN_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600)
#: HTTP answers and database calls.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class ShedCount:
    """Output messages (and their bytes) a queue shed past its bound (``channels.Outbox``)."""

    __slots__ = ("messages", "bytes")

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0


class RelayStats:
    """The relay's counts for every kernel of one app, as plain integers (see the module's doc).

    ``received`` and ``sent`` are by channel: messages from kernels, and from clients to kernels.
    """

    def __init__(self) -> None:
        self.received: dict[str, int] = dict.fromkeys(CHANNELS, 0)
        self.sent: dict[str, int] = dict.fromkeys(CHANNELS, 0)
        #: Shed by a connection's outbound queue (NOTEBOOK_WS_QUEUE_LIMIT) ...
        self.connection_shed = ShedCount()
        #: ... and by a disconnected client's replay buffer (NOTEBOOK_WS_REPLAY_LIMIT).
        self.replay_shed = ShedCount()
        #: Whole replay buffers forgotten: more disconnected sessions than a kernel keeps.
        self.replay_dropped = 0


def death_cause(returncode: int | None, by_limits: str | None = None) -> str:
    """A bounded label for a kernel process's unexpected end: ``memory_limit``, a signal's
    name (``SIGKILL``), ``exit_<code>`` or ``unknown``. (``kernels.exit_cause`` says the same
    in words, for people.)"""
    if by_limits is not None and "memory limit" in by_limits:
        return "memory_limit"
    if returncode is None:
        return "unknown"
    if returncode >= 0:
        return f"exit_{returncode & 0xFF}"
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal_{-returncode}"


class KernelMetrics:
    """What ``core/kernels.py`` reports to (``KernelRegistry.metrics``): starts, restarts,
    deaths and stops, and the relay's counts (`relay`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.relay = RelayStats()
        self.starts = Counter(f"{PREFIX}_kernel_starts", "Kernels started (cold or taken from the warm pool).",
                              ["kernelspec"], registry=registry)
        self.start_failures = Counter(f"{PREFIX}_kernel_start_failures", "Kernel starts that failed.",
                                      ["kernelspec"], registry=registry)
        self.start_seconds = Histogram(
            f"{PREFIX}_kernel_start_seconds",
            "From a kernel start request until the kernel answered kernel_info (its relay is ready).",
            ["kernelspec"], buckets=START_BUCKETS, registry=registry)
        self.restarts = Counter(f"{PREFIX}_kernel_restarts",
                                'Kernel restarts: "requested" by a client, or "died" (autorestart).',
                                ["kernelspec", "cause"], registry=registry)
        self.deaths = Counter(f"{PREFIX}_kernel_deaths",
                              "Kernel processes that ended without being asked to, by cause (a signal's name, "
                              "exit_<code>, memory_limit).", ["kernelspec", "cause"], registry=registry)
        self.stops = Counter(f"{PREFIX}_kernel_stops",
                             "Kernels that ended for good, by cause: " + ", ".join(STOP_CAUSES) + ".",
                             ["kernelspec", "cause"], registry=registry)
        self.interrupts = Counter(f"{PREFIX}_kernel_interrupts", "Kernel interrupts.", ["kernelspec"],
                                  registry=registry)
        self._stop_causes: dict[str, str] = {}
        self.kernels: KernelRegistry | None = None

    def started(self, kernel: Kernel, since: float) -> None:
        """`kernel` was started (or handed out by the pool) by a request made at `since`
        (``time.monotonic()``); its latency is observed once its relay is ready."""
        self.starts.labels(kernel.name).inc()
        channels = kernel.channels
        if channels is None:
            return
        observe = self.start_seconds.labels(kernel.name).observe

        def ready(event: Any) -> None:
            event.unlink(ready)  # once: the relay is made ready again by each restart
            observe(time.monotonic() - since)

        channels.ready.rawlink(ready)

    def start_failed(self, kernelspec: str) -> None:
        self.start_failures.labels(kernelspec).inc()

    def action(self, action: str, kernel: Kernel) -> None:
        """A client's operation on `kernel` succeeded (``kernels._emits``)."""
        if action == "restart":
            self.restarts.labels(kernel.name, "requested").inc()
        elif action == "interrupt":
            self.interrupts.labels(kernel.name).inc()

    def died(self, kernel: Kernel, returncode: int | None, by_limits: str | None) -> None:
        """The kernel's process ended unexpectedly; autorestart starts it again."""
        self.deaths.labels(kernel.name, death_cause(returncode, by_limits)).inc()
        self.restarts.labels(kernel.name, "died").inc()

    def stopping(self, kernel: Kernel, cause: str) -> None:
        """`kernel` is about to be stopped for `cause` (one of `STOP_CAUSES`)."""
        self._stop_causes[kernel.id] = cause

    def stopped(self, kernel: Kernel, reason: str) -> None:
        """An ``on_stop`` listener: `kernel` is gone (`reason` is for people; the cause is
        what `stopping` was told, else the registry's state)."""
        cause = self._stop_causes.pop(kernel.id, None)
        if cause is None:
            cause = "server_shutdown" if self.kernels is not None and self.kernels.closed else "shutdown"
        self.stops.labels(kernel.name, cause).inc()


class Metrics:
    """Every metric of one app, in `registry`.

    :param per_user: label kernels by their owner (``user``): the server has several users.
    """

    def __init__(self, *, version: str, per_user: bool = False, process: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        if process:
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
        Info(PREFIX, "The flask-notebook server.", registry=registry).info({"version": version})
        self.kernels = KernelMetrics(registry)
        self.per_user = per_user
        self.executions = Counter(f"{PREFIX}_executions", "Code run through the REST API, by outcome.",
                                  ["outcome"], registry=registry)
        self.execution_seconds = Histogram(
            f"{PREFIX}_execution_seconds", "From a REST execution's acceptance until its outcome.", ["outcome"],
            buckets=RUN_BUCKETS, registry=registry)
        self.runs = Counter(f"{PREFIX}_runs", "Notebook runs (/api/runs) that ended, by outcome.", ["outcome"],
                            registry=registry)
        self.run_seconds = Histogram(f"{PREFIX}_run_seconds", "From a run's creation until it ended.",
                                     ["outcome"], buckets=RUN_BUCKETS, registry=registry)
        self.http_requests = Counter(
            f"{PREFIX}_http_requests", "HTTP requests by route (the Flask endpoint), method and status; "
            "a WebSocket once, with status 101 when it was accepted.", ["endpoint", "method", "status"],
            registry=registry)
        self.http_seconds = Histogram(
            f"{PREFIX}_http_request_seconds", "Time to answer an HTTP request (WebSockets not included).",
            ["endpoint", "method"], buckets=LATENCY_BUCKETS, registry=registry)
        self.contents = Counter(f"{PREFIX}_contents_operations", "Contents operations (/api/contents) by kind "
                                "(get, save, upload, create, mkdir, copy, rename, delete, ...) and outcome (ok, error).",
                                ["operation", "outcome"], registry=registry)
        self.database_seconds = Histogram(f"{PREFIX}_database_seconds", "Database calls, by operation.",
                                          ["operation"], buckets=LATENCY_BUCKETS, registry=registry)
        self._collector: _StateCollector | None = None
        # Series that exist from the start, at 0, so that a rate() sees the first event.
        for outcome in EXECUTION_OUTCOMES:
            self.executions.labels(outcome)
        for outcome in RUN_OUTCOMES:
            self.runs.labels(outcome)

    def watch(self, kernels: KernelRegistry, pool: KernelPool | None = None) -> None:
        """Report `kernels`' states at scrape time and count what happens to them."""
        kernels.metrics = self.kernels
        self.kernels.kernels = kernels
        kernels.on_stop.append(self.kernels.stopped)
        self._collector = _StateCollector(kernels, pool, self.kernels.relay, per_user=self.per_user)
        default = kernels.kernelspecs.default_name
        self.kernels.starts.labels(default)
        self.kernels.start_failures.labels(default)
        if not self.per_user:
            self._collector.seen.add(("idle", default))
        self.registry.register(self._collector)

    def execution(self, execution: Execution) -> None:
        """Count a REST execution, and its time from now, once it ends."""
        since = time.monotonic()

        def done(ended: Execution) -> None:
            self.executions.labels(ended.status).inc()
            self.execution_seconds.labels(ended.status).observe(time.monotonic() - since)

        execution.add_done_callback(done)

    def run_ended(self, run: Run) -> None:
        self.runs.labels(run.status).inc()
        self.run_seconds.labels(run.status).observe(max(0.0, (run.finished or time.time()) - run.created))

    def http_request(self, endpoint: str, method: str, status: int, seconds: float | None) -> None:
        """One HTTP request; `seconds` None for a WebSocket (its lifetime is no latency)."""
        self.http_requests.labels(endpoint, method, str(status)).inc()
        if seconds is not None:
            self.http_seconds.labels(endpoint, method).observe(seconds)

    def database(self, operation: str, seconds: float) -> None:
        """One database call (``store.Store.timing``): `operation` a short fixed name."""
        self.database_seconds.labels(operation).observe(seconds)

    def contents_operation(self, operation: str, ok: bool) -> None:
        self.contents.labels(operation, "ok" if ok else "error").inc()


def observe_database(metrics: Metrics | None, operation: str, seconds: float) -> None:
    """One database call of `operation` (a short fixed name, e.g. ``"session_create"``: never
    an id or SQL text) that took `seconds`. For the store (``core/store.py``); `metrics` None
    (metrics off) does nothing."""
    if metrics is not None:
        metrics.database(operation, seconds)


def timed_database(metrics: Metrics | None, operation: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`observe_database` as a decorator of a store method: each call's time, failures included."""

    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            begun = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                observe_database(metrics, operation, time.perf_counter() - begun)

        return timed

    return decorate


class _StateCollector(Collector):
    """States read at scrape time, and the relay's plain counts."""

    def __init__(self, kernels: KernelRegistry, pool: KernelPool | None, relay: RelayStats, *,
                 per_user: bool) -> None:
        self.registry = kernels
        self.pool = pool
        self.relay = relay
        self.per_user = per_user
        #: Every kernels label set seen: still exposed (as 0) once no kernel has it, so a
        #: graph falls to zero rather than ending.
        self.seen: set[tuple[str, ...]] = set()

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        return list(self._families(fill=True))

    def _families(self, fill: bool = False) -> Iterator[Metric]:
        labels = ["state", "kernelspec", *(["user"] if self.per_user else [])]
        by_state = GaugeMetricFamily(f"{PREFIX}_kernels", "Kernels by execution state and kernelspec"
                                     + (" and user." if self.per_user else "."), labels=labels)
        websockets = GaugeMetricFamily(f"{PREFIX}_websockets", "Open kernel WebSockets (and the server's own "
                                       "clients of kernels: REST executions, runs).")
        queued = GaugeMetricFamily(f"{PREFIX}_websocket_queued_bytes",
                                   "Bytes waiting in kernel WebSockets' outbound queues.")
        replay = GaugeMetricFamily(f"{PREFIX}_replay_buffered_bytes",
                                   "Bytes kept for disconnected clients to replay when they reconnect.")
        counts: dict[tuple[str, ...], int] = {}
        open_sockets = queued_bytes = replay_bytes = 0
        if fill:
            for kernel in list(self.registry.kernels.values()):
                key = (kernel.execution_state, kernel.name, *([kernel.owner or ""] if self.per_user else []))
                counts[key] = counts.get(key, 0) + 1
                channels = kernel.channels
                if channels is not None:
                    for conn in list(channels.connections.values()):
                        open_sockets += 1
                        queued_bytes += conn.outbox.size
                    replay_bytes += sum(outbox.size for outbox in list(channels.offline.values()))
            for key in counts:
                self.seen.add(key)
            for key in self.seen:
                for state in KERNEL_STATES:
                    full = (state, *key[1:])
                    counts.setdefault(full, 0)
        for key, value in sorted(counts.items()):
            by_state.add_metric(list(key), value)
        yield by_state
        websockets.add_metric([], open_sockets)
        yield websockets
        queued.add_metric([], queued_bytes)
        yield queued
        replay.add_metric([], replay_bytes)
        yield replay
        relay = self.relay
        messages = CounterMetricFamily(f"{PREFIX}_messages", "Kernel messages relayed, by direction "
                                       "(from_kernel, to_kernel) and channel.", labels=["direction", "channel"])
        for channel in CHANNELS:
            messages.add_metric(["from_kernel", channel], relay.received.get(channel, 0))
            if channel != "iopub":
                messages.add_metric(["to_kernel", channel], relay.sent.get(channel, 0))
        yield messages
        shed = CounterMetricFamily(f"{PREFIX}_shed_messages", "Output messages (stream, display) dropped "
                                   "past a queue's bound, by queue: a slow WebSocket's (connection) or a "
                                   "disconnected client's replay buffer (replay).", labels=["queue"])
        shed_bytes = CounterMetricFamily(f"{PREFIX}_shed_bytes", "Bytes of the shed output messages.",
                                         labels=["queue"])
        for queue, count in (("connection", relay.connection_shed), ("replay", relay.replay_shed)):
            shed.add_metric([queue], count.messages)
            shed_bytes.add_metric([queue], count.bytes)
        yield shed
        yield shed_bytes
        dropped = CounterMetricFamily(f"{PREFIX}_replay_buffers_dropped", "Replay buffers forgotten: more "
                                      "disconnected sessions than a kernel keeps one for.")
        dropped.add_metric([], relay.replay_dropped)
        yield dropped
        pool = GaugeMetricFamily(f"{PREFIX}_pool_kernels", "Warm pool kernels by kernelspec and state "
                                 "(ready, starting).", labels=["kernelspec", "state"])
        if fill and self.pool is not None:
            for name, status in sorted(self.pool.status().items()):
                for state in ("ready", "starting"):
                    pool.add_metric([name, state], status.get(state, 0))
        yield pool
