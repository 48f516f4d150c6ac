"""The request's user's things: their workspace, and the kernels, sessions, executions and
terminals they may see.

Whoever starts a kernel, session, execution or terminal owns it. Another user gets the 404
of a thing that does not exist on every URL that names it, and never sees it in a list (not
a 403, which would tell that it exists); an administrator sees and manages everything, and
on a server with several users the models then carry an ``owner`` field.

The server's own user (the standalone token or password, or no auth) is one user however
many logins it has (each token login gets a fresh anonymous name): what it starts is owned
by ``None``, which only administrators see, and it is one.
"""

from __future__ import annotations

from typing import Any

from ..core import errors
from ..core.events import owner_audience
from ..core.kernelrecords import Listed
from ..core.kernels import Kernel
from ..core.users import User
from ..core.workspaces import Workspace
from ..extension import state
from .security import current_user


def owner() -> str | None:
    """The owner key of what the request's user starts: their name; None for the server's
    own user."""
    user = current_user()
    return None if user.server else user.username


def user() -> User:
    return current_user()


def workspace() -> Workspace:
    """The request's user's workspace (``Workspaces.for_user``).

    :raises errors.Forbidden: the user's name cannot name a folder.
    """
    return state().workspaces.for_user(current_user())


def many_users() -> bool:
    """Whether this server has users besides its own: per-user workspaces, a host's
    ``authorize``, or a users file. Only there do models carry an ``owner`` (a single-user
    server's are exactly jupyter_server's)."""
    st = state()
    return st.workspaces.per_user or st.authorize is not None or st.settings.users_file is not None


def show_owners() -> bool:
    """Whether models carry ``owner``: for administrators of a server with several users."""
    return current_user().admin and many_users()


def kernel(kernel_id: str) -> Kernel:
    """The kernel `kernel_id`, if the request's user may see it.

    :raises errors.NotFound: no such kernel, or another user's (the same message).
    """
    return state().kernels.get_kernel(kernel_id, user=current_user())


def kernel_model(found: Kernel | Listed) -> dict[str, Any]:
    model = found.model()
    if show_owners():
        model["owner"] = found.owner
    return model


def session_model(model: Any) -> Any:
    """A session's model with ``owner`` (its own and its kernel's) for administrators."""
    if show_owners():
        st = state()
        model["owner"] = st.sessions.owner_of(model["id"])
        found = st.kernels.kernels.get(model["kernel"]["id"])
        model["kernel"]["owner"] = found.owner if found is not None else model["owner"]
    return model


def audience() -> str:
    """Who hears the events of the request's user's kernels and posts (``core.events``)."""
    return owner_audience(owner())


def contents_audience() -> str:
    """Who hears the contents events of the request's user's workspace."""
    return "workspace:" + workspace().os_root


def require_admin(what: str) -> None:
    """:raises errors.Forbidden: the request's user is not an administrator."""
    if not current_user().admin:
        raise errors.Forbidden(f"Only an administrator may {what}", reason="not an administrator")
