"""Domain errors. The blueprints map each class to one HTTP status code."""

from __future__ import annotations


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
    """A configured limit (the number of kernels) would be exceeded."""


class KernelFailed(NotebookError):
    """A kernel could not be started or restarted; `reason` says why."""


class Unavailable(NotebookError):
    """Not possible right now, but soon: e.g. the kernel is restarting."""
