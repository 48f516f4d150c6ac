"""Directory listings kept current by Linux's inotify, instead of scanned on every request.

A file browser lists the same directory again and again (JupyterLab polls every few
seconds), and for a big directory the `stat` of every entry is most of the cost. The kernel
queues an inotify event naming the entry for any change to it (create, delete, rename,
write, attributes) before the changing call returns, so a stored listing plus a fresh look
at the entries named since is the same as a new scan.

What inotify on the directory does not see is refreshed on every use instead: entries that
are subdirectories (their mtime moves when their own contents change) and symlinks (their
targets live elsewhere). On file systems where changes can come from other machines (NFS,
SMB, FUSE), inotify sees nothing, so directories there are never cached.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from typing import Any

_IN_NONBLOCK, _IN_CLOEXEC = os.O_NONBLOCK, 0o2000000
_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF, _IN_Q_OVERFLOW, _IN_IGNORED = 0x400, 0x800, 0x4000, 0x8000
_IN_ONLYDIR = 0x01000000
_MASK = (_IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
         | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR)
_EVENT = struct.Struct("iIII")

#: File systems whose every change is made by this machine's kernel, so inotify sees it.
LOCAL_FILE_SYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "f2fs",
                                "jfs", "reiserfs", "bcachefs", "ramfs"})


class ListingCache:
    """Listings by OS path of the directory, kept current by inotify events.

    An event names the entry it is about: those names are handed back with the listing,
    for the caller to look at again (``get``) and store the result (``store``). Anything
    that cannot be followed name by name (queue overflow, the directory itself moved or
    deleted, a flood of names) makes the directory stale: it is scanned afresh.

    Thread-safe in the way the rest of the core is: plain dict and set operations only,
    and a version per listing, so of two updates racing, the loser makes the directory
    stale instead of storing something out of date.
    """

    def __init__(self, *, max_dirs: int = 64, max_dirty: int = 2000, mountinfo: str = "/proc/self/mountinfo") -> None:
        self._fd = _inotify_init()
        self._mounts = _local_mounts(mountinfo)
        self._max_dirs = max_dirs
        self._max_dirty = max_dirty
        self._wd_to_path: dict[int, str] = {}
        self._path_to_wd: dict[str, int] = {}
        self._listings: dict[str, tuple[int, Any]] = {}
        self._dirty: dict[str, set[str]] = {}
        self._versions = 0

    @property
    def enabled(self) -> bool:
        return self._fd is not None

    def get(self, os_path: str) -> tuple[int, Any, set[str]] | None:
        """(version, stored listing, names changed since it was stored), or None: scan afresh."""
        self._drain()
        stored = self._listings.get(os_path)
        if stored is None:
            return None
        dirty = self._dirty.pop(os_path, set())
        return stored[0], stored[1], dirty

    def begin_scan(self, os_path: str) -> int | None:
        """Watch `os_path` before scanning it; returns the version ``store`` expects, or None
        when this directory is not cached (not a local file system, out of watches)."""
        if self._fd is None or not self._is_local(os_path):
            return None
        if os_path not in self._path_to_wd:
            if len(self._path_to_wd) >= self._max_dirs:
                self._forget_all()
            try:
                wd = _inotify_add_watch(self._fd, os_path)
            except OSError:  # out of watches, gone, not a directory
                return None
            self._wd_to_path[wd] = os_path
            self._path_to_wd[os_path] = wd
        self._drain()
        stored = self._listings.get(os_path)
        return stored[0] if stored is not None else 0

    def store(self, os_path: str, listing: Any, version: int) -> None:
        """Store a listing made from version `version` (0: a fresh scan); names changed while
        it was made stay marked, so the next ``get`` hands them back. A lost race drops the
        directory's listing."""
        self._drain()
        current = self._listings.get(os_path)
        if os_path not in self._path_to_wd or (current[0] if current is not None else 0) != version:
            self._listings.pop(os_path, None)
            return
        self._versions += 1
        self._listings[os_path] = (self._versions, listing)

    def _drain(self) -> None:
        if self._fd is None:
            return
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                self._forget_all()
                return
            offset = 0
            while offset + _EVENT.size <= len(data):
                wd, mask, _, length = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
                offset += _EVENT.size + length
                if mask & _IN_Q_OVERFLOW:
                    self._listings.clear()
                    continue
                path = self._wd_to_path.get(wd)
                if path is None:
                    continue
                if mask & (_IN_IGNORED | _IN_DELETE_SELF | _IN_MOVE_SELF):
                    self._listings.pop(path, None)
                    if mask & _IN_IGNORED:  # the kernel dropped the watch
                        self._wd_to_path.pop(wd, None)
                        self._path_to_wd.pop(path, None)
                elif name:
                    dirty = self._dirty.setdefault(path, set())
                    dirty.add(os.fsdecode(name))
                    if len(dirty) > self._max_dirty:  # a rescan is cheaper than so many looks
                        self._listings.pop(path, None)
                        dirty.clear()

    def _forget_all(self) -> None:
        self._listings.clear()
        self._dirty.clear()
        for wd in list(self._wd_to_path):
            if self._fd is not None:
                _inotify_rm_watch(self._fd, wd)
        self._wd_to_path.clear()
        self._path_to_wd.clear()

    def _is_local(self, os_path: str) -> bool:
        """Whether the mount holding `os_path` is a local file system (longest mount point wins)."""
        for mount_point, fstype in self._mounts:
            if os_path == mount_point or os_path.startswith(mount_point.rstrip("/") + "/"):
                return fstype in LOCAL_FILE_SYSTEMS
        return False

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        # Each inotify instance counts against a small per-user limit (128 by default).
        self.close()


def _local_mounts(mountinfo: str) -> list[tuple[str, str]]:
    """[(mount point, fs type)] from /proc/self/mountinfo, longest mount point first."""
    mounts = []
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                if "-" not in fields:
                    continue
                separator = fields.index("-")
                mount_point = fields[4].encode().decode("unicode_escape")  # octal escapes, e.g. \040
                mounts.append((mount_point, fields[separator + 1]))
    except OSError:
        return []
    return sorted(mounts, key=lambda mount: len(mount[0]), reverse=True)


_libc: Any = None


def _inotify_init() -> int | None:
    global _libc
    try:
        _libc = _libc or ctypes.CDLL(None, use_errno=True)
        fd = int(_libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))
    except (OSError, AttributeError):  # not Linux
        return None
    return fd if fd >= 0 else None


def _inotify_add_watch(fd: int, os_path: str) -> int:
    wd = int(_libc.inotify_add_watch(fd, os.fsencode(os_path), _MASK))
    if wd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code or errno.EINVAL), os_path)
    return wd


def _inotify_rm_watch(fd: int, wd: int) -> None:
    _libc.inotify_rm_watch(fd, wd)
