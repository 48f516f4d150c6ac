"""Atomic file writes: a temporary file beside the target, fsync, rename.

A reader sees the old bytes or the new ones, never a mix, and a write that fails or is
interrupted (the process killed half-way) leaves the old file as it was. The temporary
file's name starts with `.~` so listings and sync tools ignore it. Directory copies work
the same way: a hidden temporary tree beside the target, renamed into place when complete.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import gevent
from gevent import monkey

from . import errors

T = TypeVar("T")


def atomic_write(os_path: str, data: bytes | Iterable[bytes], *, api_path: str) -> os.stat_result:
    """Replace `os_path` with `data`, atomically. A symlinked target is written through the link.

    Returns the new file's status, as it was written: another request may delete or replace
    the file the moment it is in place, and a write that succeeded must not be reported as
    failed because the file could not be found again.

    :raises errors.Forbidden: the OS refused (permissions).
    :raises errors.NotFound, errors.Invalid, errors.Conflict: another request changed the
        place meanwhile (``save_error``).
    :raises errors.SaveFailed: anything else went wrong (e.g. the disk is full).
    """
    target = os.path.realpath(os_path)
    directory, name = os.path.split(target)
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # e.g. the parent is a file, or a symlink loop
        raise save_error(exc, api_path) from exc
    try:
        fd, tmp_path = tempfile.mkstemp(prefix=f".~{temp_stem(name)}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise save_error(exc, api_path) from exc
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
        written = os.stat(tmp_path)
        os.replace(tmp_path, target)
    except BaseException as exc:
        _remove_quietly(tmp_path)
        if isinstance(exc, OSError):
            raise save_error(exc, api_path) from exc
        raise
    fsync_dir(directory)
    return written


def atomic_copy(src_os_path: str, dst_os_path: str, *, api_path: str) -> None:
    """Copy a file's bytes over `dst_os_path` atomically (used for checkpoints)."""
    with open(src_os_path, "rb") as src:
        atomic_write(dst_os_path, iter(lambda: src.read(1 << 20), b""), api_path=api_path)
    try:
        shutil.copystat(src_os_path, dst_os_path)
    except (FileNotFoundError, NotADirectoryError):  # either was removed meanwhile: the copy was made
        pass


def copy_tree(src: str, dst: str, *, api_path: str) -> None:
    """Copy the directory `src` to `dst`, which must not exist, so that `dst` appears whole
    or not at all: the copy is made in a hidden sibling (``.~copy-<name>.<random>``) and
    renamed. Missing parents of `dst` are created, and removed again if the copy fails.

    Symlinks are copied as symlinks, never followed (``cp -r``), so nothing outside the
    tree is read and a link cannot loop. A relative link whose target lies outside `src` is
    pointed again at the same target from its new place; links within `src` move with it.
    Temporary files of writes under way in `src` are left out.

    :raises errors.Conflict: `dst` appeared meanwhile.
    :raises errors.Forbidden: the OS refused (permissions).
    :raises errors.SaveFailed: anything else went wrong (e.g. the disk is full).
    """
    parent, name = os.path.split(dst)
    created = _make_parents(parent, api_path)
    tmp = None
    try:
        tmp = tempfile.mkdtemp(prefix=f".~copy-{temp_stem(name)}.", dir=parent)
        os.rmdir(tmp)  # copytree makes it, with the source's mode
        shutil.copytree(src, tmp, symlinks=True, ignore=_transient)
        # Relative links are read from the directory that really holds them.
        _retarget_links(os.path.realpath(src), tmp, os.path.join(os.path.realpath(parent), name))
        # Claim the name first (mkdir fails if anything has it), then rename the copy over the
        # empty directory claimed: a rename alone would silently replace an empty directory
        # that someone made there meanwhile.
        try:
            os.mkdir(dst)
        except FileExistsError:
            raise errors.Conflict(f"File already exists: {api_path}") from None
        os.rename(tmp, dst)
        tmp = None
    except OSError as exc:
        raise save_error(exc, api_path) from exc
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            for directory in reversed(created):
                try:
                    os.rmdir(directory)
                except OSError:
                    break
    fsync_dir(parent)


def _transient(folder: str, names: list[str]) -> set[str]:
    """``copytree``'s filter: the temporary files of saves, copies and uploads under way
    in the tree are not copied (half-written, they would stay in the copy for good)."""
    return {name for name in names if name.startswith(".~") and (
        name.endswith(".tmp") or name.startswith((".~copy-", ".~upload-")))}


