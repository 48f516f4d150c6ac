"""Processes started by ``os.posix_spawn`` under gevent: kernels (`provisioner`), terminals' shells.

Under monkey-patching, ``subprocess.Popen`` is gevent's, which forks and runs Python in the
child until ``exec``. The fork copies the server's page tables while the event loop waits, so
the stall grows with the server's memory. Measured (2026-12, the parent's CPU time per start,
median of 22, ``python -c pass`` started from a gevent-patched process holding a Notebook app):

=================  ============  ============  ============
server RSS          62 MB         562 MB        1562 MB
=================  ============  ============  ============
gevent's Popen      6.3-8.3 ms    21.6-26.9 ms  48.6 ms
os.posix_spawn      0.12-0.15 ms  0.14-0.15 ms  0.12 ms
KernelProcess       0.39 ms       0.30 ms
=================  ============  ============  ============

(`KernelProcess` adds its checks of the program and directory; the C ``fork_exec`` this
module used before, through CPython's private ``Popen._execute_child``, took 0.5 ms.) A
kernel boots in hundreds of ms, but in its own process; these milliseconds are the server's,
during which no other client is served, at every kernel start, pool refills included. A
server holding replay buffers and thousands of sockets runs to hundreds of MB. So kernels and shells start here, with public calls only:
gevent's patched ``os.posix_spawn`` (the C library's vfork-like spawn, plus a child watcher)
and gevent's cooperative ``os.waitpid``.

What ``posix_spawn`` lacks in Python 3.11, and what it costs:

- no working directory: when one is given, the child is ``/bin/sh -c 'cd -- "$0" && exec "$@"'``,
  which changes directory and replaces itself by the program (same pid): one more ``exec``
  of a small shell in the child, ~1.7 ms of its time, none of the server's. Changing the
  server's own directory around the spawn would be cheaper, and wrong for every other thread.
  A directory or program that is missing is found by a check before the spawn, so the caller
  gets ``FileNotFoundError`` as from ``Popen``; one removed in the instant between ends the
  child (exit 2 or 127) instead.
- no ``close_fds``: the child inherits every descriptor not marked close-on-exec. Python
  marks all of its own so (PEP 446), as do libzmq and libev; what can be inheritable is what
  this process itself inherited (a job server's pipes, a socket passed by systemd). Those,
  listed once at the first spawn, are closed in the child. Listing every descriptor at each
  spawn would cost more than the fork it replaces (55 ms with 10,000 sockets open).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from typing import IO, Any

import gevent
from gevent.event import AsyncResult
from gevent.fileobject import FileObjectPosix

SHELL = "/bin/sh"
#: Changes to the directory in $0, then becomes the program and its arguments ($@).
_CHDIR = 'cd -- "$0" && exec "$@"'
#: Signals Python ignores that a child must not inherit ignored (``Popen``'s ``restore_signals``).
_RESTORED = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name))

_inherited: list[int] | None = None


def _inherited_descriptors() -> list[int]:
    """Descriptors above 2 that this process had inheritable at its first spawn (see the
    module docstring)."""
    global _inherited
    if _inherited is None:
        found = []
        for name in os.listdir("/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"):
            fd = int(name)
            try:
                if fd > 2 and os.get_inheritable(fd):
                    found.append(fd)
            except OSError:  # the listing's own descriptor, closed by now
                pass
        _inherited = found
    return _inherited


def program_path(argv0: str, env: dict[str, str] | None) -> str:
    """The program's path, looked up on the child's PATH as ``Popen`` does.

    :raises FileNotFoundError: there is no such program.
    """
    path = (env if env is not None else os.environ).get("PATH", os.defpath)
    found = shutil.which(argv0, path=path) if os.sep not in argv0 else argv0 if os.access(argv0, os.X_OK) else None
    if found is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv0)
    return found


class _Process:
    """The part of ``subprocess.Popen``'s interface that jupyter_client's provisioner and the
    terminals use, over ``result`` (an ``AsyncResult`` set to the exit status when the process
    ends) and the subclass's ``send_signal``."""

    args: list[str]
    returncode: int | None
    result: AsyncResult

    def send_signal(self, signum: int) -> None:
        raise NotImplementedError

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """:raises subprocess.TimeoutExpired: still running after `timeout` seconds."""
        self.result.wait(timeout=timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class KernelProcess(_Process):
    """A child started by ``os.posix_spawn``, with the part of ``subprocess.Popen``'s interface
    that jupyter_client's provisioner and the terminals use. Needs gevent's patched ``os``.

    `stdin`, `stdout` and `stderr` are None (inherited), ``subprocess.DEVNULL``, a descriptor,
    or (`stdout` only) ``subprocess.PIPE``. ``result`` is set to the exit status the moment the
    process ends (gevent's ``Popen`` has the same attribute); ``poll``, ``wait`` and
    ``returncode`` agree with it.

    :raises FileNotFoundError: the program or the working directory does not exist.
    """

    stdin: IO[bytes] | None = None
    stderr: IO[bytes] | None = None

    def __init__(self, args: Sequence[str], *, cwd: str | None = None, env: dict[str, str] | None = None,
                 stdin: int | None = None, stdout: int | None = None, stderr: int | None = None,
                 start_new_session: bool = False) -> None:
        self.args = list(args)
        self.returncode: int | None = None
        self.stdout: IO[bytes] | None = None
        argv = [program_path(self.args[0], env), *self.args[1:]]
        if cwd is not None:
            if not os.path.isdir(cwd):
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), cwd)
            argv = [SHELL, "-c", _CHDIR, os.fspath(cwd), *argv]
        actions: list[tuple[Any, ...]] = [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited_descriptors()
                                          if _is_inheritable(fd)]
        read_end = None
        for target, source in ((0, stdin), (1, stdout), (2, stderr)):
            if source == subprocess.DEVNULL:
                actions.append((os.POSIX_SPAWN_OPEN, target, os.devnull, os.O_RDWR, 0))
            elif source == subprocess.PIPE and target == 1:
                read_end, write_end = os.pipe()
                actions.append((os.POSIX_SPAWN_DUP2, write_end, target))
            elif source is not None and source >= 0:
                actions.append((os.POSIX_SPAWN_DUP2, source, target))
            elif source is not None:
                raise ValueError(f"unsupported stream for descriptor {target}: {source}")
        try:
            # gevent's posix_spawn also starts a child watcher, before the loop runs again.
            self.pid = os.posix_spawn(argv[0], argv, env if env is not None else os.environ,
                                      file_actions=actions, setsid=start_new_session, setsigdef=_RESTORED)
        except BaseException:
            if read_end is not None:
                os.close(read_end)
                os.close(write_end)
            raise
        if read_end is not None:
            os.close(write_end)
            self.stdout = FileObjectPosix(read_end, "rb")
        self.result: AsyncResult = AsyncResult()
        gevent.spawn(self._reap)

    def _reap(self) -> None:
        _, status = os.waitpid(self.pid, 0)  # gevent's: cooperative, fed by the child watcher
        self.returncode = os.waitstatus_to_exitcode(status)
        self.result.set(self.returncode)

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)


