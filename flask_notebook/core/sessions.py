"""Sessions: a path (notebook or console) bound to a kernel (contract section 6).

Kept in memory, as jupyter_server keeps them by default, and written through to the store
(``sessions`` table, with this server's name: ``store.Store.server``): a server started again
re-attaches to its kernels (NOTEBOOK_PERSIST_KERNELS) and restores their sessions
(`Sessions.restore`). Queries answer from memory. A session whose kernel is gone (shut down,
culled, dead) is dropped, from both.

Replicas share one database and one server name: every replica's sessions are the rows
``Store.records(sessions_table)`` returns (``server`` = the shared name), each row's
``record`` the `Session` as `Session.record` writes it (its kernel's id, owner, workspace
root). Each replica keeps its own in memory; with a gateway, `list` adds the other replicas'
sessions of gateway kernels (``KernelRegistry.listing``'s), and a request for one of them
(get, change, delete) takes it from the store, its kernel adopted (``KernelRegistry.claim``).
Sessions of another replica's local kernels are never listed here: those kernels run on its
host, and only it can reach them.

A session belongs to the user who made it (``owner``); given a ``user``, the queries and
changes act only on sessions that user may see (``users.User.may_see``: theirs, or all
for an administrator), and one that user may not see is "not found". Paths are relative to
the owner's workspace (`root`, passed per call), so two users' ``Untitled.ipynb`` are two
sessions.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from . import errors
from .kernelrecords import Listed
from .kernels import Kernel, KernelRegistry
from .models import SessionModel
from .paths import Root, normalize_api_path
from .store import Store, sessions_table
from .users import User

log = logging.getLogger(__name__)

#: The workspace root of an owner (None: the server's own user), for restored sessions.
Roots = Callable[[str | None], Root | None]


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
    #: The user who made it (``users.User.username``); None: the server's own user.
    owner: str | None = None
    #: The workspace its path is in (the registry's root by default).
    root: Root | None = None

    def model(self, kernel_model: dict[str, Any]) -> SessionModel:
        """The wire model, with `kernel_model` (the kernel's own) as ``kernel``. A notebook
        session also carries the legacy ``notebook`` key, as jupyter_server 2.21 sends it."""
        model: SessionModel = {"id": self.id, "path": self.path, "name": self.name, "type": self.type,
                               "kernel": kernel_model}
        if self.type == "notebook":
            model["notebook"] = {"path": self.path, "name": self.name}
        return model

    def record(self) -> dict[str, Any]:
        """The session as the store keeps it."""
        return {"id": self.id, "path": self.path, "name": self.name, "type": self.type,
                "kernel_id": self.kernel_id, "owner": self.owner,
                "root": self.root.os_root if self.root is not None else None}


class Sessions:
    def __init__(self, registry: KernelRegistry, root: Root, *, store: Store | None = None,
                 roots: Roots | None = None) -> None:
        self.registry = registry
        self.root = root
        self.store = store
        self.roots = roots
        self._sessions: dict[str, Session] = {}
        registry.on_stop.append(self._kernel_stopped)

    # -- the store ----------------------------------------------------------------------------

    def _save(self, session: Session) -> None:
        """Queue the session's row (the store's writer keeps writes in order: a delete asked
        for later lands later). The answer does not wait for the database: the session is
        served from memory here, and a crash in the milliseconds before the write lands loses
        only its row."""
        if self.store is not None:
            self.store.put_later(sessions_table, session.id, session.record(), what=f"session {session.id}",
                                 kernel_id=session.kernel_id, owner=session.owner)

    def _forget(self, *session_ids: str) -> None:
        if self.store is not None and session_ids:
            try:
                self.store.delete(sessions_table, *session_ids)
            except Exception:
                log.exception("sessions could not be deleted from the store")

    def _kernel_stopped(self, kernel: Kernel, _reason: str) -> None:
        gone = [s.id for s in self._sessions.values() if s.kernel_id == kernel.id]
        for session_id in gone:
            del self._sessions[session_id]
        self._forget(*gone)

    def restore(self, records: Iterable[dict[str, Any]]) -> None:
        """Sessions from the store (`Session.record`'s), of a kernel re-attached after a
        server restart (``persistence.reattach``)."""
        for record in records:
            owner = record.get("owner")
            root = self.root
            if self.roots is not None:
                try:
                    root = self.roots(owner) or self.root
                except errors.NotebookError as exc:
                    log.warning("session %s: no workspace for its owner (%s)", record.get("id"), exc.message)
            session = Session(id=str(record["id"]), path=str(record["path"]), name=record.get("name"),
                              type=record.get("type"), kernel_id=str(record["kernel_id"]), owner=owner,
                              root=root if root is not self.root else None)
            self._sessions[session.id] = session

    # -- helpers ------------------------------------------------------------------------------

    def kernel_cwd(self, api_path: str, *, is_dir: bool = False, root: Root | None = None) -> str:
        """The kernel's working directory: the path's folder (the path itself if a directory),
        walking up to the nearest folder that exists, never above the root (`root`, a user's
        workspace; the registry's by default). A path in a shared folder gives that folder's
        real directory (which the kernel sandbox binds at ``<root>/<name>``).

        :raises errors.Invalid: the path is outside the root.
        """
        root = root or self.root
        try:
            os_path = root.os_path(api_path)
        except errors.NotFound as exc:
            raise errors.Invalid(exc.message) from exc
        base = root.base_of(api_path)
        cwd = os_path if is_dir or os.path.isdir(os_path) else os.path.dirname(os_path)
        while not os.path.isdir(cwd) and len(cwd) > len(base):
            cwd = os.path.dirname(cwd)
        return cwd if root.is_inside(cwd, base) and os.path.isdir(cwd) else root.os_root

    def _env(self, session: Session) -> dict[str, str]:
        root = session.root or self.root
        os_path = os.path.join(root.os_root, *session.path.split("/")) if session.path else root.os_root
        return {"JPY_SESSION_NAME": os_path}

    def _live(self, session: Session) -> Kernel | None:
        kernel = self.registry.kernels.get(session.kernel_id)
        if kernel is None and self._sessions.pop(session.id, None) is not None:
            self._forget(session.id)
        return kernel

    def _find(self, session_id: str, user: User | None) -> tuple[Session, Kernel]:
        """:raises errors.NotFound: no such live session, or one `user` may not see."""
        session = self._sessions.get(session_id) or self._claim(session_id, user)
        kernel = self._live(session) if session is not None else None
        if session is None or kernel is None or (user is not None and not user.may_see(session.owner)):
            raise errors.NotFound(f"Session not found: session_id='{session_id}'")
        return session, kernel

    def _claim(self, session_id: str, user: User | None) -> Session | None:
        """Replicas: another replica's session of a gateway kernel, from the store, its kernel
        adopted here (``KernelRegistry.claim``); None if there is none such."""
        if self.store is None or self.registry.gateway is None:
            return None
        try:
            rows = self.store.records(sessions_table, id=session_id)
        except Exception:
            log.exception("session %s could not be read from the store", session_id)
            return None
        if not rows or (user is not None and not user.may_see(rows[0].get("owner"))) \
                or self.registry.held(str(rows[0].get("kernel_id")), user=user) is None:
            return None
        if session_id not in self._sessions:
            self.restore(rows)
        return self._sessions.get(session_id)

    def _claim_at(self, path: str, owner: str | None, user: User | None) -> SessionModel | None:
        """Replicas: `owner`'s session at `path` that another replica made, if its gateway
        kernel is there (``_claim``: the request may go to the replica holding it); None when
        there is none such."""
        if self.store is None or self.registry.gateway is None:
            return None
        try:
            rows = self.store.records(sessions_table)
        except Exception:
            log.exception("the sessions could not be read from the store")
            return None
        for row in rows:
            if row.get("path") != path or row.get("owner") != owner or str(row.get("id")) in self._sessions:
                continue
            session = self._claim(str(row.get("id")), user)
            kernel = self._live(session) if session is not None else None
            if session is not None and kernel is not None:
                return session.model(kernel.model())
        return None

    def _elsewhere(self, user: User | None, kernels: dict[str, dict[str, Any]]) -> list[SessionModel]:
        """The other replicas' sessions of the gateway kernels `kernels` (id -> model), from
        the store, that `user` may see."""
        if self.store is None or not kernels:
            return []
        try:
            rows = self.store.records(sessions_table)
        except Exception:
            log.exception("the sessions could not be read from the store")
            return []
        models: list[SessionModel] = []
        for row in rows:
            kernel_model = kernels.get(str(row.get("kernel_id")))
            if kernel_model is None or str(row.get("id")) in self._sessions:
                continue
            if user is not None and not user.may_see(row.get("owner")):
                continue
            session = Session(id=str(row["id"]), path=str(row.get("path") or ""), name=row.get("name"),
                              type=row.get("type"), kernel_id=str(row["kernel_id"]), owner=row.get("owner"))
            models.append(session.model(kernel_model))
        return models

    # -- queries ------------------------------------------------------------------------------

    def list(self, user: User | None = None, *,
             held_elsewhere: Callable[[list[Listed]], dict[str, dict[str, Any]]] | None = None) -> list[SessionModel]:
        """Every live session, or those `user` may see (once the sessions of kernels being
        re-attached at start-up are restored).

        :param held_elsewhere: replicas: the models of kernels other replicas hold, as their
            holders give them (the web layer asks them); else as their records tell.
        """
        self.registry.await_reattached()
        shown = None
        if self.registry.gateway is not None:
            found = self.registry.listing(None)
            held = held_elsewhere([k for k in found if isinstance(k, Listed)]) if held_elsewhere else {}
            shown = {k.id: held.get(k.id) or k.model() for k in found}
        models = []
        for session in list(self._sessions.values()):
            if user is not None and not user.may_see(session.owner):
                continue
            kernel = self._live(session)
            if kernel is not None and (shown is None or kernel.id in shown):
                models.append(session.model(kernel.model()))
        if shown is not None:
            models += self._elsewhere(user, shown)
        return models

    def get(self, session_id: str, user: User | None = None) -> SessionModel:
        """:raises errors.NotFound: no such session, or one `user` may not see."""
        session, kernel = self._find(session_id, user)
        return session.model(kernel.model())

    def ids(self) -> set[str]:
        """The ids of the sessions held (live or not)."""
        return set(self._sessions)

    def owner_of(self, session_id: str) -> str | None:
        session = self._sessions.get(session_id)
        if session is None and self.store is not None and self.registry.gateway is not None:
            rows = self.store.records(sessions_table, id=session_id)  # another replica's
            return rows[0].get("owner") if rows else None
        return session.owner if session is not None else None

    def count_for(self, kernel_id: str) -> int:
        return sum(1 for s in self._sessions.values() if s.kernel_id == kernel_id)

    # -- changes ------------------------------------------------------------------------------

    def create(self, path: str, type_: str, name: str | None, kernel_name: str | None,
               kernel_id: str | None, *, user: User | None = None, owner: str | None = None,
               root: Root | None = None, limited: bool = True, env: dict[str, str] | None = None) -> SessionModel:
        """A new session of `owner`'s, or `owner`'s live one already at `path` (returned
        unchanged). `user` (who asks) may use a running kernel `kernel_id` if they may see it.
        A kernel it starts is `owner`'s, and counts toward their limit unless not `limited`
        (``KernelRegistry.start_kernel``).

        :param root: the workspace `path` is in (the registry's root by default).
        :param env: variables for a kernel it starts (the client's, checked: ``gateway.check_env``).
        :raises errors.NotFound: no kernelspec `kernel_name`.
        :raises errors.Conflict: `kernel_id` is a kernel `user` may not see.
        :raises errors.KernelFailed, errors.LimitReached: from starting the kernel.
        """
        path = normalize_api_path(path)
        for session in list(self._sessions.values()):
            if session.path == path and session.owner == owner:  # an owner has one workspace
                kernel = self._live(session)
                if kernel is not None:
                    return session.model(kernel.model())
        found = self._claim_at(path, owner, user)
        if found is not None:
            return found
        session = Session(id=str(uuid.uuid4()), path=path, name=name, type=type_, kernel_id="", owner=owner,
                          root=root)
        kernel = self._kernel_for(session, kernel_name, kernel_id, user, limited=limited, env=env)
        session.kernel_id = kernel.id
        self._sessions[session.id] = session
        self._save(session)
        return session.model(kernel.model())

    def _kernel_for(self, session: Session, kernel_name: str | None, kernel_id: str | None,
                    user: User | None, *, limited: bool, env: dict[str, str] | None = None) -> Kernel:
        if kernel_id:
            self.registry.await_reattach(kernel_id)
        running = self.registry.held(kernel_id, user=user) if kernel_id else None
        if running is not None and (user is None or user.may_see(running.owner)):
            return running
        return self.registry.start_kernel(kernel_name, cwd=self.kernel_cwd(session.path, root=session.root),
                                          kernel_id=kernel_id or None, env={**(env or {}), **self._env(session)},
                                          owner=session.owner, limited=limited)

    def update(self, session_id: str, changes: dict[str, Any], *, user: User | None = None,
               limited: bool = True) -> SessionModel:
        """Apply a PATCH: path, name, type, and kernel (``id`` wins over ``name``). A new
        kernel is started before the old one is shut down, as jupyter_server does, so it needs
        room under the owner's limit (unless not `limited`).

        Changing the kernel shuts the old one down, as jupyter_server does. A new kernel
        (``name``) is the session owner's.
        :raises errors.NotFound: no such session, or one `user` may not see.
        :raises errors.Invalid: no such kernel id (or one `user` may not see).
        """
        session, _ = self._find(session_id, user)
        old_kernel_id = session.kernel_id
        kernel = changes.get("kernel")
        if isinstance(kernel, dict):
            if kernel.get("id") is not None:
                running = self.registry.held(kernel["id"], user=user) if isinstance(kernel["id"], str) else None
                if running is None or (user is not None and not user.may_see(running.owner)):
                    raise errors.Invalid(f"No such kernel: {kernel['id']}")
                session.kernel_id = kernel["id"]
            elif kernel.get("name") is not None:
                started = self.registry.start_kernel(kernel["name"],
                                                     cwd=self.kernel_cwd(session.path, root=session.root),
                                                     env=self._env(session), owner=session.owner, limited=limited)
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
        self._save(session)
        return session.model(kernel_now.model())

    def delete(self, session_id: str, *, user: User | None = None) -> None:
        """Remove the session and shut its kernel down.

        :raises errors.NotFound: no such session, or one `user` may not see.
        """
        session = self._sessions.get(session_id) or self._claim(session_id, user)
        if session is None or (user is not None and not user.may_see(session.owner)):
            raise errors.NotFound(f"Session not found: session_id='{session_id}'")
        del self._sessions[session_id]
        self._forget(session_id)
        try:
            self.registry.shutdown_kernel(session.kernel_id)
        except errors.NotFound:
            pass
