"""Terminals: shells in pseudo-terminals, each shared by any number of WebSockets.

What jupyter_server_terminals and terminado do, under gevent:

- the shell (``$SHELL``, else ``sh``; a login shell when the server's stdout is not a
  terminal) runs in a pty of its own, as the leader of its own session with the pty as its
  controlling terminal (so job control and Ctrl-C work), in a folder inside the root;
- one greenlet per terminal reads the pty's master side through gevent's loop, never
  blocking it. Output is kept as the last `BUFFER_CHUNKS` reads (terminado's read buffer):
  a WebSocket that attaches later is sent all of it first, then what follows. Each
  WebSocket reads at its own pace (`TerminalClient.read`): a slow one falls behind, and
  past the buffer skips output, but never holds up the shell or the other sockets;
- a terminal ends when its shell exits, or on ``terminate``: SIGHUP (and SIGCONT) to the
  shell's process group, then SIGTERM, then SIGKILL, each after a short wait; closing the
  pty then hangs it up, which signals whatever else still had it open.

No web library here: the blueprint turns `TerminalClient.read` into ``["stdout", text]``
frames and client frames into `write` and `set_size`.
"""

from __future__ import annotations

import codecs
import fcntl
import logging
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import gevent
from gevent import monkey
from gevent.event import Event
from gevent.lock import Semaphore

from . import errors, sandbox
from .kernels import Confine, wait_for_exit
from .models import TerminalModel
from .paths import Root, iso_utc
from .spawn import KernelProcess
from .users import User

log = logging.getLogger(__name__)

#: Output reads kept for WebSockets that attach later (terminado's ``read_buffer``).
BUFFER_CHUNKS = 1000
#: The most one read of the pty returns (terminado's).
READ_SIZE = 65536
#: Terminal names: jupyter_server_terminals' URL pattern (``\w+``).
NAME = re.compile(r"\w+", re.ASCII)
#: A new pty's size, rows and columns (ptyprocess's default).
DEFAULT_SIZE = (24, 80)
#: The largest size a client may ask for (terminado's bound).
MAX_SIZE = 10000
#: Seconds `terminate` waits after SIGHUP, after SIGTERM and after SIGKILL.
HANGUP_WAIT, TERM_WAIT, KILL_WAIT = 0.5, 0.5, 1.0


class _Ended(Exception):
    """Thrown into a write that waits for room in the pty when the terminal ends."""


def default_shell() -> list[str]:
    """jupyter_server_terminals' shell: ``$SHELL``, else ``sh``; a login shell (``-l``) when
    the server does not run in a terminal (started by a service manager, say), so the
    user's profile is read."""
    shell = [os.environ.get("SHELL") or shutil.which("sh") or "/bin/sh"]
    if not sys.stdout.isatty():
        shell.append("-l")
    return shell


#: util-linux's setsid, which can also take the controlling terminal (``--ctty``).
_SETSID = shutil.which("setsid")


def _take_controlling_terminal() -> None:
    """In the child, after ``setsid``: make the pty on fd 0 the session's controlling
    terminal, as ``login_tty`` does. (``subprocess`` has no option for it.)"""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class TerminalClient:
    """One WebSocket's view of a terminal: how far it has read, and the size it asked for."""

    __slots__ = ("terminal", "cursor", "size")

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.cursor = 0  # the last output chunk sent: 0 means all that is kept is still to send
        self.size: tuple[int, int] | None = None

    def read(self) -> str | None:
        """The output this client has not been sent yet, joined; waits until there is some.
        ``None`` once the terminal has ended and everything was read."""
        return self.terminal.read(self)

    def write(self, text: str) -> None:
        self.terminal.write(text)

    def set_size(self, rows: int, cols: int) -> None:
        self.terminal.set_size(self, rows, cols)

    def detach(self) -> None:
        self.terminal.detach(self)


