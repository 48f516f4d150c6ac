"""Kernels that a remote provisioner runs elsewhere (gateway_provisioners' SSH
``DistributedProvisioner``, its Docker, Kubernetes and YARN ones, or any other installed).

A kernelspec names its provisioner in ``metadata.kernel_provisioner``; one that is not a
``LocalProvisioner`` (no process here) is remote. Its kernel gets a `BridgedKernelManager`:
jupyter_client's ``KernelManager``, whose synchronous methods run the manager's coroutines on
the one provisioner loop (``aioloop.BRIDGE``) instead of a loop of the calling greenlet, so
the server serves on while an SSH launch takes seconds. The provisioner itself is made on that
loop too (`BridgedKernelManager.make_provisioner`): gateway_provisioners' ``ResponseManager``,
a process-wide listener for the launchers' call back, binds its tornado ``PeriodicCallback``
to the loop current when the first provisioner is made, and must run for as long as the server.

A remote kernel has no process here: its liveness is the provisioner's ``poll()`` (for
gateway_provisioners' SSH provisioner, a signal 0 sent through the launcher's listener, which
misses a zombie and a shutting-down kernel; ours, ``flask-notebook-ssh`` in
``ssh_provisioner.py``, checks over SSH too), asked at most every
``KernelRegistry``'s restarter interval (a second), on the loop, never on the hub.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import time
from typing import Any

import gevent
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager, KernelManager
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from .aioloop import BRIDGE

log = logging.getLogger(__name__)

GROUP = "jupyter_client.kernel_provisioners"

#: Seconds between the two polls that must both say a remote kernel is gone (see `is_alive`).
CONFIRM_DELAY = 0.5


def provisioner_name(spec: KernelSpec) -> str | None:
    """The provisioner a kernelspec names, or None."""
    named = (spec.metadata or {}).get("kernel_provisioner")
    name = named.get("provisioner_name") if isinstance(named, dict) else None
    return name if isinstance(name, str) else None


def is_remote(spec: KernelSpec) -> bool:
    """Whether the kernelspec names a provisioner that runs no local process (not a
    ``LocalProvisioner``). An unknown name is not remote: jupyter_client then refuses it."""
    name = provisioner_name(spec)
    return name is not None and _remote_provisioner(name)


@functools.cache
def _remote_provisioner(name: str) -> bool:
    """Whether the provisioner registered as `name` is remote; it is imported on the first call.

    On the hub's thread: an import may start processes (cffi runs ldconfig), which gevent does
    only there. The first import of a remote provisioner (paramiko, its crypto) takes about half
    a second of the hub: `preload` does it at start-up, not on a user's first launch.
    """
    for entry in importlib.metadata.entry_points(group=GROUP, name=name):
        try:
            cls = entry.load()
        except Exception:
            log.warning("the kernel provisioner %s could not be loaded", name, exc_info=True)
            return False
        return isinstance(cls, type) and not issubclass(cls, LocalProvisioner)
    return False


def preload(manager: KernelSpecManager) -> list[str]:
    """Import, once, each provisioner that an installed kernelspec names (see
    `_remote_provisioner`); the names of the remote ones. A kernelspec that cannot be read is
    skipped (the kernelspecs API reports it)."""
    remote = []
    for kernel_name in sorted(manager.find_kernel_specs()):
        try:
            spec = manager.get_kernel_spec(kernel_name)
        except Exception:
            continue
        name = provisioner_name(spec)
        if name is not None and _remote_provisioner(name):
            remote.append(name)
    return sorted(set(remote))


class BridgedKernelManager(KernelManager):
    """jupyter_client's ``KernelManager`` for a remote kernel: its public lifecycle methods
    run ``AsyncKernelManager``'s coroutines of the same names on ``aioloop.BRIDGE`` (see the
    module docstring). jupyter_client's own calls between its methods go to its coroutines,
    so overriding the public methods changes only how a caller waits."""

    #: When the kernel was last seen alive, by `is_alive` (``time.monotonic``); None: seen gone.
    seen_alive: float | None = None

    def make_provisioner(self, factory: KernelProvisionerFactory, kernel_id: str) -> None:
        """The kernelspec's provisioner, made on the loop (see the module docstring)."""
        self.provisioner = BRIDGE.call(factory.create_provisioner_instance, kernel_id, self.kernel_spec, parent=self)

    def start_kernel(self, **kw: Any) -> None:
        BRIDGE.run(AsyncKernelManager.start_kernel(self, **kw))
        self.seen_alive = time.monotonic()

    def request_shutdown(self, restart: bool = False) -> None:
        BRIDGE.run(AsyncKernelManager.request_shutdown(self, restart=restart))

    def finish_shutdown(self, waittime: float | None = None, pollinterval: float = 0.1,
                        restart: bool = False) -> None:
        BRIDGE.run(AsyncKernelManager.finish_shutdown(self, waittime=waittime, pollinterval=pollinterval,
                                                      restart=restart))

    def cleanup_resources(self, restart: bool = False) -> None:
        BRIDGE.run(AsyncKernelManager.cleanup_resources(self, restart=restart))

    def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        BRIDGE.run(AsyncKernelManager.shutdown_kernel(self, now=now, restart=restart))
        self.seen_alive = None

    def restart_kernel(self, now: bool = False, newports: bool = False, **kw: Any) -> None:
        BRIDGE.run(AsyncKernelManager.restart_kernel(self, now=now, newports=newports, **kw))
        self.seen_alive = time.monotonic()

    def interrupt_kernel(self) -> None:
        BRIDGE.run(AsyncKernelManager.interrupt_kernel(self))

    def signal_kernel(self, signum: int) -> None:
        BRIDGE.run(AsyncKernelManager.signal_kernel(self, signum))

    def is_alive(self) -> bool:
        """The provisioner's ``poll()``, on the loop. A poll that says the kernel is gone is
        asked again `CONFIRM_DELAY` later, and only two in a row count: the SSH provisioner's
        poll is a connection to the launcher's listener with a short timeout, which a busy
        machine can miss once, and a kernel taken for dead is restarted, its state lost."""
        alive = bool(BRIDGE.run(AsyncKernelManager.is_alive(self)))
        if not alive and self.has_kernel:
            gevent.sleep(CONFIRM_DELAY)
            alive = bool(BRIDGE.run(AsyncKernelManager.is_alive(self)))
        self.seen_alive = time.monotonic() if alive else None
        return alive
