"""Memory and CPU limits per kernel (``NOTEBOOK_KERNEL_MEMORY_LIMIT``, ``NOTEBOOK_KERNEL_CPU_LIMIT``).

Each kernel gets a control group of its own, under a parent group of this server's
(``flask-notebook-<pid>-<n>``, made inside the group the server itself runs in, so the
operator's own limits on the server still bound its kernels): cgroup v2 (``memory.max``,
``cpu.max``) where ``/sys/fs/cgroup`` is the unified hierarchy, else v1 (``memory/…/
memory.limit_in_bytes``, ``cpu/…/cpu.cfs_quota_us``). Whether groups can be made is probed
once, at start-up (``KernelLimits.__init__``). Where they cannot (no cgroup file system, no
permission, v2 controllers not delegated to the server's group):

- memory is limited with ``RLIMIT_DATA``, which counts what the process allocates (heap and
  anonymous mappings). Not ``RLIMIT_AS``: an idle ipykernel reserves about 720 MiB of address
  space (glibc's per-thread arenas, thread stacks) while its data is about 125 MiB, so an
  address-space limit of a few hundred MiB stops it from starting (measured, ipykernel 7).
  It is per process, not per kernel with its children, and an allocation past it raises
  ``MemoryError`` in the kernel instead of ending it;
- CPU is not limited.

Both fallbacks are said in a start-up warning.

The kernel is in its group from its first instruction: its command is prefixed by a small
shell that writes its own pid into each group's ``cgroup.procs`` (and sets the rlimit), then
``exec``s the kernel, which keeps that pid (``KernelLimits.command``). Moving the pid after
the launch would let anything the kernel started meanwhile escape. The group is removed when
the kernel is gone (``release``): what is still in it then (processes the kernel started in
a session of their own) is killed first, so a shut-down kernel leaves nothing running.

A kernel that the kernel OOM killer ended for its group's limit is told apart from one killed
otherwise (``death_cause``): SIGKILL, and the group's ``oom_kill`` count (v2 ``memory.events``,
v1 ``memory.oom_control``; v1 before Linux 4.13: ``memory.failcnt``) went up since it started.
Under the rlimit a kernel usually survives with a ``MemoryError``; one that dies of SIGSEGV,
SIGABRT or SIGBUS (an extension that did not expect malloc to fail) is said to have perhaps
reached the limit, which cannot be known for sure.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import re
import signal
import time
from collections.abc import Iterable, Mapping

import gevent

from .spawn import SHELL, program_path

log = logging.getLogger(__name__)

#: Where the cgroup file systems are mounted.
ROOT = "/sys/fs/cgroup"
#: An environment variable that points elsewhere instead (a test makes the fallback happen
#: by pointing it at a folder that is no cgroup file system).
ROOT_VARIABLE = "FLASK_NOTEBOOK_CGROUP_ROOT"
#: The CPU period, in microseconds (the kernel's default for ``cpu.max`` and CFS).
PERIOD_US = 100_000
#: Seconds a group whose processes were just killed is given to empty, before giving up.
RELEASE_WAITS = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)

_names = itertools.count(1)
_PARENT = re.compile(r"flask-notebook-(\d+)-\d+")
#: Joins each group named before ``--`` (its ``cgroup.procs``), then becomes the command.
_JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 126; shift; done; shift; '


def format_bytes(size: int) -> str:
    """``268435456`` -> ``"256 MiB"``; whole units where they fit, else one decimal."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if size % scale == 0 else f"{value:.1f} {unit}"
    return f"{size} bytes"


class Unavailable(Exception):
    """Groups cannot be made here; the message says why."""


