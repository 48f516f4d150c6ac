"""Atomic file writes: a temporary file beside the target, fsync, rename.

A reader sees the old bytes or the new ones, never a mix, and a write that fails or is
interrupted (the process killed half-way) leaves the old file as it was. The temporary
file's name starts with `.~` so listings and sync tools ignore it.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable

from . import errors


def atomic_write(os_path: str, data: bytes | Iterable[bytes], *, api_path: str) -> None:
    """Replace `os_path` with `data`, atomically. A symlinked target is written through the link.

    :raises errors.Forbidden: the OS refused (permissions).
    :raises errors.SaveFailed: anything else went wrong (e.g. the disk is full).
    """
    target = os.path.realpath(os_path)
    directory, name = os.path.split(target)
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # e.g. the parent is a file, or a symlink loop
        raise _save_error(exc, api_path) from exc
    try:
        fd, tmp_path = tempfile.mkstemp(prefix=f".~{name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise _save_error(exc, api_path) from exc
    try:
        with os.fdopen(fd, "wb") as tmp:
            if isinstance(data, bytes):
                tmp.write(data)
            else:
                for chunk in data:
                    tmp.write(chunk)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_path, mode if mode is not None else 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
    except BaseException as exc:
        _remove_quietly(tmp_path)
        if isinstance(exc, OSError):
            raise _save_error(exc, api_path) from exc
        raise
    fsync_dir(directory)


def atomic_copy(src_os_path: str, dst_os_path: str, *, api_path: str) -> None:
    """Copy a file's bytes over `dst_os_path` atomically (used for checkpoints)."""
    with open(src_os_path, "rb") as src:
        atomic_write(dst_os_path, iter(lambda: src.read(1 << 20), b""), api_path=api_path)
    shutil.copystat(src_os_path, dst_os_path)


def fsync_dir(directory: str) -> None:
    """Make a rename in `directory` durable. Some file systems refuse; that is not an error."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_umask() -> int:
    # os.umask can only be read by setting it, which races with other threads: read it
    # once, at import, before any worker thread exists.
    current = os.umask(0)
    os.umask(current)
    return current


_UMASK = _read_umask()


def _remove_quietly(os_path: str) -> None:
    try:
        os.unlink(os_path)
    except FileNotFoundError:
        pass


def _save_error(exc: OSError, api_path: str) -> errors.NotebookError:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return errors.Forbidden(f"Permission denied: {api_path}")
    return errors.SaveFailed(f"Unexpected error while saving file: {api_path} {exc.strerror or exc}")
