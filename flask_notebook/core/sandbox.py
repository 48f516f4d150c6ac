"""The kernel sandbox: kernels (and terminals' shells) confined by bubblewrap (``bwrap``).

`BubblewrapProvisioner` is a kernel provisioner, registered as ``flask-notebook-bubblewrap``
(pyproject.toml) and made the registry's default when ``NOTEBOOK_KERNEL_SANDBOX`` is
``"bubblewrap"``, so it composes with kernelspecs. The registry gives it a `Confinement`
(whose workspace, which shared folders, network or not, what environment) right after
jupyter_client makes it; its ``confine_command`` wraps the kernelspec's command in ``bwrap``.

What a confined process gets (`bwrap_args`):

- the owner's workspace read-write (it starts inside it) and each shared folder read-only
  at ``<workspace>/<name>`` (bwrap makes the mount point: an empty folder of that name
  appears in the workspace if there was none, where the contents API shows the shared one);
- the system folders (``/usr``, ``/lib*``, ``/bin``, ``/sbin``, ``/etc``) and the Python
  environment (the server's prefixes, the kernelspec program's) read-only; the secrets a
  root server could read in ``/etc`` (``shadow``, ``sudoers``, ssh host keys...) masked;
- a private ``/tmp``, a minimal ``/dev``, nothing else writable, its own PID namespace and ``/proc`` (no process
  of the server or of another kernel is visible), its own IPC namespace, no capabilities;
- of the server's runtime directory only this kernel's connection file (read-only), and
  with the network off (``--unshare-net``) a folder of its own for its ZMQ ``ipc`` sockets;
- an environment built from an allow-list (`sandbox_env`), never the server's own.

Choices a reader may question:

- ``--new-session``: the sandbox's init process (PID 1 inside) leads a session and process
  group of its own, which holds the kernel and whatever it starts. Signals go to that group
  (`BubblewrapProvisioner.send_signal`), as jupyter_client sends them to an unsandboxed
  kernel's group: SIGINT interrupts the kernel and its children, SIGTERM asks it to exit.
  Never to bwrap itself, which would die of them (bwrap forwards no signal), and never to
  the init, which the kernel ignores unless it is SIGKILL (PID 1's protection). ipykernel's
  own ``interrupt_request`` signals the kernel alone then (it is not its group's leader):
  also fine. Terminals' shells do without it: they need the pty as controlling terminal.
- ``--die-with-parent`` (`DIE_WITH_SERVER`): an unsandboxed kernel ends when the server
  process does, through ipykernel's parent poller (``JPY_PARENT_PID``), which cannot work
  in a PID namespace (the kernel's parent is the sandbox's init); bwrap's option keeps that
  behaviour. Kernels that outlive the server (NOTEBOOK_PERSIST_KERNELS) drop both: they are
  launched ``independent`` (no ``JPY_PARENT_PID``) and their `Confinement` has
  ``outlive_server``.
- The environment is handed to bwrap as its own, already filtered, rather than as
  ``--clearenv`` and ``--setenv NAME VALUE``: command lines are readable by every local
  user (``/proc/PID/cmdline``), and ``NOTEBOOK_KERNEL_ENV`` may hold credentials.
- bwrap reports a command killed by signal N as exit status 128+N; `SandboxedProcess`
  turns it back, so a kernel killed from outside is reported as for an unsandboxed one (a
  kernel that exits with status 137 of its own accord is reported as killed by SIGKILL).

What it does not protect against: a kernel runs as the server's user (as root when the server
runs as root: run it as an unprivileged user), shares the host kernel (a kernel exploit
escapes), and with the network on reaches everything the host reaches, the server's own
port included. Memory and CPU are the limits' business (``NOTEBOOK_KERNEL_MEMORY_LIMIT``).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .provisioner import HeldPortsProvisioner
from .spawn import KernelProcess

log = logging.getLogger(__name__)

#: The entry point name (pyproject.toml's ``jupyter_client.kernel_provisioners``).
NAME = "flask-notebook-bubblewrap"

#: See the module docstring: sandboxed kernels end with the server, as unsandboxed ones do.
DIE_WITH_SERVER = True

#: Folders of the system, read-only in every sandbox (symlinks, as on merged-/usr systems,
#: are made as symlinks).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
#: Readable by a root server, never by a kernel: files are covered by an empty file,
#: folders by an empty read-only one.
MASKED = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers", "/etc/sudoers.d",
          "/etc/ssh", "/etc/ssl/private", "/etc/security/opasswd", "/etc/machine-id")
#: Where a resolver configuration that ``/etc/resolv.conf`` links to may live.
RESOLVER_DIRS = ("/run/systemd/resolve", "/run/resolvconf")

#: Variables taken from the server's environment (and ``LC_*``); everything else is left out.
ALLOWED_ENV = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "TERM", "COLORTERM", "PYTHONUNBUFFERED",
                         "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONDONTWRITEBYTECODE"})
#: Seconds the start-up check may take.
CHECK_TIMEOUT = 10.0


@dataclass(frozen=True)
class Confinement:
    """What one sandbox is made of; the registry makes one per kernel from its owner.

    :param workspace: the owner's workspace (a real path), bound read-write.
    :param cwd: where the process starts: inside `workspace`, or inside a shared folder's
        place in it (`starting_folder`).
    :param shared_dirs: folder name -> real directory, each bound read-only at
        ``<workspace>/<name>``.
    :param network: False cuts the sandbox off the network (the kernel's ZMQ sockets then use
        the ``ipc`` transport).
    :param env: variables added to the allow-listed environment: ``NOTEBOOK_KERNEL_ENV``'s,
        then the launch's own (``JPY_SESSION_NAME``...).
    :param bwrap: the bwrap program (an absolute path: `find_bwrap`).
    """

    workspace: str
    cwd: str
    shared_dirs: Mapping[str, str] = field(default_factory=dict)
    network: bool = True
    env: Mapping[str, str] = field(default_factory=dict)
    bwrap: str = "/usr/bin/bwrap"
    #: The confined process outlives the server (NOTEBOOK_PERSIST_KERNELS): no
    #: ``--die-with-parent``. Everything else of the sandbox stays.
    outlive_server: bool = False


class Unavailable(RuntimeError):
    """bubblewrap is missing or cannot make its namespaces here (the start-up check)."""


def find_bwrap(path: str | None = None) -> str:
    """The bwrap program on `path` (the server's PATH by default).

    :raises Unavailable: there is none.
    """
    found = shutil.which("bwrap", path=path if path is not None else os.environ.get("PATH", os.defpath))
    if found is None:
        raise Unavailable("bubblewrap (bwrap) is not installed or not on the server's PATH")
    return os.path.abspath(found)


def check(bwrap: str, *, network: bool = True, timeout: float = CHECK_TIMEOUT) -> None:
    """Run ``true`` in a sandbox as kernels get it (namespaces, mounts, no capabilities), once.

    :raises Unavailable: it failed (the message holds bwrap's own words) or took too long.
    """
    with tempfile.TemporaryDirectory(prefix="notebook-sandbox-check-") as workspace:
        args = bwrap_args(Confinement(workspace, workspace, network=network, bwrap=bwrap), new_session=True)
        try:
            done = subprocess.run([*args, "true"], stdin=subprocess.DEVNULL, capture_output=True,
                                  env={"PATH": os.defpath}, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise Unavailable(f"{bwrap} did not finish a test run within {timeout:g} s") from None
        except OSError as exc:
            raise Unavailable(f"{bwrap} could not be run: {exc.strerror}") from exc
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
        raise Unavailable(f"{bwrap} cannot make a sandbox here: {said}")


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def starting_folder(cwd: str, workspace: str, shared_dirs: Mapping[str, str]) -> str:
    """Where a process asked to start in `cwd` starts in the sandbox: `cwd` inside the
    workspace; a shared folder's path moved to its place in the workspace; anywhere else
    (a folder the owner has no access to), the workspace itself."""
    real = os.path.realpath(cwd)
    if _inside(real, workspace):
        return real
    for name, shared in shared_dirs.items():
        if _inside(real, shared):
            return os.path.normpath(os.path.join(workspace, name, os.path.relpath(real, shared)))
    log.warning("a sandboxed process asked to start in %s, outside its workspace %s: started in the workspace",
                cwd, workspace)
    return workspace


def _system_args() -> list[str]:
    args: list[str] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in RESOLVER_DIRS:
        args += ["--ro-bind-try", path, path]
    for path in MASKED:
        if os.path.isdir(path) and not os.path.islink(path):
            args += ["--tmpfs", path, "--remount-ro", path]
        elif os.path.lexists(path):
            args += ["--ro-bind", os.devnull, path]
    return args


def bwrap_args(confinement: Confinement, *, read_only: Iterable[str] = (), read_write: Iterable[str] = (),
               new_session: bool) -> list[str]:
    """The bwrap command line up to the confined command (which follows its ``--``).

    :param read_only: more paths bound read-only at the same place (the Python environment,
        the connection file), after the workspace so that one inside it stays read-only.
    :param read_write: more paths bound read-write at the same place (the ``ipc`` folder).
    :param new_session: ``--new-session`` (kernels; not terminals, which need their pty).
    """
    workspace = confinement.workspace
    args = [confinement.bwrap, "--unshare-pid", "--unshare-ipc", "--cap-drop", "ALL"]
    if not confinement.network:
        args.append("--unshare-net")
    if new_session:
        args.append("--new-session")
    if DIE_WITH_SERVER and not confinement.outlive_server:
        args.append("--die-with-parent")
    args += _system_args()
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    system = [path for path in SYSTEM_DIRS if os.path.isdir(path) and not os.path.islink(path)]
    outside = [p for p in read_only if not _inside(p, workspace) and p != "/"
               and not any(_inside(p, folder) for folder in system)]
    inside = [p for p in read_only if _inside(p, workspace)]
    for path in outside:  # before the workspace: a prefix that holds it must not cover it
        args += ["--ro-bind-try", path, path]
    args += ["--bind", workspace, workspace]
    for name, shared in confinement.shared_dirs.items():
        place = os.path.join(workspace, name)
        if os.path.islink(place) or (os.path.lexists(place) and not os.path.isdir(place)):
            # The owner's own file or link by that name (bwrap would fail on it, or follow it).
            log.warning("shared folder %r not shown in a sandbox of %s: a file or link has its name", name, workspace)
            continue
        args += ["--ro-bind", shared, place]
    for path in inside:
        args += ["--ro-bind-try", path, path]
    for path in read_write:
        args += ["--bind", path, path]
    # The sandbox's own root is a tmpfs that holds the mount points bwrap made (the runtime
    # folder's path, for the connection file): read-only, so that only the workspace, /tmp
    # and /dev/shm take writes.
    args += ["--remount-ro", "/"]
    args += ["--unsetenv", "JPY_PARENT_PID", "--chdir", confinement.cwd, "--"]
    return args


def sandbox_env(environ: Mapping[str, str], confinement: Confinement, *,
                own: Mapping[str, str] | None = None) -> dict[str, str]:
    """A confined process's environment: the allow-listed variables of `environ`, ``HOME``
    in the workspace, `own` (a kernelspec's ``env``, a terminal's ``TERM``...), then the
    confinement's additions."""
    env = {key: value for key, value in environ.items() if key in ALLOWED_ENV or key.startswith("LC_")}
    env.setdefault("PATH", os.defpath)
    env["HOME"] = confinement.workspace
    env.update(own or {})
    env.update(confinement.env)
    return env


def python_prefixes() -> set[str]:
    return {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}


def program_prefixes(program: str) -> set[str]:
    """Where a program lives, as a folder to bind: the prefix above its ``bin`` folder (a
    virtual environment's, say), for its path and for the real file it links to."""
    found = set()
    for path in (os.path.abspath(program), os.path.realpath(program)):
        folder = os.path.dirname(path)
        found.add(os.path.dirname(folder) if os.path.basename(folder) in ("bin", "sbin") else folder)
    return found - {"/"}


def died_of(returncode: int) -> int:
    """bwrap's exit status for its command: a signal's 128+N back to -N (`subprocess`'s)."""
    if 128 < returncode <= 128 + 64:
        return -(returncode - 128)
    return returncode


class SandboxedProcess(KernelProcess):
    """bwrap's process, with the confined command's death by a signal reported as such."""

    def _reap(self) -> None:
        _, status = os.waitpid(self.pid, 0)
        self.returncode = died_of(os.waitstatus_to_exitcode(status))
        self.result.set(self.returncode)


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def sandbox_init(bwrap_pid: int) -> int | None:
    """The pid, as the server sees it, of the sandbox's init (PID 1 inside, bwrap's one
    child, the leader of the kernel's process group), or None while there is none."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _parent_of(int(entry)) == bwrap_pid:
            return int(entry)
    return None


class BubblewrapProvisioner(HeldPortsProvisioner):
    """`HeldPortsProvisioner` with its kernel confined by bwrap (see the module docstring).

    The registry sets `confinement` before the kernel starts; without one, launching fails:
    a kernel never runs unconfined by mistake.
    """

    process_class = SandboxedProcess

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.confinement: Confinement | None = None
        self.ipc_dir: str | None = None
        self._init_pid: int | None = None

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        km = self.parent
        if self.confinement is None:
            raise RuntimeError("a sandboxed kernel needs its confinement (the kernel registry sets it)")
        if km is not None and not self.confinement.network and km.transport != "ipc":
            # No network, not even loopback to the server: ZMQ over Unix sockets, in a folder
            # of this kernel's own, short enough for a socket's path (108 bytes at most).
            self.ipc_dir = tempfile.mkdtemp(prefix="nb-ipc-")
            km.transport = "ipc"
            km.cache_ports = False
            km.ip = os.path.join(self.ipc_dir, "k")
        return await super().pre_launch(**kwargs)

    def confine_command(self, cmd: list[str], kwargs: dict[str, Any]) -> list[str]:
        confinement = self.confinement
        assert confinement is not None  # pre_launch checked
        env: dict[str, str] = kwargs.get("env") or dict(os.environ)
        spec_env = {key: env[key] for key in (self.kernel_spec.env or {}) if key in env}
        kwargs["env"] = sandbox_env(env, confinement, own=spec_env)
        program = shutil.which(cmd[0], path=kwargs["env"]["PATH"]) or cmd[0]
        read_only = python_prefixes() | program_prefixes(program)
        resource_dir = getattr(self.kernel_spec, "resource_dir", None)
        if resource_dir:
            read_only.add(os.path.realpath(resource_dir))
        km = self.parent
        if km is not None and km.connection_file:
            read_only.add(os.path.abspath(km.connection_file))
        kwargs.pop("cwd", None)  # bwrap's --chdir: no need for a shell to change folders first
        self.cwd = confinement.cwd
        args = bwrap_args(confinement, read_only=sorted(read_only),
                          read_write=[self.ipc_dir] if self.ipc_dir else [], new_session=True)
        return [*args, os.path.abspath(program) if os.sep in program else program, *cmd[1:]]

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        self._init_pid = None
        info = await super().launch_kernel(cmd, **kwargs)
        if self.confinement is not None:
            self.cwd = self.confinement.cwd
        return info

    def _init(self) -> int | None:
        """The sandbox's init (see `sandbox_init`), looked up once per launch."""
        process = self.process
        if process is None:
            return None
        if self._init_pid is None or _parent_of(self._init_pid) != process.pid:
            self._init_pid = sandbox_init(process.pid)
        return self._init_pid

    async def send_signal(self, signum: int) -> None:
        """To the sandbox's process group (the kernel and what it started), never to bwrap
        (see the module docstring). SIGKILL ends the sandbox's init too, and with it every
        process inside, then bwrap. A signal other than SIGKILL or SIGTERM sent before the
        sandbox is up is dropped (bwrap would die of it)."""
        if self.process is None:
            return
        init = self._init()
        if init is not None:
            try:
                os.killpg(init, signum)
            except ProcessLookupError:
                init = None
            except OSError as exc:
                if exc.errno != errno.ESRCH:
                    raise
        if signum == signal.SIGKILL or (init is None and signum == signal.SIGTERM):
            await super().send_signal(signum)
        elif init is None:
            log.debug("kernel %s: signal %d dropped, its sandbox is not up", self.kernel_id, signum)

    async def get_provisioner_info(self) -> dict[str, Any]:
        info = await super().get_provisioner_info()
        info["ipc_dir"] = self.ipc_dir
        return info

    async def load_provisioner_info(self, provisioner_info: dict[str, Any]) -> None:
        await super().load_provisioner_info(provisioner_info)
        self.ipc_dir = provisioner_info.get("ipc_dir")
        self._init_pid = None

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        if not restart and self.ipc_dir is not None:
            shutil.rmtree(self.ipc_dir, ignore_errors=True)
            self.ipc_dir = None