def _is_inheritable(fd: int) -> bool:
    try:
        return os.get_inheritable(fd)
    except OSError:  # closed since
        return False


def process_start(pid: int) -> str | None:
    """What tells process `pid` from a later one given the same number: the boot's id and the
    process's start time (``/proc/PID/stat``'s 22nd field, in clock ticks since boot). None
    when there is no such process (or no ``/proc``)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == b"Z":  # exited, not yet reaped
        return None
    return f"{boot}:{int(fields[19])}"


class AdoptedProcess(_Process):
    """A kernel process this server did not start: one that outlived the server before it
    (``NOTEBOOK_PERSIST_KERNELS``), re-attached. The part of ``subprocess.Popen``'s interface
    that `KernelProcess` has, for a process that is not our child: no ``waitpid``. Its exit is
    learnt at once from a pidfd (``pidfd_open``, Linux 5.3: readable when the process exits,
    child or not), else by a check every half second; its exit status cannot be known (0).
    Signals go through the pidfd, which names this process and never a later one with its number.

    Make one with `find`.
    """

    stdin: IO[bytes] | None = None
    stdout: IO[bytes] | None = None
    stderr: IO[bytes] | None = None

    def __init__(self, pid: int, pidfd: int | None) -> None:
        self.pid = pid
        self.args: list[str] = []
        self.returncode: int | None = None
        self.result: AsyncResult = AsyncResult()
        self._pidfd = pidfd
        gevent.spawn(self._watch)

    @classmethod
    def find(cls, pid: int, started: str | None) -> AdoptedProcess | None:
        """The running process `pid`, if it is the one that started at `started` (see
        `process_start`); None if it is gone (or its number is another's now)."""
        if started is None or pid <= 0:
            return None
        pidfd = None
        if hasattr(os, "pidfd_open"):
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:
                return None
        if process_start(pid) != started:  # checked after the pidfd is held: it names this one
            if pidfd is not None:
                os.close(pidfd)
            return None
        return cls(pid, pidfd)

    def _watch(self) -> None:
        from gevent.socket import wait_read

        try:
            if self._pidfd is not None:
                wait_read(self._pidfd)
            else:
                while process_start(self.pid) is not None:
                    gevent.sleep(0.5)
        finally:
            self.returncode = 0
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
            self.result.set(self.returncode)

    def send_signal(self, signum: int) -> None:
        if self.returncode is not None:
            return
        try:
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, signum)
            else:
                os.kill(self.pid, signum)
        except ProcessLookupError:
            pass
