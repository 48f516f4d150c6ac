"""Who owns what: the user a request acts as, and the checks on user names.

A ``User`` is what ownership is keyed on (kernels, sessions, executions, terminals and their
WebSockets carry their owner's ``username``). The web layer makes one per request from the
identity it authenticated (``blueprints.security.current_user``). No requests here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors

#: The longest user name accepted: it becomes a folder name (255 bytes at most on Linux) and
#: part of cgroup names; 64 is what ``useradd`` allows on most systems.
MAX_USERNAME_LENGTH = 64
#: Letters, digits, and ``.``, ``_``, ``-``, ``@`` and ``+`` inside (e-mail addresses are common
#: user names): no path separator, no leading dot (so never ``.`` or ``..``), no control or
#: space characters, nothing a shell or a path template could read otherwise.
_USERNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@+-]*")
ADMIN_ROLE = "admin"


def validate_username(name: object) -> str:
    """`name` if it may name a user's folder, kernels and cgroups.

    :raises errors.Invalid: not a string, empty, too long, or with characters outside
        letters, digits and ``._@+-`` (or starting with one of ``.@+-``).
    """
    if not isinstance(name, str) or not name:
        raise errors.Invalid("A user name must be a non-empty string", reason="bad user name")
    if len(name) > MAX_USERNAME_LENGTH:
        raise errors.Invalid(f"A user name may be at most {MAX_USERNAME_LENGTH} characters long",
                             reason="bad user name")
    if not _USERNAME.fullmatch(name) or name.endswith("."):
        raise errors.Invalid(f"{name!r} is not a valid user name: letters, digits and ._@+- only, "
                             "starting with a letter, digit or _", reason="bad user name")
    return name


@dataclass(frozen=True)
class User:
    """The user a request acts as.

    :param username: the owner key (validated when it names a folder: ``Workspaces``).
    :param roles: a user whose roles hold ``"admin"`` sees and manages everything.
    :param server: the server's own user (the standalone token or password, or no auth at
        all): an administrator whose workspace is ``NOTEBOOK_ROOT_DIR`` itself.
    """

    username: str
    roles: frozenset[str] = field(default_factory=frozenset)
    server: bool = False

    @property
    def admin(self) -> bool:
        return self.server or ADMIN_ROLE in self.roles

    def may_see(self, owner: str | None) -> bool:
        """Whether this user may see (and manage) something owned by `owner`. Things with no
        owner (started before ownership existed, or by the server itself) are the
        administrators' only."""
        return self.admin or (owner is not None and owner == self.username)


def roles_of(value: Any) -> frozenset[str]:
    """The roles a host's ``authorize`` gave (a list of strings), or none."""
    if isinstance(value, dict):
        roles = value.get("roles")
        if isinstance(roles, (list, tuple, set, frozenset)):
            return frozenset(str(role) for role in roles)
    return frozenset()


def workspace_path(user_root: str | Callable[[User], Any], user: User) -> str:
    """The absolute, real path of `user`'s own root under NOTEBOOK_USER_ROOT (a template with
    ``{username}``, or a host's callable), made with mode 0700 if it is not there yet.

    The name is validated before it touches a path (``validate_username``).

    :raises errors.Invalid: the user name cannot name a folder.
    :raises errors.Unavailable: the folder cannot be made, or the host's callable gave no path.
    """
    validate_username(user.username)
    raw = user_root(user) if callable(user_root) else user_root.format(username=user.username)
    if not isinstance(raw, (str, os.PathLike)) or not os.fspath(raw):
        raise errors.Unavailable(f"NOTEBOOK_USER_ROOT gave no path for user {user.username!r}",
                                 reason="no workspace")
    path = os.path.realpath(os.path.abspath(os.fspath(raw)))
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise errors.Unavailable(f"The workspace of user {user.username!r} could not be made: {exc.strerror}",
                                 reason="no workspace") from exc
    if not os.path.isdir(path):
        raise errors.Unavailable(f"The workspace of user {user.username!r} is not a directory",
                                 reason="no workspace")
    return path