class KernelLimits:
    """The memory and CPU limits of every kernel of one registry, and their groups.

    :param memory: bytes per kernel, or None.
    :param cpu: CPUs per kernel (0.5: half of one), or None.
    :param root: where the cgroup file systems are (``ROOT``).
    """

    def __init__(self, memory: int | None, cpu: float | None, *, root: str = ROOT) -> None:
        self.memory = memory
        self.cpu = cpu
        self.root = root
        self.version: int | None = None
        #: controller ("memory", "cpu") -> this server's parent group for it.
        self.parents: dict[str, str] = {}
        #: How each limit is applied: "cgroup v1", "cgroup v2", "RLIMIT_DATA", or None (not at all).
        self.memory_by: str | None = None
        self.cpu_by: str | None = None
        #: Why groups could not be made, when they could not.
        self.unavailable: str | None = None
        self._oom_seen: dict[str, int | None] = {}
        wanted = [c for c, limit in (("memory", memory), ("cpu", cpu)) if limit is not None]
        if wanted:
            try:
                self._probe(wanted)
            except Unavailable as exc:
                self.unavailable = str(exc)
        if memory is not None:
            self.memory_by = f"cgroup v{self.version}" if "memory" in self.parents else "RLIMIT_DATA"
        if cpu is not None and "cpu" in self.parents:
            self.cpu_by = f"cgroup v{self.version}"

    # -- start-up ---------------------------------------------------------------------------------

    def _probe(self, wanted: list[str]) -> None:
        """Make this server's parent group(s) and a trial group in each.

        :raises Unavailable: that is not possible here (what was tried, and the error).
        """
        own = _own_groups()
        name = f"flask-notebook-{os.getpid()}-{next(_names)}"
        if os.path.exists(os.path.join(self.root, "cgroup.controllers")):
            self.version = 2
            base = _join(self.root, own.get("", "/"))
            available = _read(os.path.join(base, "cgroup.controllers")).split()
            missing = [c for c in wanted if c not in available]
            if missing:
                raise Unavailable(f"cgroup v2: the {', '.join(missing)} controller is not available in {base}")
            parent = os.path.join(base, name)
            try:
                # The server's own group cannot enable controllers for its children while it
                # holds processes, unless it is the root (v2's "no internal processes").
                _enable(base, wanted)
                _make(parent)
                _enable(parent, wanted)
                _trial(parent, [f"{c}.max" for c in wanted])
            except OSError as exc:
                _remove(parent)
                raise Unavailable(f"cgroup v2: {_say(exc)} (the server's group {base} must let it make groups "
                                  "with these controllers: run it in a group of its own, delegated)") from None
            self.parents = dict.fromkeys(wanted, parent)
        else:
            self.version = 1
            files = {"memory": "memory.limit_in_bytes", "cpu": "cpu.cfs_quota_us"}
            for controller in wanted:
                mount = os.path.join(self.root, controller)
                if not os.path.exists(os.path.join(mount, files[controller])):
                    continue
                parent = os.path.join(_join(mount, own.get(controller, "/")), name)
                try:
                    _make(parent)
                    _trial(parent, [files[controller]])
                except OSError as exc:
                    _remove(parent)
                    log.debug("no %s cgroup: %s", controller, _say(exc))
                    continue
                self.parents[controller] = parent
            if not self.parents:
                raise Unavailable(f"no cgroup file system with the {' or '.join(wanted)} controller "
                                  f"could be used under {self.root}")
        for parent in set(self.parents.values()):
            _remove_stale(os.path.dirname(parent))

    def describe(self) -> list[tuple[int, str]]:
        """What the start-up log says: (level, message) pairs."""
        said: list[tuple[int, str]] = []
        if self.memory is not None:
            limit = format_bytes(self.memory)
            if self.memory_by == "RLIMIT_DATA":
                said.append((logging.WARNING, f"NOTEBOOK_KERNEL_MEMORY_LIMIT: no cgroup can be made here "
                             f"({self.unavailable or 'no memory controller'}); each kernel process is limited to "
                             f"{limit} with RLIMIT_DATA instead: per process (its children are not counted with it), "
                             "and an allocation past it raises MemoryError rather than ending the kernel"))
            else:
                said.append((logging.INFO, f"kernels' memory is limited to {limit} each by {self.memory_by} "
                             f"({self.parents['memory']})"))
        if self.cpu is not None:
            if self.cpu_by is None:
                said.append((logging.WARNING, f"NOTEBOOK_KERNEL_CPU_LIMIT: no cgroup can be made here "
                             f"({self.unavailable or 'no cpu controller'}); kernels' CPU is NOT limited"))
            else:
                said.append((logging.INFO, f"kernels' CPU is limited to {self.cpu:g} each by {self.cpu_by} "
                             f"({self.parents['cpu']})"))
        return said

    # -- per kernel ---------------------------------------------------------------------------------

    def command(self, kernel_id: str, cmd: list[str], env: Mapping[str, str] | None = None) -> list[str]:
        """`cmd` prefixed so that the kernel starts in its groups (made or reset here) and
        under the rlimit. Called for each launch of the kernel, restarts included.

        :raises FileNotFoundError: the kernel's program does not exist (as from ``Popen``: the
            prefix would otherwise start, and the kernel end at once with 127).
        :raises OSError: its groups could not be made.
        """
        program = program_path(cmd[0], dict(env) if env is not None else None)
        procs = []
        for controller, group in self._groups(kernel_id).items():
            _make(group)
            for name, value in self._settings(controller, group):
                _write(os.path.join(group, name), value)
            if controller == "memory":
                self._oom_seen[kernel_id] = _oom_kills(group, self.version)
            procs.append(os.path.join(group, "cgroup.procs"))
        script = _JOIN
        if self.memory is not None and self.memory_by == "RLIMIT_DATA":
            script += f"ulimit -d {max(1, self.memory // 1024)} || exit 126; "
        return [SHELL, "-c", script + 'exec "$@"', "flask-notebook-limits", *dict.fromkeys(procs), "--",
                program, *cmd[1:]]

    def death_cause(self, kernel_id: str, returncode: int | None) -> str | None:
        """Why the kernel died, when its limits explain it (see the module docstring); else None."""
        if self.memory is None or returncode is None or returncode >= 0:
            return None
        limit = format_bytes(self.memory)
        if "memory" in self.parents:
            before = self._oom_seen.get(kernel_id)
            now = _oom_kills(os.path.join(self.parents["memory"], kernel_id), self.version)
            if returncode == -signal.SIGKILL and before is not None and now is not None and now > before:
                return f"was killed: memory limit {limit} reached"
            return None
        if -returncode in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
            name = signal.Signals(-returncode).name
            return (f"was killed by {name} (signal {-returncode}); it may have reached its memory limit of {limit} "
                    "(RLIMIT_DATA)")
        return None

    def release(self, kernel_id: str) -> None:
        """Remove the kernel's groups, killing what is left in them; retried in the background
        for a moment while killed processes exit."""
        self._oom_seen.pop(kernel_id, None)
        groups = [g for g in dict.fromkeys(self._groups(kernel_id).values()) if os.path.isdir(g)]
        left = [g for g in groups if not _try_remove(g)]
        if left:
            gevent.spawn(_remove_later, left)

    def close(self) -> None:
        """Remove every group of ours (after the kernels are stopped)."""
        for parent in dict.fromkeys(self.parents.values()):
            try:
                children = [os.path.join(parent, entry.name) for entry in os.scandir(parent) if entry.is_dir()]
            except OSError:
                continue
            _remove_later(children)
            _remove_later([parent])

    def _groups(self, kernel_id: str) -> dict[str, str]:
        return {controller: os.path.join(parent, kernel_id) for controller, parent in self.parents.items()}

    def _settings(self, controller: str, group: str) -> list[tuple[str, str]]:
        """The files to write in a kernel's group, in order."""
        if controller == "memory" and self.memory is not None:
            if self.version == 2:
                # No swap (the limit would not bind), and an OOM kill ends the whole kernel
                # (its children too), not just its largest process.
                return [("memory.max", str(self.memory)), *_existing(group, ("memory.swap.max", "0"),
                                                                     ("memory.oom.group", "1"))]
            return [("memory.limit_in_bytes", str(self.memory)),
                    *_existing(group, ("memory.memsw.limit_in_bytes", str(self.memory)))]
        if controller == "cpu" and self.cpu is not None:
            quota = max(1000, round(self.cpu * PERIOD_US))
            if self.version == 2:
                return [("cpu.max", f"{quota} {PERIOD_US}")]
            return [("cpu.cfs_period_us", str(PERIOD_US)), ("cpu.cfs_quota_us", str(quota))]
        return []


