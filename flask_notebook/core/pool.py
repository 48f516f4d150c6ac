"""A pool of warm kernels: started in the background, seeded, and handed out at once.

A pooled kernel is started in the root, answers ``kernel_info``, runs the seed code, and
waits. It is not in the registry (not listed, never culled), but it counts toward the kernel
limit. ``KernelRegistry.start`` takes one when the kernelspec matches and the client did not
choose the kernel id; the pool then starts a replacement.

The working directory: a kernel is expected to run in its notebook's folder (relative
``open()``, imports of modules beside the notebook), and a pool that served only notebooks
in the root would rarely help. So a Python kernel is handed out for any folder: just before
hand-out it runs ``os.chdir(folder)`` and sets the session's environment (``JPY_SESSION_NAME``
and ``__session__``, as a kernel started for the session gets), silently, so it is not in the
history and does not count as an execution. IPython keeps ``''`` (the current directory) on
``sys.path``, so imports follow the new folder. Kernels of other languages are handed out only
for the root and without extra environment, since we cannot move them; otherwise a kernel is
started cold, as without a pool.

A pooled kernel has no autorestart: if it dies while waiting, it is discarded and replaced.
Autorestart is turned on when it is handed out.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import gevent

from . import errors
from .execute import Execution, Executor, Options
from .kernels import LIFECYCLE, Kernel, KernelRegistry, exit_cause, wait_for_exit

log = logging.getLogger(__name__)

#: Seconds to wait before starting again after a pooled kernel failed to start or seed.
_BACKOFF_MAX = 60.0
#: Seconds the hand-out code (chdir) may take.
_HANDOUT_TIMEOUT = 10.0
#: Seconds between a hand-out and starting its replacement. Starting a kernel holds the hub
#: for tens of ms and the new process then takes a core for about a second: the kernel just
#: handed out answers its first requests (WebSocket, kernel_info, first cell) before that.
REFILL_DELAY = 1.0


def handout_code(cwd: str, env: dict[str, str]) -> str:
    """Python that moves a pooled kernel to `cwd` and gives it `env`, as if started there."""
    lines = ["import os as _nb_os, importlib as _nb_importlib", f"_nb_os.chdir({cwd!r})"]
    if env:
        lines.append(f"_nb_os.environ.update({env!r})")
    if "JPY_SESSION_NAME" in env:
        lines.append(f"__session__ = {env['JPY_SESSION_NAME']!r}")
    lines += ["_nb_importlib.invalidate_caches()", "del _nb_os, _nb_importlib"]
    return "\n".join(lines)


class KernelPool:
    """Warm kernels by kernelspec name.

    :param sizes: how many to keep per kernelspec name, e.g. ``{"python3": 2}``.
    :param cwd: where pooled kernels start (the root).
    :param seed: code run in each kernel before it joins the pool ("" for none).
    """

    def __init__(self, registry: KernelRegistry, sizes: dict[str, int], *, cwd: str, seed: str = "",
                 ready_timeout: float = 60, queue_limit: int = 32 * 1024 * 1024) -> None:
        self.registry = registry
        self.sizes = {name.lower(): int(size) for name, size in sizes.items() if int(size) > 0}
        self.cwd = cwd
        self.seed = seed
        self.ready_timeout = ready_timeout
        self.queue_limit = queue_limit
        self.idle: dict[str, deque[Kernel]] = {name: deque() for name in self.sizes}
        self.warming: dict[str, int] = dict.fromkeys(self.sizes, 0)
        self.closed = False
        self._fillers: dict[str, Any] = {}
        self._watchers: dict[str, Any] = {}
        self._failures: dict[str, int] = dict.fromkeys(self.sizes, 0)
        self._warming_kernels: set[Kernel] = set()
        registry.pool = self

    @property
    def count(self) -> int:
        """Kernels the pool holds or is starting: they count toward the kernel limit."""
        return sum(len(q) for q in self.idle.values()) + sum(self.warming.values())

    def status(self) -> dict[str, dict[str, int]]:
        return {name: {"size": size, "ready": len(self.idle[name]), "starting": self.warming[name]}
                for name, size in self.sizes.items()}

    def start(self) -> None:
        """Fill the pool in the background."""
        for name in self.sizes:
            self._refill(name)

    # -- hand-out ---------------------------------------------------------------------------------

    def take(self, name: str, *, cwd: str, env: dict[str, str] | None = None) -> Kernel | None:
        """A warm kernel of kernelspec `name`, moved to `cwd`, or None (start one cold)."""
        queue = self.idle.get(name)
        if queue is None or self.closed:
            return None
        env = env or {}
        movable = self._is_python(name)
        if not movable and (cwd != self.cwd or env):
            return None
        kernel = None
        while queue and kernel is None:
            candidate = queue.popleft()
            self._unwatch(candidate)
            if self._alive(candidate) and candidate.channels is not None and candidate.channels.ready.is_set():
                kernel = candidate
            else:
                self._drop(candidate, "it died while waiting in the pool")
        self._refill(name, REFILL_DELAY)
        if kernel is None:
            return None
        if cwd != self.cwd or env:
            # Sent before the kernel is handed out, not waited for: every later request,
            # whoever sends it, reaches the kernel after it (one shell socket per kernel).
            self._handout(kernel, handout_code(cwd, env))
        kernel.cwd = cwd
        kernel.km.autorestart = True
        LIFECYCLE.run(kernel.km.start_restarter)
        log.info("kernel %s (%s) taken from the pool, in %s", kernel.id, name, cwd)
        return kernel

    def evict(self, name: str) -> bool:
        """Make room under the kernel limit for a kernel the pool cannot give: shut down a
        waiting kernel of another kernelspec. True when one was."""
        for other, queue in self.idle.items():
            if other != name and queue:
                kernel = queue.pop()
                self._unwatch(kernel)
                gevent.spawn(self.registry.discard, kernel, reason="evicted from the pool")
                log.info("pooled kernel %s (%s) shut down to make room for a %s kernel", kernel.id, other, name)
                return True
        return False

    def close(self) -> list[Kernel]:
        """Stop filling; the kernels held, for the registry to shut down with the rest."""
        self.closed = True
        for filler in list(self._fillers.values()):
            filler.kill(block=False)
        for watcher in list(self._watchers.values()):
            watcher.kill(block=False)
        self._watchers.clear()
        kernels = [k for q in self.idle.values() for k in q] + list(self._warming_kernels)
        for queue in self.idle.values():
            queue.clear()
        self._warming_kernels.clear()
        return kernels

    # -- filling ----------------------------------------------------------------------------------

    def _refill(self, name: str, delay: float = 0) -> None:
        if not self.closed and name in self.sizes and name not in self._fillers:
            self._fillers[name] = gevent.spawn(self._fill, name, delay)

    def _fill(self, name: str, delay: float = 0) -> None:
        try:
            if delay:
                gevent.sleep(delay)
            while not self.closed and len(self.idle[name]) + self.warming[name] < self.sizes[name]:
                if not self.registry.has_room():
                    return  # refilled when a kernel is taken or shut down and there is room
                self.warming[name] += 1
                try:
                    kernel = self._warm(name)
                finally:
                    self.warming[name] -= 1
                if kernel is None:
                    self._failures[name] += 1
                    gevent.sleep(min(_BACKOFF_MAX, 0.5 * 2 ** self._failures[name]))
                    continue
                self._failures[name] = 0
                if self.closed:
                    gevent.spawn(self.registry.discard, kernel)
                    return
                self.idle[name].append(kernel)
                self._watchers[kernel.id] = gevent.spawn(self._watch, name, kernel)
        finally:
            if self._fillers.get(name) is gevent.getcurrent():
                del self._fillers[name]

    def _warm(self, name: str) -> Kernel | None:
        """A started, answering, seeded kernel, or None (logged)."""
        try:
            kernel = self.registry.launch(name, cwd=self.cwd, autorestart=False)
        except errors.NotebookError as exc:
            log.error("a pooled %s kernel could not be started: %s", name, exc.message)
            return None
        self._warming_kernels.add(kernel)
        try:
            assert kernel.channels is not None
            if not kernel.channels.ready.wait(self.ready_timeout) or not self._alive(kernel):
                log.error("a pooled %s kernel (%s) did not answer within %s s", name, kernel.id, self.ready_timeout)
            elif self.seed and not self._run(kernel, self.seed, self.ready_timeout, what="seed code"):
                pass
            else:
                log.info("kernel %s (%s) is warm in the pool", kernel.id, name)
                return kernel
        finally:
            self._warming_kernels.discard(kernel)
        gevent.spawn(self.registry.discard, kernel, grace=0, reason="it failed in the pool")
        return None

    def _executor(self, kernel: Kernel) -> Executor:
        def interrupt() -> None:
            LIFECYCLE.run(kernel.km.interrupt_kernel)

        return Executor(kernel, interrupt=interrupt, ready_timeout=self.ready_timeout, queue_limit=self.queue_limit)

    def _handout(self, kernel: Kernel, code: str) -> None:
        execution = Execution(kernel.id, Options(code=code, silent=True, store_history=False, allow_stdin=False,
                                                 timeout=_HANDOUT_TIMEOUT))
        self._executor(kernel).submit_now(execution)
        gevent.spawn(self._check, kernel, execution, _HANDOUT_TIMEOUT, "hand-out code (chdir)")

    def _check(self, kernel: Kernel, execution: Execution, timeout: float, what: str) -> bool:
        execution.wait_until(lambda: execution.done, timeout=timeout + 10)
        if execution.status == "ok":
            return True
        why = execution.error["ename"] if execution.error else execution.status
        # The code is the operator's, but it is still not logged: only what went wrong.
        log.error("the %s failed in pooled kernel %s (%s): %s", what, kernel.id, kernel.name, why)
        return False

    def _run(self, kernel: Kernel, code: str, timeout: float, what: str) -> bool:
        """Run `code` silently on `kernel`: True when it ran without error in time."""
        executor = self._executor(kernel)
        execution = Execution(kernel.id, Options(code=code, silent=True, store_history=False, allow_stdin=False,
                                                 timeout=timeout))
        executor.submit(execution)
        if self._check(kernel, execution, timeout, what):
            return True
        if not execution.done:
            executor.close("abandoned")
        return False

    # -- deaths -----------------------------------------------------------------------------------

    def _watch(self, name: str, kernel: Kernel) -> None:
        process = getattr(kernel.km.provisioner, "process", None)
        while process is not None and process.poll() is None:
            wait_for_exit(process, 3600)
        if kernel.id in self._watchers and self._watchers[kernel.id] is gevent.getcurrent():
            del self._watchers[kernel.id]
            try:
                self.idle[name].remove(kernel)
            except ValueError:
                return
            self._drop(kernel, f"it {exit_cause(getattr(process, 'returncode', None))}")
            self._refill(name)

    def _unwatch(self, kernel: Kernel) -> None:
        watcher = self._watchers.pop(kernel.id, None)
        if watcher is not None:
            watcher.kill(block=False)

    def _drop(self, kernel: Kernel, why: str) -> None:
        log.warning("pooled kernel %s (%s) discarded: %s", kernel.id, kernel.name, why)
        gevent.spawn(self.registry.discard, kernel, grace=0, reason=f"The pooled kernel {why}")

    @staticmethod
    def _alive(kernel: Kernel) -> bool:
        process = getattr(kernel.km.provisioner, "process", None)
        return process is not None and process.poll() is None

    def _is_python(self, name: str) -> bool:
        try:
            spec = self.registry.kernelspecs.get_spec(name)["spec"]
        except errors.NotFound:
            return False
        return str(spec.get("language", "")).lower() == "python"


def parse_sizes(value: Any) -> dict[str, int]:
    """``{"python3": 2}`` from config: a dict, or "name=n,name=n" (the command line's form).

    :raises ValueError: anything else.
    """
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, str):
        items = []
        for part in filter(None, (p.strip() for p in value.split(","))):
            name, sep, size = part.partition("=")
            if not sep:
                raise ValueError(f"kernel pool entry {part!r} is not NAME=SIZE")
            items.append((name.strip(), size.strip()))
    else:
        raise ValueError(f"NOTEBOOK_KERNEL_POOL must be a mapping like {{'python3': 2}}, not {value!r}")
    sizes = {}
    for name, size in items:
        try:
            number = int(size)
        except (TypeError, ValueError):
            raise ValueError(f"kernel pool size for {name!r} must be a whole number, not {size!r}") from None
        if number < 0 or not name:
            raise ValueError(f"kernel pool entry {name!r}={size!r} is not a name and a size ≥ 0")
        sizes[str(name).lower()] = number
    return sizes

