"""Kernels on a Jupyter Enterprise Gateway or Kernel Gateway (``NOTEBOOK_GATEWAY_URL``).

One seam below the registry: `GatewayProvisioner`, a jupyter_client kernel provisioner
registered as ``flask-notebook-gateway`` (pyproject.toml), is the registry's default
provisioner when a gateway is set, and `GatewayKernelspecs` lists the gateway's kernelspecs
in place of the local ones. Everything above the registry (sessions, the WebSocket relay,
REST execution, runs, the pool, culling, ownership) sees kernels as before: the provisioner
starts a `gatewaybridge.Bridge`, local ZMQ sockets that carry the kernel's channels over one
WebSocket to the gateway, and returns its connection info.

The gateway's REST calls (start, interrupt, restart, delete) may take long (a kernel pod
starting takes seconds): the registry calls them outside ``kernels.LIFECYCLE``'s lock, through
`remote` (`create`, `interrupt`, `restart`, `delete`); the provisioner's own async methods
make the same calls only when nobody did first, so that it also works as a plain provisioner.
A gateway kernel has no autorestart here: the gateway restarts a kernel process that dies. A
kernel the gateway no longer knows (404: it was restarted, or culled it) is gone, and the
provisioner's `on_gone` says so (the registry declares it dead, with the reason). Whether it
is there is asked every `POLL_INTERVAL` seconds, at once when its WebSocket drops, and every
`RETRY_INTERVAL` seconds while the gateway cannot be reached; never on a request's path.

What the gateway gets, as jupyter_server 2.21's gateway client sends it: ``{"name", "env"}``
where env holds this process's ``KERNEL_*`` variables, ``KERNEL_LAUNCH_TIMEOUT`` (the request
timeout less 2 s), ``KERNEL_WORKING_DIR`` (the kernel's folder here), ``KERNEL_USERNAME`` (the
owner's name; the server's user for the server's own kernels), and the variables a client
set that ``NOTEBOOK_GATEWAY_KERNEL_ENV`` allows (`check_env`).
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel
from jupyter_client.manager import KernelManager
from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase

from . import errors
from .gatewaybridge import Bridge, session_id
from .gatewayclient import GatewayClient, GatewayError, Unreachable
from .kernelspecs import Kernelspecs

log = logging.getLogger(__name__)

#: The entry point name (pyproject.toml's ``jupyter_client.kernel_provisioners``).
NAME = "flask-notebook-gateway"

POLL_INTERVAL = 10.0
RETRY_INTERVAL = 2.0
#: How long the gateway's kernelspecs are taken as they were last read.
SPECS_TTL = 5.0
#: A client-set variable's value: at most this many characters, none of them control characters.
MAX_ENV_VALUE = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_env(env: Any, allowed: frozenset[str]) -> dict[str, str]:
    """The kernel variables a client asked for (``"env"``), if every one is allowed.

    Enterprise Gateway substitutes ``KERNEL_*`` values into launch commands and pod
    templates (it had injection bugs through them): only names in `allowed`, string values of
    at most `MAX_ENV_VALUE` characters, no control characters.

    :raises errors.Invalid: anything else (the API's 400).
    """
    if env is None:
        return {}
    if not isinstance(env, dict):
        raise errors.Invalid("'env' must be an object of variable names to strings", reason="bad field: env")
    for name, value in env.items():
        if name not in allowed:
            shown = name if len(name) <= 64 and not _CONTROL.search(name) else repr(name[:64])
            raise errors.Invalid(f"The kernel variable {shown} may not be set; NOTEBOOK_GATEWAY_KERNEL_ENV lists "
                                 f"those that may ({', '.join(sorted(allowed)) or 'none'})",
                                 reason="env variable not allowed")
        if not isinstance(value, str) or len(value) > MAX_ENV_VALUE or _CONTROL.search(value):
            raise errors.Invalid(f"The value of {name} must be a string of at most {MAX_ENV_VALUE} characters, "
                                 "without control characters", reason="bad env value")
    return dict(env)


def kernel_env(env: Any, allowed: frozenset[str], *, gateway: bool) -> dict[str, str] | None:
    """What a client's ``"env"`` gives a kernel: with a gateway, `check_env`'s answer; without,
    nothing (jupyter_server ignores it: local kernels take no variables from clients).

    :raises errors.Invalid: see `check_env`.
    """
    return check_env(env, allowed) if gateway else None


def username(owner: str | None) -> str:
    """The ``KERNEL_USERNAME`` a kernel of `owner` gets (None: the server's own user)."""
    return owner or os.environ.get("KERNEL_USERNAME") or getpass.getuser()


def remote(km: KernelManager) -> GatewayProvisioner | None:
    """The kernel's gateway provisioner, if it is a gateway kernel."""
    made = km.provisioner
    return made if isinstance(made, GatewayProvisioner) else None


class RemoteProcess:
    """What the registry and the pool read of a kernel's process (``Popen``'s ``poll``,
    ``returncode``, ``pid``; ``result`` for ``kernels.wait_for_exit``), for a gateway kernel:
    it "runs" until the gateway no longer has the kernel."""

    pid = None

    def __init__(self) -> None:
        self.returncode: int | None = None
        self.result = Event()

    def poll(self) -> int | None:
        return self.returncode

    def ended(self) -> None:
        if self.returncode is None:
            self.returncode = 1
        self.result.set()

    def kill(self) -> None:
        """Nothing: the provisioner deletes the kernel on the gateway."""


class GatewayProvisioner(KernelProvisionerBase):
    """A kernel on the gateway (see the module docstring). `client` is set by the registry
    before the launch (``NOTEBOOK_GATEWAY_*``); `on_gone` is called once with the reason when
    the gateway no longer has the kernel."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client: GatewayClient | None = None
        self.remote_id: str | None = None
        self.process: RemoteProcess | None = None
        self.bridge: Bridge | None = None
        self.on_gone: Callable[[str], None] | None = None
        #: This replica's name (its gateway session: ``gatewaybridge.session_id``), set by the
        #: registry with `client`.
        self.replica = ""
        #: Adopting a kernel whose holder died: the gateway session it was connected with
        #: (``gatewaybridge.session_id``, or one it had taken over itself), for its clients' replay.
        self.drain_session: str | None = None
        #: Serving another replica's kernel for a request it forwarded: this replica's
        #: connection is one of a kind (a session of its own, never kept for it by the gateway).
        self.visitor = False
        #: Told when the bridge takes the dead replica's session over (``gatewaybridge``).
        self.on_drain: Callable[[], None] | None = None
        #: Told when the bridge's connection to the gateway is first open (its record then
        #: says ``bridged``: the gateway keeps what comes for its session once it goes).
        self.on_open: Callable[[], None] | None = None
        self._deleted = False
        self._restart_next = False
        self._check = Event()
        self._watcher: Any = None

    # -- the gateway's REST calls (the registry makes them outside the lifecycle lock) ----------

    def _client(self) -> GatewayClient:
        if self.client is None:
            raise RuntimeError("no gateway is configured (NOTEBOOK_GATEWAY_URL)")
        return self.client

    def create(self, *, env: dict[str, str] | None = None, owner: str | None = None, cwd: str | None = None) -> str:
        """Start the kernel on the gateway (once); its id there.

        :raises Unreachable: the gateway could not be reached or did not answer in time.
        :raises GatewayError: the gateway refused (its message says why).
        """
        if self.remote_id is not None:
            return self.remote_id
        client = self._client()
        payload = {k: v for k, v in os.environ.items() if k.startswith("KERNEL_")}
        payload["KERNEL_LAUNCH_TIMEOUT"] = payload.get("KERNEL_LAUNCH_TIMEOUT") or str(client.launch_timeout)
        if cwd:
            payload["KERNEL_WORKING_DIR"] = cwd
        payload.update(env or {})
        payload["KERNEL_USERNAME"] = username(owner)
        model = client.request("POST", client.path("api", "kernels"),
                               {"name": self.kernel_spec.name if self.kernel_spec else None, "env": payload})
        if not isinstance(model, dict) or not isinstance(model.get("id"), str):
            raise GatewayError(f"The kernel gateway {client.url} answered a kernel start without a kernel id",
                               status=502, reason="gateway error")
        self.remote_id = model["id"]
        self.process = RemoteProcess()
        self._deleted = False
        log.info("kernel %s runs on the gateway as %s (KERNEL_USERNAME=%s)", self.kernel_id, self.remote_id,
                 payload["KERNEL_USERNAME"])
        return self.remote_id

    def interrupt(self) -> None:
        """:raises Unreachable, GatewayError: as `create`."""
        if self.remote_id is not None and not self._deleted:
            client = self._client()
            client.request("POST", client.path("api", "kernels", self.remote_id, "interrupt"))

    def restart(self) -> None:
        """Restart the kernel on the gateway: same id, same channels WebSocket.

        :raises Unreachable, GatewayError: as `create` (404: the gateway no longer has it).
        """
        if self.remote_id is None:
            return
        client = self._client()
        try:
            client.request("POST", client.path("api", "kernels", self.remote_id, "restart"))
        except GatewayError as exc:
            if exc.status == 404:
                self._gone()
            raise

    def delete(self) -> None:
        """Shut the kernel down on the gateway (once); failures are logged, not raised."""
        if self.remote_id is None or self._deleted:
            return
        self._deleted = True
        client = self._client()
        try:
            client.request("DELETE", client.path("api", "kernels", self.remote_id))
        except GatewayError as exc:
            if exc.status != 404:
                log.warning("kernel %s: the gateway did not shut down its kernel %s: %s", self.kernel_id,
                            self.remote_id, exc.message)
        except Unreachable as exc:
            log.warning("kernel %s: its gateway kernel %s could not be shut down: %s", self.kernel_id,
                        self.remote_id, exc.message)
        if self.process is not None:
            self.process.ended()

    # -- the provisioner API ------------------------------------------------------------------------

    @property
    def has_process(self) -> bool:
        return self.remote_id is not None and not self._deleted and self.process is not None \
            and self.process.returncode is None

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        kwargs = await super().pre_launch(**kwargs)
        kwargs["cmd"] = list(self.kernel_spec.argv) if self.kernel_spec else []
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        if self._restart_next:
            self._restart_next = False
            self.restart()
        elif self.remote_id is None:
            env = {k: v for k, v in (kwargs.get("env") or {}).items() if k.startswith("KERNEL_")}
            self.create(env=env, cwd=kwargs.get("cwd"))
        if self.bridge is None:
            km = self.parent
            key = km.session.key if km is not None else b""
            assert self.remote_id is not None
            self.bridge = self._bridge(self._client(), key, km.session.signature_scheme if km is not None else "hmac-sha256")
            self._watcher = gevent.spawn(self._watch)
        return dict(self.bridge.info)  # type: ignore[return-value]  # jupyter_client's dict of connection info

    async def poll(self) -> int | None:
        return self.process.returncode if self.process is not None else 0

    async def wait(self) -> int | None:
        return await self.poll()

    async def send_signal(self, signum: int) -> None:
        if signum:  # 0 asks whether it runs: `poll` answers that
            self.interrupt()

    async def kill(self, restart: bool = False) -> None:
        if restart:
            self._restart_next = True  # launch_kernel restarts it on the gateway
        else:
            self.delete()

    async def terminate(self, restart: bool = False) -> None:
        await self.kill(restart=restart)

    async def cleanup(self, restart: bool = False) -> None:
        if restart:
            return
        self._stop_watching()
        if self.bridge is not None:
            self.bridge.close()
            self.bridge = None

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        return 0.0

    async def get_provisioner_info(self) -> dict[str, Any]:
        info: dict[str, Any] = await super().get_provisioner_info()
        info["remote_id"] = self.remote_id
        info["bridged"] = self.bridge is not None and self.bridge.opened
        # The session the gateway keeps what the kernel sends for, once this connection goes.
        info["session"] = self.bridge.session if self.bridge is not None else None
        return info

    async def load_provisioner_info(self, provisioner_info: dict[str, Any]) -> None:
        """The kernel another server (this one's predecessor, or another replica) started on
        the gateway: its id there, and a bridge of this process's to its channels (the
        recorded connection info is the other server's bridge: ``connection_info`` becomes
        this one's). Call it once the kernel manager has the kernel's key."""
        await super().load_provisioner_info(provisioner_info)
        self.remote_id = provisioner_info.get("remote_id")
        if self.remote_id is not None:
            self.process = RemoteProcess()
            if self.client is not None and self.bridge is None:
                km = self.parent
                self.bridge = self._bridge(self.client, km.session.key if km is not None else b"",
                                           km.session.signature_scheme if km is not None else "hmac-sha256")
                self.connection_info = dict(self.bridge.info)  # type: ignore[assignment]
                self._watcher = gevent.spawn(self._watch)

    def _bridge(self, client: GatewayClient, key: bytes, signature_scheme: str) -> Bridge:
        assert self.remote_id is not None
        remote_id = self.remote_id
        return Bridge(client, remote_id, key=key, on_down=self._check.set, signature_scheme=signature_scheme,
                      session=(uuid.uuid4().hex if self.visitor else
                               session_id(self.replica, remote_id) if self.replica else None),
                      drain_session=self.drain_session,
                      on_drain=self._drained, on_open=self._opened)

    def _opened(self) -> None:
        if self.on_open is not None:
            self.on_open()

    def _drained(self) -> None:
        if self.on_drain is not None:
            self.on_drain()

    def check(self) -> None:
        """Ask the gateway whether it still has the kernel, now (in the background)."""
        self._check.set()

    def exists(self) -> bool | None:
        """Whether the gateway has the kernel: None when it cannot say (unreachable, an error)."""
        if self.remote_id is None or self.client is None:
            return False
        try:
            self.client.request("GET", self.client.path("api", "kernels", self.remote_id),
                                timeout=min(self.client.request_timeout, 10.0))
        except GatewayError as exc:
            return False if exc.status in (404, 410) else None
        except Unreachable:
            return None
        return True

    def detach(self) -> None:
        """Let the kernel go without shutting it down (another replica's, or one this server
        leaves running): no more requests to the gateway, the bridge closed."""
        self._deleted = True
        self._stop_watching()
        if self.bridge is not None:
            self.bridge.close()
            self.bridge = None
        if self.process is not None:
            self.process.ended()

    # -- is it still there? ---------------------------------------------------------------------------

    def _watch(self) -> None:
        interval = POLL_INTERVAL
        while self.remote_id is not None and not self._deleted:
            self._check.wait(timeout=interval)
            self._check.clear()
            if self._deleted or self.client is None:
                return
            try:
                self.client.request("GET", self.client.path("api", "kernels", self.remote_id),
                                    timeout=min(self.client.request_timeout, 10.0))
            except GatewayError as exc:
                if exc.status in (404, 410):
                    self._gone()
                    return
                interval = RETRY_INTERVAL
            except Unreachable as exc:
                log.warning("kernel %s: its gateway cannot be reached (%s); asking again in %g s", self.kernel_id,
                            exc.message, RETRY_INTERVAL)
                interval = RETRY_INTERVAL
            else:
                up = self.bridge is not None and self.bridge.ws is not None
                interval = POLL_INTERVAL if up else RETRY_INTERVAL

    def _gone(self) -> None:
        if self._deleted:
            return
        self._deleted = True
        reason = (f"The kernel gateway no longer has this kernel ({self.remote_id}): the gateway was restarted, "
                  "or it shut the kernel down")
        log.error("kernel %s: %s", self.kernel_id, reason)
        if self.process is not None:
            self.process.ended()
        if self.on_gone is not None:
            self.on_gone(reason)

    def _stop_watching(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not gevent.getcurrent():
            watcher.kill(block=False)


# -- kernelspecs ------------------------------------------------------------------------------------


class GatewaySpecManager(KernelSpecManager):
    """jupyter_client's kernelspec manager over the gateway's kernelspecs: what a
    ``KernelManager`` reads of its kernel's spec. ``find_kernel_specs`` and ``get_kernel_spec``
    are the class's public methods, meant to be overridden (jupyter_server's gateway does too).
    A spec that names a provisioner of its own is the gateway's business: it is left out here,
    so that every kernel starts through `GatewayProvisioner`."""

    specs: Callable[[], dict[str, dict[str, Any]]] | None = None

    def find_kernel_specs(self) -> dict[str, str]:
        return {name: "" for name in (self.specs() if self.specs else {})}

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        found = (self.specs() if self.specs else {}).get(kernel_name.lower())
        if found is None:
            raise NoSuchKernel(kernel_name)
        spec = dict(found["spec"])
        metadata = {k: v for k, v in (spec.get("metadata") or {}).items() if k != "kernel_provisioner"}
        fields = {k: spec[k] for k in ("argv", "display_name", "language", "interrupt_mode", "env") if k in spec}
        return KernelSpec(resource_dir="", name=kernel_name.lower(), metadata=metadata, **fields)


class GatewayKernelspecs(Kernelspecs):
    """The gateway's kernelspecs (``GET /api/kernelspecs``, read at most every `SPECS_TTL`
    seconds), and their resources (``/kernelspecs/<name>/<file>``), fetched from it."""

    def __init__(self, client: GatewayClient, *, default_name: str) -> None:
        super().__init__(default_name=default_name)
        self.client = client
        self.manager = GatewaySpecManager()
        self.manager.specs = self._specs
        self._cache: dict[str, dict[str, Any]] = {}
        self._read_at = 0.0

    def _specs(self) -> dict[str, dict[str, Any]]:
        """{name: {"name", "spec", "resource_files"}}.

        :raises Unreachable, GatewayError: the gateway could not be asked.
        """
        if time.monotonic() - self._read_at < SPECS_TTL:
            return self._cache
        body = self.client.request("GET", self.client.path("api", "kernelspecs"))
        specs: dict[str, dict[str, Any]] = {}
        listed = body.get("kernelspecs") if isinstance(body, dict) else None
        for name, model in (listed or {}).items():
            if not isinstance(model, dict) or not isinstance(model.get("spec"), dict):
                continue
            resources = model.get("resources")
            files = {key: url.rsplit("/", 1)[-1] for key, url in (resources or {}).items() if isinstance(url, str)} \
                if isinstance(resources, dict) else {}
            specs[name.lower()] = {"name": name.lower(), "spec": model["spec"], "resource_files": files}
        self._cache, self._read_at = specs, time.monotonic()
        return specs

    def all_specs(self) -> dict[str, dict[str, Any]]:
        return dict(self._specs())

    def get_spec(self, name: str, *, resource_dir: str | None = None) -> dict[str, Any]:
        spec = self._specs().get(name.lower())
        if spec is None:
            raise errors.NotFound(f"Kernel spec {name.lower()} not found on the kernel gateway")
        return spec

    def resource_dir(self, name: str) -> str:
        raise errors.NotFound(f"Kernel spec {name} has its resources on the kernel gateway")

    def resource(self, name: str, filename: str) -> tuple[bytes, str]:
        """A resource file of a kernelspec, from the gateway: (bytes, content type).

        :raises errors.NotFound: no such spec or file there.
        :raises Unreachable: the gateway could not be asked.
        """
        try:
            data: tuple[bytes, str] = self.client.request("GET", self.client.path("kernelspecs", name, *filename.split("/")),
                                                          raw=True)
        except GatewayError as exc:
            raise errors.NotFound(f"Kernel spec resource {name}/{filename} not found on the kernel gateway") from exc
        return data
