"""Sessions: a path (notebook or console) bound to a kernel (contract section 6).

Kept in memory, as jupyter_server keeps them by default. A session whose kernel is gone
(shut down, culled, dead) is dropped the next time it is looked at.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from typing import Any

from . import errors
from .kernels import Kernel, KernelRegistry
from .models import SessionModel
from .paths import Root, normalize_api_path


@dataclasses.dataclass
class Session:
    """One session: a path bound to a kernel of the registry (by id, so a session never holds
    a kernel the registry has dropped)."""

    id: str
    path: str
    name: str | None
    #: A PATCH may set ``name`` or ``type`` to null: jupyter_server 2.21 copies both as given.
    type: str | None
    kernel_id: str

    def model(self, kernel_model: dict[str, Any]) -> SessionModel:
        """The wire model, with `kernel_model` (the kernel's own) as ``kernel``. A notebook
        session also carries the legacy ``notebook`` key, as jupyter_server 2.21 sends it."""
        model: SessionModel = {"id": self.id, "path": self.path, "name": self.name, "type": self.type,
                               "kernel": kernel_model}
        if self.type == "notebook":
            model["notebook"] = {"path": self.path, "name": self.name}
        return model


class Sessions:
    def __init__(self, registry: KernelRegistry, root: Root) -> None:
        self.registry = registry
        self.root = root
        self._sessions: dict[str, Session] = {}

    # -- helpers ------------------------------------------------------------------------------

    def kernel_cwd(self, api_path: str, *, is_dir: bool = False) -> str:
        """The kernel's working directory: the path's folder (the path itself if a directory),
        walking up to the nearest folder that exists, never above the root.

        :raises errors.Invalid: the path is outside the root.
        """
        try:
            os_path = self.root.os_path(api_path)
        except errors.NotFound as exc:
            raise errors.Invalid(exc.message) from exc
        cwd = os_path if is_dir or os.path.isdir(os_path) else os.path.dirname(os_path)
        while not os.path.isdir(cwd) and len(cwd) > len(self.root.os_root):
            cwd = os.path.dirname(cwd)
        return cwd if self.root.is_inside(cwd) and os.path.isdir(cwd) else self.root.os_root

    def _env(self, session: Session) -> dict[str, str]:
        os_path = os.path.join(self.root.os_root, *session.path.split("/")) if session.path else \
            self.root.os_root
        return {"JPY_SESSION_NAME": os_path}

    def _live(self, session: Session) -> Kernel | None:
        kernel = self.registry.kernels.get(session.kernel_id)
        if kernel is None:
            self._sessions.pop(session.id, None)
        return kernel

    # -- queries ------------------------------------------------------------------------------

    def list(self) -> list[SessionModel]:
        models = []
        for session in list(self._sessions.values()):
            kernel = self._live(session)
            if kernel is not None:
                models.append(session.model(kernel.model()))
        return models

    def get(self, session_id: str) -> SessionModel:
        session = self._sessions.get(session_id)
        kernel = self._live(session) if session is not None else None
        if session is None or kernel is None:
            raise errors.NotFound(f"Session not found: session_id='{session_id}'")
        return session.model(kernel.model())

    def count_for(self, kernel_id: str) -> int:
        return sum(1 for s in self._sessions.values() if s.kernel_id == kernel_id)

    # -- changes ------------------------------------------------------------------------------

    def create(self, path: str, type_: str, name: str | None, kernel_name: str | None,
               kernel_id: str | None, *, owner: str | None = None, limited: bool = True) -> SessionModel:
        """A new session, or the live one already at `path` (returned unchanged). A kernel it
        starts is `owner`'s (and counts toward their limit unless not `limited`:
        ``KernelRegistry.start_kernel``).

        :raises errors.NotFound: no kernelspec `kernel_name`.
        :raises errors.KernelFailed, errors.LimitReached: from starting the kernel.
        """
        path = normalize_api_path(path)
        for session in list(self._sessions.values()):
            if session.path == path:
                kernel = self._live(session)
                if kernel is not None:
                    return session.model(kernel.model())
        session = Session(id=str(uuid.uuid4()), path=path, name=name, type=type_, kernel_id="")
        kernel = self._kernel_for(session, kernel_name, kernel_id, owner=owner, limited=limited)
        session.kernel_id = kernel.id
        self._sessions[session.id] = session
        return session.model(kernel.model())

    def _kernel_for(self, session: Session, kernel_name: str | None, kernel_id: str | None, *,
                    owner: str | None, limited: bool) -> Kernel:
        if kernel_id and kernel_id in self.registry.kernels:
            return self.registry.kernels[kernel_id]
        return self.registry.start_kernel(kernel_name, cwd=self.kernel_cwd(session.path), kernel_id=kernel_id or None,
                                          env=self._env(session), owner=owner, limited=limited)

    def update(self, session_id: str, changes: dict[str, Any], *, owner: str | None = None,
               limited: bool = True) -> SessionModel:
        """Apply a PATCH: path, name, type, and kernel (``id`` wins over ``name``). A kernel
        it starts is `owner`'s, as in ``create``: started before the old one is shut down,
        as jupyter_server does, so it needs room under the owner's limit.

        Changing the kernel shuts the old one down, as jupyter_server does.
        :raises errors.NotFound: no such session. :raises errors.Invalid: no such kernel id.
        """
        session = self._sessions.get(session_id)
        if session is None or self._live(session) is None:
            raise errors.NotFound(f"Session not found: session_id='{session_id}'")
        old_kernel_id = session.kernel_id
        kernel = changes.get("kernel")
        if isinstance(kernel, dict):
            if kernel.get("id") is not None:
                if not isinstance(kernel["id"], str) or kernel["id"] not in self.registry.kernels:
                    raise errors.Invalid(f"No such kernel: {kernel['id']}")
                session.kernel_id = kernel["id"]
            elif kernel.get("name") is not None:
                started = self.registry.start_kernel(kernel["name"], cwd=self.kernel_cwd(session.path),
                                                     env=self._env(session), owner=owner, limited=limited)
                session.kernel_id = started.id
        if "path" in changes:
            session.path = normalize_api_path(changes["path"])
        if "name" in changes:
            session.name = changes["name"]
        if "type" in changes:
            session.type = changes["type"]
        if session.kernel_id != old_kernel_id:
            try:
                self.registry.shutdown_kernel(old_kernel_id)
            except errors.NotFound:
                pass
        kernel_now = self._live(session)
        if kernel_now is None:
            raise errors.NotFound(f"Session not found: session_id='{session_id}'")
        return session.model(kernel_now.model())

    def delete(self, session_id: str) -> None:
        """Remove the session and shut its kernel down.

        :raises errors.NotFound: no such session.
        """
        session = self._sessions.pop(session_id, None)
        if session is None:
            raise errors.NotFound(f"Session not found: session_id='{session_id}'")
        try:
            self.registry.shutdown_kernel(session.kernel_id)
        except errors.NotFound:
            pass
