"""Kernel processes started by the standard library's C ``fork_exec``, watched by gevent.

Under monkey-patching, ``subprocess.Popen`` is gevent's, which forks and then runs Python in
the child until ``exec``: 8 ms in the server, measured, and more the more memory the
server holds (the fork copies its page tables, and until the ``exec`` every page either
process writes is copied). The standard library's ``Popen`` starts the
child with ``vfork`` in C, in under 1 ms, but cannot run as is once gevent has patched:

- gevent sets ``subprocess._fork_exec`` to None;
- gevent's ``os.close`` only schedules the close of a pipe on the event loop, and ``Popen``
  then reads its error pipe to end of file before it returns: it would wait forever.

So `KernelProcess` runs the standard library's own ``_execute_child`` with the functions
gevent saved before patching, and never yields to the loop meanwhile. Its exit is reported
by a libev child watcher, as gevent's ``Popen`` does: libev reaps every child of the
process once gevent watches any, so ``waitpid`` could not be trusted to see the status.
"""

from __future__ import annotations

import os
import subprocess
import types
from typing import TYPE_CHECKING, Any

import gevent
from gevent import monkey
from gevent.event import AsyncResult

if TYPE_CHECKING:
    _Popen = subprocess.Popen
else:
    _Popen = monkey.get_original("subprocess", "Popen")


def _unpatched(func: Any) -> Any:
    """`func`, a function of the ``subprocess`` module, seeing the functions gevent replaced."""
    real_os = types.ModuleType("os")
    vars(real_os).update({**vars(os), **monkey.saved.get("os", {})})
    namespace = {**vars(subprocess), **monkey.saved.get("subprocess", {}), "os": real_os}
    return types.FunctionType(func.__code__, namespace, func.__name__, func.__defaults__, func.__closure__)


_execute_child = _unpatched(_Popen._execute_child)  # type: ignore[attr-defined]  # private, POSIX


class KernelProcess(_Popen):  # type: ignore[type-arg]
    """A ``subprocess.Popen`` started without Python in the child, for the hub's thread only.

    ``result`` is set to the exit status the moment the process ends (gevent's ``Popen`` has
    the same attribute); ``poll``, ``wait`` and ``returncode`` agree with it.
    """

    result: AsyncResult
    _watcher: Any

    def _execute_child(self, *args: Any) -> None:
        loop = gevent.get_hub().loop
        loop.install_sigchld()
        _execute_child(self, *args)
        # Before the loop runs again, so the exit cannot be reaped unseen.
        self.result = AsyncResult()
        self._watcher = loop.child(self.pid, ref=True)
        self._watcher.start(self._exited)

    def _exited(self) -> None:
        self._watcher.stop()
        if self.returncode is None:
            self._handle_exitstatus(self._watcher.rstatus)  # type: ignore[attr-defined]
        self.result.set(self.returncode)

    def _internal_poll(self, *args: Any, **kwargs: Any) -> int | None:
        return self.returncode

    def _wait(self, timeout: float | None) -> int:
        self.result.wait(timeout=timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode
