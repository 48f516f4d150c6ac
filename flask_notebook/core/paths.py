"""API paths and OS paths, and the one check that keeps every OS path inside the root.

An API path is `/`-separated and relative to the root (`""` is the root itself); an OS path
is absolute. ``Root.os_path`` is the only way from the first to the second.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from datetime import datetime, timezone

from . import errors

_DRIVE = re.compile(r"^[A-Za-z]:")


def normalize_api_path(api_path: str) -> str:
    """Strip the leading and trailing `/` that clients may send, as jupyter_server does."""
    return api_path.strip("/")


def join_api_path(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def split_api_path(api_path: str) -> tuple[str, str]:
    """Return (parent, name) of an API path."""
    parent, _, name = api_path.rpartition("/")
    return parent, name


def iso_utc_ns(ns: int) -> str:
    """iso_utc for a nanosecond timestamp (os.stat's `st_*_ns`), truncated to microseconds.

    Integer arithmetic, so a file's time formats the same in a listing and in its own model.
    """
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()[:-6] + f".{rest // 1000:06d}Z"


def iso_utc(timestamp: float) -> str:
    """UTC ISO-8601 with six fractional digits and a `Z`, which strict clients require."""
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="microseconds")[:-6] + "Z"


def _encodable(path: str) -> bool:
    """Whether `path` can name a file: a lone surrogate from a JSON body cannot (the file
    system's own undecodable bytes, ``surrogateescape``'d, can)."""
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        return False
    return True


def _pathconf(os_path: str, name: str, default: int) -> int:
    try:
        value = os.pathconf(os_path, name)
    except (OSError, ValueError):  # not on this system, or the root does not exist yet
        return default
    return value if value > 0 else default


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Root:
    """The contents root, and the rules for what may be reached beneath it.

    A path is refused (``errors.NotFound``) when it contains a NUL byte, an empty, `.` or
    `..` segment, or a drive letter, or when it resolves, symlinks followed, outside the
    root. jupyter_server follows symlinks that point outside its root; we do not. A name
    longer than the file system takes (255 bytes), or a path longer than it takes, is
    ``errors.NameTooLong`` (400; jupyter_server answers 500).

    `shared` folders (NOTEBOOK_SHARED_DIRS: name -> directory) appear as top-level folders
    of that name: ``name/x`` is ``x`` in that directory, and a path under it must stay
    inside it as a path under the root must stay inside the root. They hide a real entry of
    the same name in the root (``is_shared``), as the kernel sandbox's read-only bind mount at
    ``<root>/<name>`` hides it from kernels. Writing to them is refused by the contents
    manager, not here.
    """

    def __init__(self, root_dir: str, *, allow_hidden: bool = False, hide_globs: list[str] | None = None,
                 shared: dict[str, str] | None = None) -> None:
        self.os_root = os.path.realpath(root_dir)
        self.shared = {name: os.path.realpath(path) for name, path in (shared or {}).items()}
        # Longer names fail with ENAMETOOLONG deep down (realpath, a temporary file's name):
        # checked once, here, with an honest message.
        self.name_max = _pathconf(self.os_root, "PC_NAME_MAX", 255)
        self.path_max = _pathconf(self.os_root, "PC_PATH_MAX", 4096)
        self.allow_hidden = allow_hidden
        self.hide_globs = list(hide_globs or [])
        # One compiled regex for all globs: fnmatch per glob per entry dominated big listings.
        self.hide_match = re.compile("|".join(fnmatch.translate(g) for g in self.hide_globs) or "(?!)").match

    # -- the door -----------------------------------------------------------------

    def os_path(self, api_path: str) -> str:
        """Map an API path to an absolute OS path inside the root, or raise NotFound."""
        api_path = normalize_api_path(api_path)
        if "\0" in api_path or not _encodable(api_path):
            raise errors.NotFound(f"{api_path!r} is not a valid path")
        if not api_path:
            return self.os_root
        parts = api_path.split("/")
        if _DRIVE.match(api_path) or any(p in ("", ".", "..") for p in parts):
            raise errors.NotFound(f"{api_path} is outside root contents directory")
        for part in parts:
            size = len(os.fsencode(part))
            if size > self.name_max:
                raise errors.NameTooLong(f"Name too long: '{_shorten(part)}' is {size} bytes; "
                                         f"the file system allows {self.name_max}")
        base = self.shared.get(parts[0])
        if base is not None:
            os_path = os.path.join(base, *parts[1:])
        else:
            base = self.os_root
            os_path = os.path.join(base, *parts)
        if len(os.fsencode(os_path)) >= self.path_max:
            raise errors.NameTooLong(f"Path too long: {_shorten(api_path)} makes a path of more than "
                                     f"{self.path_max - 1} bytes")
        if not self.is_inside(os_path, base):
            raise errors.NotFound(f"{api_path} is outside root contents directory")
        return os_path

    def is_shared(self, api_path: str) -> bool:
        """Whether `api_path` is a shared folder or lies in one (read-only)."""
        return normalize_api_path(api_path).split("/", 1)[0] in self.shared

    def base_of(self, api_path: str) -> str:
        """The directory `api_path` lies under: its shared folder's, or the root."""
        return self.shared.get(normalize_api_path(api_path).split("/", 1)[0], self.os_root)

    def is_inside(self, os_path: str, base: str | None = None) -> bool:
        """Whether `os_path`, with every symlink resolved, is `base` or below it; without
        `base`, the root or a shared folder (or below one).

        A path that does not exist yet (or lies in a directory we may not search, which the
        OS will refuse to enter anyway) is resolved as far as it can be. A symlink loop never
        resolves, so it counts as outside: the loop may pass through the outside, and
        non-strict ``realpath`` would hand back the unresolved link as if it were inside.
        """
        if "\0" in os_path or not _encodable(os_path):
            return False  # no file can have this name
        try:
            real = os.path.realpath(os_path, strict=True)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            real = os.path.realpath(os_path)
        except OSError:  # ELOOP: nothing we can vouch for
            return False
        bases = (base,) if base is not None else (self.os_root, *self.shared.values())
        return any(real == b or real.startswith(b.rstrip(os.sep) + os.sep) for b in bases)

    # -- visibility ---------------------------------------------------------------

    def is_hidden(self, api_path: str) -> bool:
        """Whether any segment below the root starts with a dot. The root is never hidden."""
        api_path = normalize_api_path(api_path)
        return bool(api_path) and any(part.startswith(".") for part in api_path.split("/"))

    def refuse_hidden(self, api_path: str) -> bool:
        return not self.allow_hidden and self.is_hidden(api_path)

    def listed(self, name: str) -> bool:
        """Whether a directory entry named `name` appears in listings."""
        if not self.allow_hidden and name.startswith("."):
            return False
        return self.hide_match(name) is None

    # -- resolving paths a client or a kernel wrote (GET /api/resolvePath) ----------------

    def resolve_path(self, path: str) -> str | None:
        """The API path of an existing, visible file or directory that `path` names, or None.

        `path` is relative to the root, or absolute (`~` expanded) inside the root, as
        jupyter_server's ``FileContentsManager.resolve_path`` takes it. An absolute path
        elsewhere counts as relative to the root, as there (``/a.txt`` is ``a.txt``), except a
        `~` one, which is never resolved outside the root. Unlike there, the answer is
        normalised (``sub/../a.txt`` is ``a.txt``: the contents API refuses `..`), and a
        hidden path, or one that leads out of the root through a symlink, is not resolved:
        resolving reveals no more than the contents API shows.
        """
        if "\0" in path:
            return None
        expanded = os.path.expanduser(path)
        if expanded != path and os.path.isabs(expanded):
            relative = self._relative(expanded)
            if relative is None:
                return None
        elif os.path.isabs(path):
            relative = self._relative(path)
            if relative is None:
                relative = path
        else:
            relative = path
        api_path = posixpath.normpath(relative.replace(os.sep, "/").lstrip("/") or ".")
        if api_path == ".." or api_path.startswith("../"):
            return None
        api_path = "" if api_path == "." else api_path
        if self.refuse_hidden(api_path):
            return None
        try:
            os_path = self.os_path(api_path)
        except (errors.NotFound, errors.NameTooLong):
            return None
        return api_path if os.path.exists(os_path) else None

    def resolve_kernel_path(self, path: str, cwd: str) -> str | None:
        """The absolute path of the file or directory `path` names for a kernel in `cwd`, or None.

        As jupyter_client's ``LocalProvisioner.resolve_path``: `~` expanded, a relative path
        joined to `cwd` with symlinks resolved, an absolute one kept as it is. Unlike there,
        only what lies inside the root (symlinks resolved) and is not hidden is resolved:
        the answer must not reveal files the contents API would not.
        """
        if "\0" in path:
            return None
        candidate = os.path.expanduser(path)
        if not os.path.isabs(candidate):
            candidate = os.path.realpath(os.path.join(cwd, candidate))
        if not os.path.exists(candidate) or not self.is_inside(candidate):
            return None
        relative = os.path.relpath(os.path.realpath(candidate), self.os_root)
        if relative != "." and self.refuse_hidden(relative.replace(os.sep, "/")):
            return None
        return os.path.normpath(candidate).replace(os.sep, "/")

    def _relative(self, absolute: str) -> str | None:
        """`absolute`, normalised, relative to the root; None when outside it. The root is
        kept with its symlinks resolved, so the path's directory is resolved too, if needed."""
        absolute = os.path.abspath(absolute)
        for candidate in (absolute, os.path.join(os.path.realpath(os.path.dirname(absolute)),
                                                 os.path.basename(absolute))):
            if candidate == self.os_root:
                return ""
            if candidate.startswith(self.os_root.rstrip(os.sep) + os.sep):
                return candidate[len(self.os_root.rstrip(os.sep)) + 1:]
        return None