def _make_parents(directory: str, api_path: str) -> list[str]:
    """Create `directory` and its missing parents; return those created, outermost first."""
    missing: list[str] = []
    while not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    missing.reverse()
    made: list[str] = []
    try:
        for path in missing:
            try:
                os.mkdir(path)
            except FileExistsError as exc:
                if os.path.isdir(path):  # made meanwhile, by another request
                    continue
                raise errors.SaveFailed(f"Unexpected error while saving file: {api_path} a file is in the way") from exc
            except OSError as exc:
                raise save_error(exc, api_path) from exc
            made.append(path)
    except errors.NotebookError:
        for path in reversed(made):
            try:
                os.rmdir(path)
            except OSError:
                break
        raise
    return made


def _retarget_links(src: str, copy: str, final: str) -> None:
    """In the tree `copy` of `src`, to be renamed `final`: relative symlinks that pointed
    outside `src` point again at the same place, as seen from where they will be."""
    for folder, dirs, files in os.walk(copy):
        for name in [*dirs, *files]:
            link = os.path.join(folder, name)
            if not os.path.islink(link):
                continue
            target = os.readlink(link)
            if os.path.isabs(target):
                continue
            relative_dir = os.path.relpath(folder, copy)
            source_dir = os.path.normpath(os.path.join(src, relative_dir))
            aim = os.path.normpath(os.path.join(source_dir, target))
            if aim == src or aim.startswith(src.rstrip(os.sep) + os.sep):
                continue  # inside the tree: it moves with it
            os.unlink(link)
            os.symlink(os.path.relpath(aim, os.path.normpath(os.path.join(final, relative_dir))), link)


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


def temp_stem(name: str) -> str:
    """The start of `name` for a hidden temporary name beside it (``.~<stem>.<random>.tmp``):
    the whole of a long name would make one longer than the file system allows (255 bytes)."""
    return name[:48]  # at most 192 bytes of UTF-8 (4 a character), whatever the name


def save_error(exc: OSError, api_path: str) -> errors.NotebookError:
    """The error to report for a write to `api_path` that failed with `exc`.

    Most failures that are not the server's fault come from another request changing the
    same path at the same moment (the checks before a write cannot hold it still): a parent
    folder deleted is a 404, a folder or file that appeared where this one goes a 400 or
    409. What is left (a full disk, an I/O error) is ``SaveFailed``, a 500.
    """
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return errors.Forbidden(f"Permission denied: {api_path}")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        parent = api_path.rpartition("/")[0]
        return errors.NotFound(f"No such directory: {parent}" if parent else f"No such file or directory: {api_path}")
    if exc.errno == errno.EISDIR:
        return errors.Invalid(f"{api_path} is a directory: a file cannot be saved over it")
    if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
        return errors.Conflict(f"File already exists: {api_path}")
    if exc.errno == errno.ENAMETOOLONG:
        return errors.NameTooLong(f"Name too long: {api_path}")
    return errors.SaveFailed(f"Unexpected error while saving file: {api_path} {exc.strerror or exc}")


def read_error(exc: OSError, api_path: str) -> errors.NotebookError:
    """The error to report for a read of `api_path` that failed with `exc`: the file was
    deleted (404) or replaced by a folder (409) by another request since it was looked at.

    :raises OSError: `exc` itself, for failures no client could cause (an I/O error): 500.
    """
    if exc.errno in (errno.EACCES, errno.EPERM):
        return errors.Forbidden(f"Permission denied: {api_path}")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return errors.NotFound(f"file or directory '/{api_path}' does not exist")
    if exc.errno == errno.EISDIR:
        return errors.Conflict(f"{api_path} was replaced by a directory while it was read; ask again")
    if exc.errno == errno.ENAMETOOLONG:
        return errors.NameTooLong(f"Name too long: {api_path}")
    raise exc


def offload(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking file work in gevent's thread pool, so other requests keep being served.

    Without gevent's monkey-patching (the Flask test client, a threaded server) a worker
    thread buys nothing, and the call runs inline.
    """
    if not monkey.is_module_patched("threading"):
        return fn(*args, **kwargs)
    # Exceptions travel back as values: gevent's pool would print a traceback for each one
    # (every 404 included) before re-raising it here.
    ok, value = gevent.get_hub().threadpool.apply(_capture, (fn, args, kwargs))
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def _capture(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, Any]:
    try:
        return True, fn(*args, **kwargs)
    except Exception as exc:  # re-raised in the calling greenlet, where the handlers are
        return False, exc
