"""``flask-notebook-ssh``: gateway_provisioners' SSH ``DistributedProvisioner``, with a process
check over SSH that its launcher's listener cannot give.

The stock provisioner knows a remote kernel only through the listener that its launcher
(``launch_ipykernel.py``) forks: ``poll()`` is a "signal 0" the listener answers with
``os.kill(kernel_pid, 0)``, and ``terminate``/``kill`` are signals it relays. Two things break
that with ipykernel 7 (measured, see tests/remote):

- Shutdown. On a ``shutdown_request`` ipykernel terminates its children
  (``_progressively_terminate_all_children``): the listener, a non-daemon ``multiprocessing``
  child, takes the SIGTERM and exits, but stays an unreaped zombie of the kernel, which psutil
  still lists, so the kernel waits out both rounds of its schedule (SIGTERM, SIGKILL: 29 s)
  before it exits. Meanwhile the listener is gone: ``poll()`` says the kernel is, and ``kill()``
  has nothing to relay its signal through. A restart left the old kernel running for 29 s (or
  for good, had it hung).
- Death. A kernel SIGKILLed on a host whose init does not reap orphans (a container without
  one; the kernel is orphaned as soon as the SSH session that started it with ``nohup ... &``
  ends) stays a zombie, which ``os.kill(pid, 0)`` still finds: ``poll()`` said it was alive,
  for ever, and its orphaned listener ran on.

So this provisioner asks the host itself, over SSH as the launch did (the same user, key or
password, ``GP_SSH_PORT``): ``poll()`` checks the process state (``ps -o stat=``; gone or a
zombie is dead) whenever the listener does not answer, and at most every `CHECK_INTERVAL`
seconds while it does; ``terminate``/``kill`` signal the kernel's process group (launcher,
listener, what the kernel started: the SSH session made it a group of its own) over SSH. A
host the provisioner launched on locally (no SSH) keeps the stock behaviour.

The SSH calls block the provisioners' loop (``aioloop.BRIDGE``) for their round trip, as the
stock launch does: never the server's hub.
"""

from __future__ import annotations

import logging
import shlex
import signal
import time
from typing import Any

import paramiko
from gateway_provisioners.config_mixin import ssh_port
from gateway_provisioners.distributed import DistributedProvisioner

log = logging.getLogger(__name__)

#: Seconds between two process checks over SSH while the listener answers (a SIGKILLed kernel
#: is found dead within this, plus the registry's confirmation).
CHECK_INTERVAL = 3.0
#: Seconds an SSH connection or command may take.
SSH_TIMEOUT = 10.0


class SshProvisioner(DistributedProvisioner):  # type: ignore[misc]  # gateway_provisioners is untyped
    """See the module docstring."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._checked_at = 0.0
        self._gone_pid: int | None = None  # a pid found gone: dead for good

    def _over_ssh(self) -> bool:
        return self.local_proc is None and bool(self.pid) and bool(self.assigned_ip)

    async def poll(self) -> int | None:
        if not self._over_ssh():
            return await super().poll()  # type: ignore[no-any-return]
        pid = int(self.pid)
        if self._gone_pid == pid:
            return 0
        listener = await super().poll()
        now = time.monotonic()
        if listener is None and now - self._checked_at < CHECK_INTERVAL:
            return None
        self._checked_at = now
        running = self._running(pid)
        if running is None:  # the host did not answer: the listener's word
            return listener  # type: ignore[no-any-return]
        if running:
            return None
        self._gone_pid = pid
        return 0

    async def terminate(self, restart: bool = False) -> None:
        if not self._over_ssh():
            await super().terminate(restart=restart)
            return
        self._signal(signal.SIGTERM)

    async def kill(self, restart: bool = False) -> None:
        if not self._over_ssh():
            await super().kill(restart=restart)
            return
        if self._gone_pid == int(self.pid):
            self._signal(signal.SIGKILL, group_only=True)  # what it left: its orphaned listener
            return
        running = self._signal(signal.SIGKILL)
        if running is False:
            self._gone_pid = int(self.pid)

    def _signal(self, signum: int, group_only: bool = False) -> bool | None:
        """Send `signum` to the kernel's process group and the kernel over SSH; whether the
        kernel is still running just after (None: unknown)."""
        pid = int(self.pid)
        pgid = int(self.pgid or 0)
        commands = [f"kill -{int(signum)} -{pgid}"] if pgid > 1 else []
        if not group_only:
            commands.append(f"kill -{int(signum)} {pid}")
        script = "; ".join(f"{c} 2>/dev/null" for c in commands) + f"; sleep 0.2; ps -o stat= -p {pid}"
        return self._state(script)

    def _running(self, pid: int) -> bool | None:
        """Whether `pid` runs on the host (not gone, not a zombie); None: the host did not answer."""
        return self._state(f"ps -o stat= -p {pid}")

    def _state(self, script: str) -> bool | None:
        try:
            output = self._run(script)
        except Exception as exc:
            log.warning("kernel %s: its host %s did not answer over SSH: %s", self.kernel_id, self.assigned_host, exc)
            return None
        state = output.strip()
        return bool(state) and not state.startswith("Z")

    def _run(self, script: str) -> str:
        """The output of `script` run on the kernel's host by ``sh``, over SSH as the launch."""
        client = paramiko.SSHClient()
        try:
            client.load_system_host_keys()
            if self.use_gss:
                client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
                client.connect(self.assigned_ip, port=ssh_port, gss_auth=True, timeout=SSH_TIMEOUT)
            else:
                client.set_missing_host_key_policy(paramiko.RejectPolicy())
                client.connect(self.assigned_ip, port=ssh_port, username=self.remote_user,
                               password=self.remote_pwd or None, timeout=SSH_TIMEOUT,
                               banner_timeout=SSH_TIMEOUT, auth_timeout=SSH_TIMEOUT)
            _, stdout, _ = client.exec_command(f"sh -c {shlex.quote(script)}", timeout=SSH_TIMEOUT)
            return str(stdout.read().decode(errors="replace"))
        finally:
            client.close()
