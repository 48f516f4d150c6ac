"""How this server launches a kernel: a jupyter_client kernel provisioner.

jupyter_client starts every kernel through a provisioner, chosen by the kernelspec's
``metadata.kernel_provisioner`` or, for a kernelspec that names none, the factory's
``default_provisioner_name``. `HeldPortsProvisioner` is registered under the entry point group
``jupyter_client.kernel_provisioners`` as ``flask-notebook-local`` (pyproject.toml), and the
registry's factory (`factory`) makes it the default; a kernelspec that names a provisioner
keeps its own. It is jupyter_client's ``LocalProvisioner`` with two changes:

- Ports are held. jupyter_client picks free TCP ports and the kernel binds them a moment
  later; if any other process takes one meanwhile, ipykernel fails to bind and then hangs
  with its traceback printed, alive but deaf, so no restarter notices. ``pre_launch`` holds
  each port (`reserve`) from the moment it is chosen, and ``cleanup`` lets them go once the
  kernel is gone; a restart on the same ports keeps them.
- Under gevent's patching, the process is started by ``os.posix_spawn`` (`spawn.KernelProcess`)
  instead of gevent's ``Popen``, which stalls the server for as long as a fork of it takes.

And the kernel's command goes through two hooks: ``confine_command`` (nothing here; the kernel
sandbox's ``sandbox.BubblewrapProvisioner`` wraps it in bwrap), then ``limit_command``: the
memory and CPU limits the registry sets on the provisioner (``limits``, a
`cgroups.KernelLimits`) prefix it outermost, so the kernel, and whatever confines it, is in
its groups from its first instruction.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from typing import Any

from gevent import monkey
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.manager import KernelManager
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from .cgroups import KernelLimits
from .spawn import AdoptedProcess, KernelProcess, process_start

log = logging.getLogger(__name__)

#: The entry point name (pyproject.toml's ``jupyter_client.kernel_provisioners``).
NAME = "flask-notebook-local"

PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")

#: Launch options `KernelProcess` takes; with any other, the launch is jupyter_client's own.
_SPAWN_OPTIONS = frozenset({"cwd", "env", "kernel_id", "extra_arguments", "independent"})


def factory(default: str = NAME) -> KernelProvisionerFactory:
    """A provisioner factory whose default, for kernelspecs that name no provisioner, is ours
    (`default`: this module's, or the sandbox's, ``sandbox.NAME``).

    An instance of its own rather than jupyter_client's process-wide singleton, so that
    another user of jupyter_client in the process (a host application) keeps its default.

    :raises RuntimeError: the entry point is not registered (the package is not installed).
    """
    made = KernelProvisionerFactory(default_provisioner_name=default)
    if default not in made.get_provisioner_entries():
        raise RuntimeError(f"The kernel provisioner {default!r} is not registered: install flask-notebook "
                           "(pip install, or `make install` in a source tree)")
    return made


def reserve(ip: str, port: int) -> socket.socket | None:
    """A bound, never listening socket that keeps `port` from being handed out meanwhile.

    Linux gives neither ``bind(0)`` nor an outgoing ``connect`` a port that a socket is bound
    to, while a kernel whose listener sets SO_REUSEADDR (libzmq does, on POSIX) can still bind
    it, since this socket never listens. None when the port is taken.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
    except OSError:
        sock.close()
        return None
    return sock


class HeldPortsProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, with its kernel's ports held and, under gevent,
    its process spawned (see the module docstring).

    The command jupyter_client built passes two hooks before it is launched, innermost
    first: `confine_command` (the sandbox's: ``sandbox.BubblewrapProvisioner``) and then
    `limit_command` (memory and CPU limits: the outermost prefix, so that the sandbox is
    inside the limits too).
    """

    #: What `launch_kernel` starts under gevent (the sandbox's reports a signal's death).
    process_class: type[KernelProcess] = KernelProcess

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.held: dict[str, socket.socket] = {}
        self._written = False  # whether pre_launch wrote the connection file
        #: The memory and CPU limits of the kernel, set by the registry before it launches.
        self.limits: KernelLimits | None = None

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        km = self.parent
        if km is not None and km.transport == "tcp":
            # The held sockets keep this process from choosing the ports again, which is all
            # the manager's port cache does; left on, it would choose after us.
            km.cache_ports = False
            # On a restart on the same ports the connection file stays, and so do they.
            if not (self._written and os.path.exists(km.connection_file)):
                self.hold_ports(km)
        kwargs = await super().pre_launch(**kwargs)
        self._written = True
        kwargs["cmd"] = self.limit_command(self.confine_command(list(kwargs["cmd"]), kwargs), kwargs.get("env"))
        return kwargs

    def confine_command(self, cmd: list[str], kwargs: dict[str, Any]) -> list[str]:
        """The command that runs `cmd` confined: `cmd` itself here (no sandbox). A sandbox
        may also change the launch options in `kwargs` (its environment, say)."""
        return cmd

    def limit_command(self, cmd: list[str], env: dict[str, str] | None = None) -> list[str]:
        """`cmd` run under the kernel's memory and CPU limits (`limits`), when it has any.

        :raises OSError: the kernel's groups could not be made; FileNotFoundError: its
            program does not exist.
        """
        if self.limits is None or self.kernel_id is None:
            return cmd
        return self.limits.command(self.kernel_id, cmd, env)

    def hold_ports(self, km: KernelManager) -> None:
        """Hold `km`'s ports; choose (and hold) one where it has none, or where its port was
        taken before it could be held."""
        for name in PORT_NAMES:
            port = getattr(km, name)
            held = self.held.get(name)
            if held is not None and port and held.getsockname()[1] == port:
                continue
            sock = reserve(km.ip, port) if port and held is None else None
            if sock is None:  # no port yet, new ports wanted, or it was taken before we held it
                sock = reserve(km.ip, 0)  # before the old one is let go: a new number
            if held is not None:
                held.close()
            if sock is None:
                self.held.pop(name, None)
                continue
            self.held[name] = sock
            setattr(km, name, sock.getsockname()[1])

    def release_ports(self) -> None:
        for sock in self.held.values():
            sock.close()
        self.held = {}

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        if not restart:
            self.release_ports()
            self._written = False
            if self.limits is not None and self.kernel_id is not None:
                self.limits.release(self.kernel_id)

    async def get_provisioner_info(self) -> dict[str, Any]:
        """jupyter_client's persistence hook: ``LocalProvisioner``'s (kernel id, connection info,
        pid, process group), as JSON (the key as text), with what tells the process from a later
        one given its number (``process_start``), for `load_provisioner_info` in another server."""
        info = await super().get_provisioner_info()
        connection = dict(info.get("connection_info") or {})
        for name, value in connection.items():
            if isinstance(value, bytes):
                connection[name] = value.decode()
        info["connection_info"] = connection
        info["process_start"] = process_start(self.pid) if self.pid else None
        return info

    async def load_provisioner_info(self, provisioner_info: dict[str, Any]) -> None:
        """The other half of `get_provisioner_info`: this provisioner takes over the running
        process it describes (an `spawn.AdoptedProcess`), if it still runs; otherwise it has
        none (``has_process`` is false). Its ports are held again at its next launch."""
        await super().load_provisioner_info(provisioner_info)
        self._written = False
        self.process = AdoptedProcess.find(int(self.pid or 0),  # type: ignore[assignment]
                                           provisioner_info.get("process_start"))
        if self.process is None:
            self.pid = self.pgid = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """What ``LocalProvisioner.launch_kernel`` does, with a process started by
        `KernelProcess` when gevent has patched ``subprocess``. Unpatched, jupyter_client's
        ``Popen`` is the standard library's, which spawns in C already; launch options beyond
        the registry's (``cwd`` and ``env``) go jupyter_client's way too."""
        if sys.platform == "win32" or not monkey.is_module_patched("subprocess") or set(kwargs) - _SPAWN_OPTIONS:
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env") or os.environ)
        if kwargs.get("independent"):
            # jupyter_client's launch option (``launcher.launch_kernel(independent=True)``): a
            # kernel that outlives this process (NOTEBOOK_PERSIST_KERNELS) has no parent poller.
            env.pop("JPY_PARENT_PID", None)
        else:
            env["JPY_PARENT_PID"] = str(os.getpid())  # ipykernel exits when this process is gone
        cwd = kwargs.get("cwd")
        process = self.process_class([os.path.expanduser(arg) for arg in cmd], stdin=subprocess.DEVNULL, env=env,
                                     cwd=cwd, start_new_session=True)
        self.process = process  # type: ignore[assignment]  # Popen's interface, as far as jupyter_client uses it
        self.pid = process.pid
        try:
            self.pgid = os.getpgid(process.pid)
        except OSError:
            self.pgid = None
        self.cwd = cwd or os.getcwd()
        return self.connection_info