class Terminal:
    """One shell in a pty. Created by `Terminals.create_terminal`."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], master_fd: int,
                 on_activity: Callable[[float], None], on_end: Callable[[Terminal], None]) -> None:
        self.name = name
        self.process = process
        #: The user who started it (``users.User.username``); None: the server's own user.
        self.owner: str | None = None
        self.last_activity = time.time()
        self.ended = False
        self._fd = master_fd
        self._on_activity = on_activity
        self._on_end = on_end
        self._chunks: deque[tuple[int, str]] = deque(maxlen=BUFFER_CHUNKS)
        self._seq = 0
        self._more = Event()  # replaced (and set) on every new chunk, and when the terminal ends
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._clients: dict[TerminalClient, None] = {}
        self._write_lock = Semaphore()
        loop = gevent.get_hub().loop
        self._readable = loop.io(master_fd, 1)
        self._writable = loop.io(master_fd, 2)
        self._reader = gevent.spawn(self._read_loop)
        exited = getattr(process, "result", None)  # a KernelProcess tells at once
        if exited is not None:
            exited.rawlink(lambda _: gevent.spawn(self._exited))

    def model(self) -> TerminalModel:
        return {"name": self.name, "last_activity": iso_utc(self.last_activity)}

    @property
    def pid(self) -> int:
        return self.process.pid

    # -- output ----------------------------------------------------------------------------

    def _read_loop(self) -> None:
        hub = gevent.get_hub()
        while True:
            try:
                data = os.read(self._fd, READ_SIZE)
            except BlockingIOError:
                hub.wait(self._readable)
                continue
            except OSError:  # EIO: every process has closed the pty's other side
                break
            if not data:
                break
            self._output(data)
        self._end()

    def _drain(self) -> None:
        """Read what the pty still holds, without waiting."""
        while not self.ended:
            try:
                data = os.read(self._fd, READ_SIZE)
            except OSError:
                return
            if not data:
                return
            self._output(data)

    def _output(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if not text:  # the start of a character cut in two
            return
        now = time.time()
        self.last_activity = now
        if self._clients:
            self._on_activity(now)
        self._seq += 1
        self._chunks.append((self._seq, text))
        self._wake()

    def _wake(self) -> None:
        more, self._more = self._more, Event()
        more.set()

    def read(self, client: TerminalClient) -> str | None:
        """See `TerminalClient.read`."""
        while True:
            if self._seq > client.cursor:
                texts = []
                for seq, text in reversed(self._chunks):  # newest first: a client is usually near the end
                    if seq <= client.cursor:
                        break
                    texts.append(text)
                client.cursor = self._seq
                return "".join(reversed(texts))
            if self.ended:
                return None
            self._more.wait()

    # -- input -----------------------------------------------------------------------------

    def write(self, text: str) -> None:
        """Type `text` into the terminal; waits while the pty is full. Nothing happens once
        the terminal has ended."""
        self._touch()
        data = memoryview(text.encode())
        hub = gevent.get_hub()
        with self._write_lock:
            while data and not self.ended:
                try:
                    data = data[os.write(self._fd, data):]
                except BlockingIOError:
                    try:
                        hub.wait(self._writable)
                    except _Ended:  # `_end` cancels the wait
                        return
                except OSError:
                    return

    def attach(self) -> TerminalClient:
        """A new client, which is sent the kept output first."""
        client = TerminalClient(self)
        self._clients[client] = None
        self._touch()
        return client

    def detach(self, client: TerminalClient) -> None:
        if client in self._clients:
            del self._clients[client]
            self._resize()  # the smallest size may have gone with it

    def set_size(self, client: TerminalClient, rows: int, cols: int) -> None:
        """`client` shows `rows` x `cols`; the pty takes the smallest size any client shows,
        so that no client gets lines longer than it can show (terminado's rule)."""
        if not (0 < rows <= MAX_SIZE and 0 < cols <= MAX_SIZE):
            raise errors.Invalid(f"Invalid terminal size {rows}x{cols}")
        self._touch()
        client.size = (rows, cols)
        self._resize()

    def _resize(self) -> None:
        sizes = [client.size for client in self._clients if client.size is not None]
        if not sizes or self.ended:
            return
        size = (min(rows for rows, _ in sizes), min(cols for _, cols in sizes))
        try:
            _set_size(self._fd, *size)  # the kernel sends SIGWINCH to the foreground job
        except OSError:
            pass

    def _touch(self) -> None:
        self.last_activity = now = time.time()
        self._on_activity(now)

    # -- the end ---------------------------------------------------------------------------

    def _exited(self) -> None:
        """The shell has exited: its last output, then the end (even if something it left
        running still holds the pty)."""
        self._drain()
        self._end()

    def terminate(self) -> None:
        """End the shell and its process group: SIGHUP and SIGCONT, then SIGTERM, then
        SIGKILL, each after a short wait (terminado's sequence, signalled to the group as
        well), then close the pty. Returns when the shell is gone, within about 2 s."""
        for signals, wait in (((signal.SIGHUP, signal.SIGCONT), HANGUP_WAIT), ((signal.SIGTERM,), TERM_WAIT),
                              ((signal.SIGKILL,), KILL_WAIT)):
            if self.process.poll() is not None:
                break
            for signum in signals:
                try:
                    os.killpg(self.process.pid, signum)  # the shell leads its own group
                except OSError:  # the group is gone; the shell is exiting
                    break
            wait_for_exit(self.process, wait)
        if self.process.poll() is None:
            log.warning("terminal %s: shell %d did not exit after SIGKILL", self.name, self.process.pid)
        self._end()

    def _end(self) -> None:
        """Once: wake the clients, stop reading, close the pty (which hangs it up)."""
        if self.ended:
            return
        self.ended = True
        self._clients.clear()
        self._wake()
        if self._reader is not gevent.getcurrent():
            self._reader.kill(block=False)
        gevent.get_hub().cancel_waits_close_and_then(
            [self._readable, self._writable], _Ended, os.close, self._fd)
        if self.process.poll() is None and getattr(self.process, "result", None) is None:
            # Not a KernelProcess, whose exit gevent reaps: reap it, or it stays a zombie.
            gevent.spawn(wait_for_exit, self.process, 10)
        self._on_end(self)
        log.info("terminal %s ended", self.name)


class Terminals:
    """Owns every terminal this app started, by name (``"1"``, ``"2"``, ... by default)."""

    def __init__(self, root: Root, *, shell_command: list[str], env: dict[str, str] | None = None,
                 on_activity: Callable[[float], None] | None = None, confine: Confine | None = None,
                 cull_inactive_timeout: float = 0, cull_interval: float = 300) -> None:
        """:param confine: with a kernel sandbox, a shell runs in a sandbox as its owner's
            kernels do (``kernels.Confine``), with an environment from the same allow-list.
        :param cull_inactive_timeout: end a terminal with no input or output (a WebSocket
            attaching counts) for this many seconds (0: never), checked every `cull_interval`
            seconds, whether or not a WebSocket is open (jupyter_server_terminals' culling)."""
        self.root = root
        self.cull_inactive_timeout = cull_inactive_timeout
        self.cull_interval = cull_interval if cull_interval > 0 else 300
        self._culler: gevent.Greenlet[Any, Any] | None = None
        self.confine = confine
        self.shell_command = list(shell_command)
        self.env = dict(env or {})
        self.on_activity: Callable[[float], None] = on_activity or (lambda when: None)
        self.terminals: dict[str, Terminal] = {}
        self._closed = False

    def all(self, user: User | None = None) -> list[Terminal]:
        """Every terminal, or those `user` may see."""
        return [t for t in self.terminals.values() if user is None or user.may_see(t.owner)]

    def get(self, name: str, user: User | None = None) -> Terminal:
        """:raises errors.NotFound: no such terminal, or one `user` may not see
            (jupyter_server_terminals' message either way)."""
        terminal = self.terminals.get(name)
        if terminal is None or (user is not None and not user.may_see(terminal.owner)):
            raise errors.NotFound(f"Terminal not found: {name}")
        return terminal

    def cwd(self, cwd: str | None, root: Root | None = None) -> str:
        """The folder a terminal starts in: `cwd`, an API path (an absolute path inside the
        root is taken too), when it is a folder inside `root` (the registry's by default);
        else the root."""
        root = root or self.root
        if not cwd or "\0" in cwd:
            return root.os_root
        if os.path.isabs(cwd) and root.is_inside(cwd):
            os_path = os.path.realpath(cwd)
        else:
            try:
                os_path = root.os_path(cwd)
            except (errors.NotFound, errors.NameTooLong):
                return root.os_root
        return os_path if os.path.isdir(os_path) and root.is_inside(os_path) else root.os_root

    def create_terminal(self, name: str | None = None, *, cwd: str | None = None,
                        env: dict[str, str] | None = None, owner: str | None = None,
                        root: Root | None = None) -> Terminal:
        """Start a shell, `owner`'s, in `root` (a user's workspace; the registry's root by
        default). A `name` already in use gives that terminal, as it is, if it is `owner`'s.

        Names are one namespace for all users (an administrator names any terminal by its
        name), so a user's new terminal may be ``"2"`` because another user's is ``"1"``.

        :param cwd: see `cwd`; a folder that does not exist, or is not inside the root, is
            ignored.
        :param env: more environment variables for the shell.
        :param owner: who starts it: with a sandbox, the shell is confined to `root` (else
            to the owner's workspace: `confine`).
        :raises errors.Invalid: a name that is not letters, digits and underscores.
        :raises errors.Conflict: `name` is another user's terminal.
        :raises errors.Unavailable: the server is shutting down.
        """
        if self._closed:
            raise errors.Unavailable("The server is shutting down")
        if name is not None:
            if not NAME.fullmatch(name):
                raise errors.Invalid(f"Invalid terminal name: {name!r} (letters, digits and _ only)")
            if name in self.terminals:
                if self.terminals[name].owner != owner:
                    raise errors.Conflict(f"Terminal name {name!r} is in use", reason="terminal name in use")
                return self.terminals[name]
        else:
            name = next(str(n) for n in range(1, len(self.terminals) + 2) if str(n) not in self.terminals)
        rows, cols = DEFAULT_SIZE
        own = {**self.env, **(env or {}), "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        folder: str | None = self.cwd(cwd, root)
        argv = self.shell_command
        if self.confine is not None:
            confinement = self.confine(owner, root.os_root if root is not None else None, self.cwd(cwd, root))
            own["JUPYTER_SERVER_ROOT"] = confinement.workspace
            shell_env = sandbox.sandbox_env(os.environ, confinement, own=own)
            program = shutil.which(argv[0], path=shell_env["PATH"]) or argv[0]
            argv = [*sandbox.bwrap_args(confinement, read_only=sorted(sandbox.python_prefixes()
                                                                      | sandbox.program_prefixes(program)),
                                        new_session=False), *argv]
            folder = None  # bwrap's --chdir
        else:
            shell_env = {**os.environ, **own}
        try:
            master, slave = os.openpty()
        except OSError as exc:  # no pty left (EAGAIN), or none at all
            raise errors.Unavailable(f"No pseudo-terminal is available: {exc.strerror}",
                                     reason="no pty") from exc
        try:
            _set_size(master, rows, cols)
            os.set_blocking(master, False)
            process = self._spawn(argv, slave, folder, shell_env)
        except (OSError, subprocess.SubprocessError) as exc:
            os.close(master)
            raise errors.NotebookError(f"Could not start the terminal's shell {self.shell_command[0]!r}",
                                       reason=str(exc)) from exc
        finally:
            os.close(slave)
        terminal = Terminal(name, process, master, self.on_activity, self._forget)
        terminal.owner = owner
        self.terminals[name] = terminal
        if self.cull_inactive_timeout > 0 and self._culler is None:
            self._culler = gevent.spawn(self._cull_loop)
        log.info("terminal %s started (%s, pid %d)", name, self.shell_command[0], process.pid)
        return terminal

    @staticmethod
    def _spawn(argv: list[str], tty: int, cwd: str | None, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """The shell, in a new session whose controlling terminal is `tty`. Under gevent's
        patching, started by the standard library's C path (`KernelProcess`), whose exit
        gevent reports at once; the C path closes every other descriptor either way.

        util-linux's ``setsid --ctty`` makes the session and takes the terminal, then execs
        the shell (same pid: the child is no group leader, so it does not fork). Without it
        (not Linux), a ``preexec_fn`` does the same in Python between fork and exec, which
        is unsafe while other threads run (gevent's thread pool), hence the preference.
        """
        popen: Any = KernelProcess if monkey.is_module_patched("subprocess") else subprocess.Popen
        if _SETSID is not None:
            process: subprocess.Popen[bytes] = popen([_SETSID, "--ctty", *argv], stdin=tty, stdout=tty,
                                                     stderr=tty, cwd=cwd, env=env)
        else:
            process = popen(argv, stdin=tty, stdout=tty, stderr=tty, cwd=cwd, env=env, start_new_session=True,
                            preexec_fn=_take_controlling_terminal)
        return process

    def _forget(self, terminal: Terminal) -> None:
        if self.terminals.get(terminal.name) is terminal:
            del self.terminals[terminal.name]

    def terminate(self, name: str) -> None:
        """End a terminal (`Terminal.terminate`); it is gone from the registry at once.

        :raises errors.NotFound: no such terminal.
        """
        terminal = self.get(name)
        self._forget(terminal)
        terminal.terminate()

    def _cull_loop(self) -> None:
        while not self._closed:
            gevent.sleep(self.cull_interval)
            self.cull()

    def cull(self) -> list[str]:
        """End the terminals inactive for longer than ``cull_inactive_timeout``; their names."""
        if self.cull_inactive_timeout <= 0:
            return []
        deadline = time.time() - self.cull_inactive_timeout
        idle = [t for t in self.all() if not t.ended and t.last_activity < deadline]
        for terminal in idle:
            log.warning("culling terminal %s after %d s of inactivity", terminal.name,
                        time.time() - terminal.last_activity)
            self._forget(terminal)
        if idle:
            gevent.joinall([gevent.spawn(terminal.terminate) for terminal in idle])
        return [terminal.name for terminal in idle]

    def shutdown_all(self) -> None:
        """End every terminal, in parallel. No new terminal starts after."""
        self._closed = True
        if self._culler is not None:
            self._culler.kill(block=False)
        terminals = self.all()
        self.terminals.clear()
        if terminals:
            log.info("shutting down %d terminal(s)", len(terminals))
            gevent.joinall([gevent.spawn(terminal.terminate) for terminal in terminals],
                           timeout=HANGUP_WAIT + TERM_WAIT + KILL_WAIT + 1)