# -- the file system --------------------------------------------------------------------------------


def _own_groups() -> dict[str, str]:
    """This process's group per v1 controller (``"memory"``, ``"cpu"``), and v2's (``""``)."""
    groups: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup") as lines:
            for line in lines:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for controller in controllers.split(",") if controllers else [""]:
                    groups[controller] = path
    except (OSError, ValueError):
        pass
    return groups


def _join(mount: str, path: str) -> str:
    return os.path.join(mount, path.lstrip("/")) if path.strip("/") else mount


def _read(path: str) -> str:
    try:
        with open(path) as file:
            return file.read()
    except OSError:
        return ""


def _write(path: str, value: str) -> None:
    with open(path, "w") as file:
        file.write(value)


def _make(path: str) -> None:
    try:
        os.mkdir(path)
    except FileExistsError:
        pass


def _enable(group: str, controllers: Iterable[str]) -> None:
    """Let `group`'s children have `controllers` (v2)."""
    enabled = _read(os.path.join(group, "cgroup.subtree_control")).split()
    wanted = [c for c in controllers if c not in enabled]
    if wanted:
        _write(os.path.join(group, "cgroup.subtree_control"), " ".join(f"+{c}" for c in wanted))


def _trial(parent: str, files: list[str]) -> None:
    """Make and remove a group in `parent`, which must have `files`.

    :raises OSError: it could not be made, lacks a file, or could not be removed.
    """
    trial = os.path.join(parent, "trial")
    _make(trial)
    try:
        for name in files:
            if not os.path.exists(os.path.join(trial, name)):
                raise OSError(errno.ENOENT, f"a new group has no {name}", trial)
    finally:
        os.rmdir(trial)


