"""Domain errors. The blueprints map each class to one HTTP status code."""

from __future__ import annotations

from collections.abc import Collection


class NotebookError(Exception):
    """An error the API reports to the client. `message` is shown to people."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message, self.reason = message, reason


class NotFound(NotebookError):
    """The thing named by an id or path does not exist (or may not be seen)."""


class Invalid(NotebookError):
    """The request is malformed; reason e.g. "bad format"."""


class NameTooLong(Invalid):
    """A path with a name longer than the file system allows: no such file can exist."""


class Conflict(NotebookError):
    """The request clashes with current state, e.g. a rename onto an existing file."""


class Forbidden(NotebookError):
    """The operating system refused the operation (permissions)."""


class SaveFailed(NotebookError):
    """Writing failed for a reason the client could not have prevented; the old file is intact."""


class LimitReached(NotebookError):
    """A configured limit (the number of kernels, a user's kernels) would be exceeded."""


class RateLimited(NotebookError):
    """Too many requests of one kind from one user; `retry_after` says in how many seconds
    one would pass."""

    def __init__(self, message: str, *, retry_after: float, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class KernelFailed(NotebookError):
    """A kernel could not be started or restarted; `reason` says why."""


class Unavailable(NotebookError):
    """Not possible right now, but soon: e.g. the kernel is restarting."""


def caused_by_errno(exc: BaseException, errnos: Collection[int]) -> bool:
    """Whether `exc`, or an error it was raised from (``__cause__``, ``__context__``), has one
    of `errnos` (an ``OSError``, or a ``zmq.ZMQError``, which carries one too)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if getattr(cause, "errno", None) in errnos:
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False
