"""Directory listings: the contents API's hot path for big directories.

A listing is one model per entry, without content. Scanning costs a `stat` per entry, so a
``ListingCache`` (inotify) keeps listings of directories seen before current instead.
"""

from __future__ import annotations

import mimetypes
import os
import stat

from .dircache import ListingCache
from .models import ContentsModel
from .paths import Root, iso_utc_ns


class DirectoryLister:
    """Lists directories under one root, by the root's rules for hidden and escaping entries."""

    def __init__(self, root: Root, *, cache: bool | ListingCache = True) -> None:
        """:param cache: whether to keep listings (``ListingCache``), or one to share: the
            listings of several roots (users' workspaces) kept in one, by OS path, under one
            inotify descriptor. A shared one is its maker's to close."""
        self.root = root
        self._owns_cache = cache is True
        listing_cache = cache if isinstance(cache, ListingCache) else ListingCache() if cache else None
        self.cache = listing_cache if listing_cache is not None and listing_cache.enabled else None

    def close(self) -> None:
        if self.cache is not None and self._owns_cache:
            self.cache.close()

    def entries(self, api_path: str, os_path: str) -> list[ContentsModel]:
        """The children's models (without content): the hot path of big directories.

        With the ``ListingCache``, a directory listed before is not scanned again: the
        entries inotify named since are looked at again, and so are subdirectories and
        symlinks (whose changes inotify on this directory does not report).
        """
        if not api_path and self.root.shared:
            return self._with_shared(self._entries("", os_path))
        return self._entries(api_path, os_path)

    def _with_shared(self, entries: list[ContentsModel]) -> list[ContentsModel]:
        """The root's entries with the shared folders first, in place of any real entry of
        the same name (which the kernel sandbox's bind mount hides from kernels too)."""
        shared: list[ContentsModel] = []
        iso, writable = _IsoCache(), _WriteCheck()
        for name, path in self.root.shared.items():
            try:
                model = self._entry_model("", name, path, os.stat(path), iso, writable)
            except OSError:  # gone since start-up: nothing to show
                continue
            if model is not None:
                model["writable"] = False
                shared.append(model)
        return shared + [entry for entry in entries if entry["name"] not in self.root.shared]

    def _entries(self, api_path: str, os_path: str) -> list[ContentsModel]:
        prefix = f"{api_path}/" if api_path else ""
        read_only = self.root.is_shared(api_path)
        cache = self.cache
        if cache is None:
            scanned = self._scan(prefix, os_path)[0]
            return _read_only(scanned) if read_only else list(scanned.values())
        looks = _IsoCache(), _WriteCheck()
        stored = cache.get(os_path)
        if stored is None:
            version = cache.begin_scan(os_path)
            models, volatile = self._scan(prefix, os_path)
            if version is not None:
                cache.store(os_path, (models, volatile), version)
        else:
            version, (models, volatile), dirty = stored
            if dirty:
                models, changed = dict(models), set(volatile)
                for name in dirty:
                    self._look_again(prefix, os_path, name, models, changed, *looks)
                volatile = frozenset(changed)
                cache.store(os_path, (models, volatile), version)
        if volatile:
            models = dict(models)
            for name in volatile:
                self._look_again(prefix, os_path, name, models, set(), *looks)
        return _read_only(models) if read_only else list(models.values())

    def _scan(self, prefix: str, os_path: str) -> tuple[dict[str, ContentsModel], frozenset[str]]:
        """({name: entry model} in directory order, names of the subdirectories and symlinks).

        One `scandir` and one `stat` per entry; timestamps are formatted once per second
        of mtime (``_IsoCache``) and `writable` comes from the stat's mode bits rather than
        an `access` call per entry (so ACLs and read-only mounts are not reflected here;
        a GET of the entry itself reports them).
        """
        is_inside, listed = self.root.is_inside, self.root.listed
        base = self.root.base_of(prefix)
        iso, writable = _IsoCache(), _WriteCheck()
        models: dict[str, ContentsModel] = {}
        volatile: list[str] = []
        with os.scandir(os_path) as scan:
            for entry in scan:
                name = entry.name
                if not listed(name):
                    continue
                try:
                    st = entry.stat()
                    link = entry.is_symlink()
                    if link and not is_inside(entry.path, base):
                        continue
                except OSError:  # broken symlink, vanished, unreadable
                    continue
                model = self._entry_model(prefix, name, entry.path, st, iso, writable)
                if model is not None:
                    if link or model["type"] == "directory":
                        volatile.append(name)
                    models[name] = model
        return models, frozenset(volatile)

    def _look_again(self, prefix: str, os_path: str, name: str, models: dict[str, ContentsModel],
                    volatile: set[str], iso: _IsoCache, writable: _WriteCheck) -> None:
        """Bring `name`'s entry in `models` (and in `volatile`) up to date, keeping its place."""
        path = os.path.join(os_path, name)
        model = None
        link = False
        if self.root.listed(name):
            try:
                link = os.path.islink(path)
                if not link or self.root.is_inside(path, self.root.base_of(prefix)):
                    model = self._entry_model(prefix, name, path, os.stat(path), iso, writable)
            except OSError:  # gone, or a broken link
                pass
        if model is None:
            models.pop(name, None)
            volatile.discard(name)
            return
        models[name] = model
        if link or model["type"] == "directory":
            volatile.add(name)
        else:
            volatile.discard(name)

    def _entry_model(self, prefix: str, name: str, path: str, st: os.stat_result, iso: _IsoCache,
                     writable: _WriteCheck) -> ContentsModel | None:
        """One listing entry, or None for what listings leave out (sockets, unlistable dirs)."""
        mode = st.st_mode
        mimetype: str | None = None
        if stat.S_ISDIR(mode):
            if not self.root.allow_hidden and not os.access(path, os.R_OK | os.X_OK):
                return None  # a directory we cannot list counts as hidden
            kind, size = "directory", None
        elif stat.S_ISREG(mode):
            size = st.st_size
            if name.endswith(".ipynb"):
                kind = "notebook"
            else:
                kind, mimetype = "file", guess_mimetype(name)
        else:
            return None  # sockets, fifos, devices
        modified = iso(st.st_mtime_ns)
        return {
            "name": name,
            "path": prefix + name,
            "last_modified": modified,
            "created": modified if st.st_ctime_ns == st.st_mtime_ns else iso(st.st_ctime_ns),
            "content": None,
            "format": None,
            "mimetype": mimetype,
            "size": size,
            "writable": writable(st),
            "type": kind,
            "hash": None,
            "hash_algorithm": None,
        }