def _existing(group: str, *settings: tuple[str, str]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in settings if os.path.exists(os.path.join(group, name))]


def _oom_kills(group: str, version: int | None) -> int | None:
    """How many processes of `group` the OOM killer has ended (v1 before Linux 4.13: how
    often the limit was hit); None when the group says neither."""
    text = _read(os.path.join(group, "memory.events" if version == 2 else "memory.oom_control"))
    match = re.search(r"^oom_kill (\d+)$", text, re.M)
    if match:
        return int(match.group(1))
    failures = _read(os.path.join(group, "memory.failcnt")).strip()
    return int(failures) if failures.isdigit() else None


def _try_remove(group: str) -> bool:
    """Remove `group`, killing what runs in it first; whether it is gone."""
    try:
        os.rmdir(group)
        return True
    except FileNotFoundError:
        return True
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            log.warning("the cgroup %s could not be removed: %s", group, _say(exc))
            return True  # nothing later will change that
    for pid in _read(os.path.join(group, "cgroup.procs")).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    return False


def _remove_later(groups: list[str]) -> None:
    """Remove `groups` (killing what is left in them), waiting a moment for killed processes."""
    waits = iter(RELEASE_WAITS)
    while groups:
        groups = [g for g in groups if not _try_remove(g)]
        delay = next(waits, None)
        if delay is None:
            break
        if groups:
            time.sleep(delay)  # gevent's, under its patching: this runs in a greenlet of its own
    for group in groups:
        log.warning("the cgroup %s could not be removed: processes are still in it", group)


def _remove(group: str) -> None:
    try:
        os.rmdir(group)
    except OSError:
        pass


def _remove_stale(base: str) -> None:
    """Remove the empty groups that servers which are gone left in `base` (one killed
    outright never removes its own)."""
    try:
        entries = [entry.name for entry in os.scandir(base) if entry.is_dir()]
    except OSError:
        return
    for name in entries:
        match = _PARENT.fullmatch(name)
        if match is None or _alive(int(match.group(1))):
            continue
        parent = os.path.join(base, name)
        try:
            for child in os.scandir(parent):
                if child.is_dir() and not _read(os.path.join(child.path, "cgroup.procs")).strip():
                    _remove(child.path)
        except OSError:
            continue
        _remove(parent)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _say(exc: OSError) -> str:
    return f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)
