"""A pool of warm kernels: started in the background, seeded, and handed out at once.

A pooled kernel is started in the root, answers ``kernel_info``, runs the seed code, and
waits. The registry launched it but does not list it (never culled), and it counts toward
the kernel limit. ``KernelRegistry.start_kernel`` takes one (through ``take``, which the app
hands it) when the kernelspec matches and the client did not choose the kernel id; the pool
then starts a replacement. The pool runs code on a kernel through the `RunCode` callable it
is given (the executor's), and starts, discards and counts kernels through the registry.

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
The registry turns autorestart on when it takes the kernel.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import gevent

from . import errors
from .kernels import Kernel, KernelRegistry, exit_cause, wait_for_exit

log = logging.getLogger(__name__)

#: ``run_code(kernel, code, timeout)`` sends `code` to run silently on `kernel` before it
#: returns (so whatever is sent to the kernel later runs after it), and returns a callable
#: that waits for the outcome: None when the code ran without error in time, else why not (an
#: exception's name or a status; never the code or its output). ``execute.run_code``.
RunCode = Callable[[Kernel, str, float], Callable[[], "str | None"]]

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
    :param run_code: how the seed and the hand-out code run (`RunCode`).
    """

    def __init__(self, registry: KernelRegistry, sizes: dict[str, int], *, cwd: str, run_code: RunCode,
                 seed: str = "", ready_timeout: float = 60) -> None:
        self.registry = registry
        self.sizes = {name.lower(): int(size) for name, size in sizes.items() if int(size) > 0}
        self.cwd = cwd
        self.seed = seed
        self.ready_timeout = ready_timeout
        self.run_code = run_code
        self.idle: dict[str, deque[Kernel]] = {name: deque() for name in self.sizes}
        self.warming: dict[str, int] = dict.fromkeys(self.sizes, 0)
        self.closed = False
        self._fillers: dict[str, Any] = {}
        self._watchers: dict[str, Any] = {}
        self._failures: dict[str, int] = dict.fromkeys(self.sizes, 0)
        self._warming_kernels: set[Kernel] = set()

    def status(self) -> dict[str, dict[str, int]]:
        return {name: {"size": size, "ready": len(self.idle[name]), "starting": self.warming[name]}
                for name, size in self.sizes.items()}

    def start(self) -> None:
        """Fill the pool in the background (again: after a kernel stopped, the limit may have
        kept it from refilling)."""
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
            if candidate.alive and candidate.channels is not None and candidate.channels.ready.is_set():
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
        log.info("kernel %s (%s) taken from the pool, in %s", kernel.id, name, cwd)
        return kernel

    def evict(self, name: str) -> bool:
        """Make room under the kernel limit for a kernel the pool cannot give: shut down a
        waiting kernel of another kernelspec. True when one was."""
        for other, queue in self.idle.items():
            if other != name and queue:
                kernel = queue.pop()
                self._unwatch(kernel)
                self.registry.discard(kernel, reason="evicted from the pool")
                log.info("pooled kernel %s (%s) shut down to make room for a %s kernel", kernel.id, other, name)
                return True
        return False

    def close(self) -> None:
        """Stop filling. The kernels held are the registry's to stop (``shutdown_all``)."""
        self.closed = True
        for filler in list(self._fillers.values()):
            filler.kill(block=False)
        for watcher in list(self._watchers.values()):
            watcher.kill(block=False)
        self._watchers.clear()
        for queue in self.idle.values():
            queue.clear()
        self._warming_kernels.clear()

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
                    if self.registry.closed:
                        return
                    self._failures[name] += 1
                    gevent.sleep(min(_BACKOFF_MAX, 0.5 * 2 ** self._failures[name]))
                    continue
                self._failures[name] = 0
                if self.closed:
                    self.registry.discard(kernel)
                    return
                self.idle[name].append(kernel)
                self._watchers[kernel.id] = gevent.spawn(self._watch, name, kernel)
        finally:
            if self._fillers.get(name) is gevent.getcurrent():
                del self._fillers[name]

    def _warm(self, name: str) -> Kernel | None:
        """A started, answering, seeded kernel, or None (logged)."""
        try:
            kernel = self.registry.launch(name, cwd=self.cwd)
        except errors.Unavailable:  # the server is shutting down
            return None
        except errors.NotebookError as exc:
            log.error("a pooled %s kernel could not be started: %s", name, exc.message)
            return None
        self._warming_kernels.add(kernel)
        try:
            assert kernel.channels is not None
            if not kernel.channels.ready.wait(self.ready_timeout) or not kernel.alive:
                log.error("a pooled %s kernel (%s) did not answer within %s s", name, kernel.id, self.ready_timeout)
            elif self.seed and not self._check(kernel, self.run_code(kernel, self.seed, self.ready_timeout),
                                                "seed code"):
                pass
            else:
                log.info("kernel %s (%s) is warm in the pool", kernel.id, name)
                return kernel
        finally:
            self._warming_kernels.discard(kernel)
        self.registry.discard(kernel, grace=0, reason="it failed in the pool")
        return None

    def _handout(self, kernel: Kernel, code: str) -> None:
        gevent.spawn(self._check, kernel, self.run_code(kernel, code, _HANDOUT_TIMEOUT), "hand-out code (chdir)")

    @staticmethod
    def _check(kernel: Kernel, outcome: Callable[[], str | None], what: str) -> bool:
        """Wait for code sent by ``run_code``: True when it ran without error in time."""
        why = outcome()
        if why is None:
            return True
        # The code is the operator's, but it is still not logged: only what went wrong.
        log.error("the %s failed in pooled kernel %s (%s): %s", what, kernel.id, kernel.name, why)
        return False

    # -- deaths -----------------------------------------------------------------------------------

    def _watch(self, name: str, kernel: Kernel) -> None:
        process = kernel.process
        while process is not None and process.poll() is None:
            wait_for_exit(process, 3600)
        if self.registry.closed:  # it stopped the kernel
            return
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
        self.registry.discard(kernel, grace=0, reason=f"The pooled kernel {why}")

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

