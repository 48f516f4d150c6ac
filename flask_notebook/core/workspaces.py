"""Workspaces: what a user's files are, and what goes with them.

A ``Workspace`` is one user's root (``paths.Root``, with the shared folders), the contents
manager over it (checkpoints, uploads and listings come with it), the trust database of
notebook signatures, and the ``/api/config`` sections. ``Workspaces.for_user`` gives each
user theirs when ``NOTEBOOK_USER_ROOT`` is set; without it, and always for the server's own
user (the standalone token or password), it is the one workspace of ``NOTEBOOK_ROOT_DIR``,
shared by everyone, as before users had workspaces.

Trust databases live in the server's data directory (``<data_dir>/flask_notebook/users/
<sha256 of the name>``), never in the workspace: the user's kernels may write anything there,
and a signature store they could write would let them mark any output trusted.

No web library here: the blueprints ask for the request's user's workspace
(``blueprints.ownership.workspace``). The kernel sandbox reads ``Workspace.os_root`` and
``Workspace.shared`` to know what to bind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors, notebooks
from .config import ConfigSections
from .contents import ContentsManager
from .dircache import ListingCache
from .paths import Root
from .users import User, workspace_path

log = logging.getLogger(__name__)

#: Workspaces kept open at once (each holds a SQLite connection and some caches). Past it,
#: the least recently used are closed; they reopen, as they were on disk, when next used.
MAX_OPEN = 256
#: A workspace used this recently is not closed even past ``MAX_OPEN``: a request of its user
#: may still be working with it (a read in a worker thread, then its trust check).
MIN_IDLE = 120.0
#: The shared listing cache watches this many directories, for every user together.
LISTING_DIRS = 256


@dataclass(eq=False)
class Workspace:
    """One user's files, and what goes with them."""

    #: The user it belongs to; None for the server's own, ``NOTEBOOK_ROOT_DIR``.
    username: str | None
    root: Root
    contents: ContentsManager
    notary: notebooks.Notary
    config_sections: ConfigSections
    last_used: float = field(default_factory=time.monotonic)

    @property
    def os_root(self) -> str:
        """The real path of the user's folder (the kernels' working directory by default)."""
        return self.root.os_root

    @property
    def shared(self) -> dict[str, str]:
        """Shared folders by the name they have at the top of the tree -> their real paths,
        shown read-only (``contents.ContentsManager.check_not_shared``)."""
        return self.root.shared

    def close(self) -> None:
        self.notary.close()
        self.contents.close()


class Workspaces:
    """Every user's workspace, made on first use and kept open while used.

    :param user_root: NOTEBOOK_USER_ROOT (a template with ``{username}``, or a callable), or
        None: everyone works in the shared workspace of `root_dir`.
    :param shared_dirs: NOTEBOOK_SHARED_DIRS, the read-only folders every workspace shows.
    :param data_dir: where trust databases and config sections are kept.
    :param shared: the workspace of `root_dir`, made by the caller (the app keeps using its
        parts as before).
    """

    def __init__(self, shared: Workspace, *, user_root: str | Callable[[User], Any] | None,
                 shared_dirs: dict[str, str], data_dir: str, allow_hidden: bool, hide_globs: list[str],
                 listing_cache: bool, max_open: int = MAX_OPEN, min_idle: float = MIN_IDLE) -> None:
        self.shared = shared
        self.user_root = user_root
        self.shared_dirs = dict(shared_dirs)
        self.data_dir = data_dir
        self.allow_hidden = allow_hidden
        self.hide_globs = list(hide_globs)
        self.max_open = max_open
        self.min_idle = min_idle
        # One inotify descriptor for every user's listings: the system allows each of its
        # users only 128 (fs.inotify.max_user_instances), and a server may have thousands.
        self._listing_cache: ListingCache | None = None
        if listing_cache and user_root is not None:
            cache = ListingCache(max_dirs=LISTING_DIRS)
            self._listing_cache = cache if cache.enabled else None
        self._open: OrderedDict[str, Workspace] = OrderedDict()
        self._closed = False

    @property
    def per_user(self) -> bool:
        """Whether users have workspaces of their own (NOTEBOOK_USER_ROOT is set)."""
        return self.user_root is not None

    def for_user(self, user: User) -> Workspace:
        """`user`'s workspace, made (folder 0700, trust database, config store) if it is new.

        :raises errors.Forbidden: the user name cannot name a folder (``users.validate_username``).
        :raises errors.Unavailable: the folder cannot be made.
        """
        if self.user_root is None or user.server:
            return self.shared
        workspace = self._open.get(user.username)
        if workspace is not None:
            self._open.move_to_end(user.username)
            workspace.last_used = time.monotonic()
            return workspace
        if self._closed:
            raise errors.Unavailable("The server is shutting down", reason="shutting down")
        try:
            os_root = workspace_path(self.user_root, user)
        except errors.Invalid as exc:
            raise errors.Forbidden(f"No workspace for this user: {exc.message}", reason="bad user name") from None
        workspace = self._open_workspace(user.username, os_root)
        self._open[user.username] = workspace
        self._close_idle()
        return workspace

    def _open_workspace(self, username: str, os_root: str) -> Workspace:
        root = Root(os_root, allow_hidden=self.allow_hidden, hide_globs=self.hide_globs, shared=self.shared_dirs)
        notary = notebooks.Notary(self.trust_dir(username))
        listing: bool | ListingCache = self._listing_cache if self._listing_cache is not None else False
        log.info("workspace of %s opened: %s", username, os_root)
        return Workspace(username=username, root=root, contents=ContentsManager(root, notary, listing_cache=listing),
                         notary=notary, config_sections=self.shared.config_sections.for_user(username))

    def trust_dir(self, username: str) -> str:
        """Where `username`'s trust database is kept: in the server's data directory, by a
        digest of the name (any name makes a short, safe folder name)."""
        digest = hashlib.sha256(username.encode("utf-8", "surrogateescape")).hexdigest()
        return os.path.join(self.data_dir, "flask_notebook", "users", digest)

    def _close_idle(self) -> None:
        """Close the least recently used workspaces past ``max_open``, but none used within
        ``min_idle`` seconds (the cache then stays larger for a while)."""
        cutoff = time.monotonic() - self.min_idle
        while len(self._open) > self.max_open:
            username, oldest = next(iter(self._open.items()))
            if oldest.last_used > cutoff:
                return
            del self._open[username]
            oldest.close()

    def open_workspaces(self) -> list[Workspace]:
        """The workspaces open now, the shared one first."""
        return [self.shared, *self._open.values()]

    def close(self) -> None:
        """Close every workspace (the shared one too) and the listing cache. Safe to call
        more than once."""
        self._closed = True
        while self._open:
            _, workspace = self._open.popitem()
            workspace.close()
        self.shared.close()
        if self._listing_cache is not None:
            self._listing_cache.close()
            self._listing_cache = None