def _read_only(models: dict[str, ContentsModel]) -> list[ContentsModel]:
    """Copies of `models` marked not writable (a shared folder's: the stored models are the
    cache's, shared by every reader)."""
    copies = []
    for model in models.values():
        copy = model.copy()
        copy["writable"] = False
        copies.append(copy)
    return copies


class _IsoCache:
    """iso_utc for nanosecond timestamps, formatting each whole second once.

    Files in one directory are often written within the same few seconds.
    """

    def __init__(self) -> None:
        self._seconds: dict[int, str] = {}

    def __call__(self, ns: int) -> str:
        seconds = ns // 1_000_000_000
        base = self._seconds.get(seconds)
        if base is None:
            base = self._seconds[seconds] = iso_utc_ns(seconds * 1_000_000_000)[:-8]
        return f"{base}.{ns % 1_000_000_000 // 1000:06d}Z"


class _WriteCheck:
    """Whether the server's user may write a file, from its stat: `os.access(W_OK)` without a syscall."""

    def __init__(self) -> None:
        self._uid = os.geteuid()
        self._groups = {os.getegid(), *os.getgroups()}

    def __call__(self, st: os.stat_result) -> bool:
        if self._uid == 0:
            return True
        if st.st_uid == self._uid:
            return bool(st.st_mode & stat.S_IWUSR)
        if st.st_gid in self._groups:
            return bool(st.st_mode & stat.S_IWGRP)
        return bool(st.st_mode & stat.S_IWOTH)


def guess_mimetype(name: str) -> str | None:
    """The mimetype for a file name's extension, remembered per extension."""
    base, dot, suffix = name.rpartition(".")
    if not dot or not base.strip("."):
        return None
    mimetype = _MIMETYPES.get(suffix, _MISSING)
    if mimetype is _MISSING:
        mimetype = mimetypes.guess_type("x." + suffix)[0]
        if len(_MIMETYPES) < 4096:  # names are client-controlled: keep the memo bounded
            _MIMETYPES[suffix] = mimetype
    return mimetype  # type: ignore[return-value]


_MISSING = object()
_MIMETYPES: dict[str, str | None] = {}
