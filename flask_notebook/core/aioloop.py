"""One asyncio event loop, in an OS thread of its own, for every kernel provisioner's coroutines.

jupyter_client's provisioner API is async. Its synchronous ``KernelManager`` runs each call on
an event loop of the calling thread (jupyter_core's ``run_sync``), which under gevent means
the hub's thread: a loop that runs only while a call is in flight. That is enough for a local
provisioner, whose coroutines finish at once, but not for a remote one: gateway_provisioners'
``ResponseManager`` listens for the remote launcher's call back with a tornado
``PeriodicCallback`` on the loop that was current when it was made, which must keep running
between calls, and a remote launch (seconds of SSH) would hold the registry's lock meanwhile.
And a new loop per call breaks whatever a provisioner keeps bound to the loop it first ran on
(jupyter_client #959).

So remote provisioners (`BRIDGE`) get one loop, made once and run forever in a real OS thread
(``monkey.get_original``: under gevent's patching ``threading`` would give a greenlet). A
greenlet hands it a coroutine with ``asyncio.run_coroutine_threadsafe`` and waits for the
result on a gevent ``async_`` watcher, which the loop's thread may signal: the hub goes on
serving other greenlets while the provisioner works. Blocking code that a provisioner calls
inside its coroutines (paramiko's SSH client) runs in that thread too; gevent's patched
sockets and threads there are served by that thread's own hub, never the server's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import gevent
import gevent.event
from gevent import monkey

log = logging.getLogger(__name__)

T = TypeVar("T")


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


async def _called(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    return fn(*args, **kwargs)


class LoopThread:
    """An asyncio event loop running forever in an OS thread of its own, started on first use."""

    def __init__(self, name: str = "flask-notebook-provisioners") -> None:
        self.name = name
        self._lock = monkey.get_original("threading", "Lock")()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ident: int | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop, started (once) if it is not yet."""
        with self._lock:
            if self._loop is None:
                ready = monkey.get_original("threading", "Lock")()
                ready.acquire()
                # The standard library's selector: gevent's, in a thread whose hub has nothing
                # else to watch, ends the loop with LoopExit.
                loop = asyncio.SelectorEventLoop(monkey.get_original("selectors", "DefaultSelector")())
                start = monkey.get_original("_thread", "start_new_thread")
                start(self._run, (loop, ready))
                ready.acquire()  # a real lock, held for the moment the thread takes to begin
                self._loop = loop
            return self._loop

    def _run(self, loop: asyncio.AbstractEventLoop, ready: Any) -> None:
        self._ident = threading.get_ident()
        asyncio.set_event_loop(loop)
        ready.release()
        try:
            loop.run_forever()
        except BaseException:  # pragma: no cover - a loop that stops is a bug: say so
            log.exception("the provisioners' event loop stopped")

    @property
    def in_loop(self) -> bool:
        """Whether the caller runs on the loop's own thread (where `run` would deadlock)."""
        return self._ident is not None and threading.get_ident() == self._ident

    def run(self, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        """The result of `awaitable`, run on the loop; the calling greenlet waits, the hub does not.

        :raises TimeoutError: it did not finish within `timeout` seconds (it is cancelled).
        :raises RuntimeError: called from the loop's own thread.
        """
        if self.in_loop:
            raise RuntimeError("LoopThread.run called from the loop's own thread")
        future = asyncio.run_coroutine_threadsafe(_awaited(awaitable), self.loop())
        return self._wait(future, timeout)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` called on the loop's thread, with the loop current: for what
        binds itself to the current loop when it is made (a provisioner's listener)."""
        return self.run(_called(fn, args, kwargs))

    @staticmethod
    def _wait(future: concurrent.futures.Future[T], timeout: float | None) -> T:
        done = gevent.event.Event()
        watcher = gevent.get_hub().loop.async_()
        watcher.start(done.set)
        guard = monkey.get_original("threading", "Lock")()
        open_ = [True]

        def wake(_: object) -> None:
            # In the loop's thread, or here if it is done already: ``send`` is thread-safe,
            # but not once the watcher is closed (a wait that timed out).
            with guard:
                if open_[0]:
                    watcher.send()

        future.add_done_callback(wake)
        try:
            if not done.wait(timeout):
                future.cancel()
                raise TimeoutError(f"a provisioner's call did not finish within {timeout} s")
        finally:
            with guard:
                open_[0] = False
                watcher.close()
        return future.result()


#: The one loop of every remote provisioner in the process.
BRIDGE = LoopThread()
