"""Frontend config sections (`/api/config/<section>`): JSON objects that pages keep settings in.

As jupyter_server's ``ConfigManager``, a section is read from ``serverconfig/<section>.d/*.json``
and ``serverconfig/<section>.json`` in every Jupyter config directory, merged with the
highest-priority directory last. Unlike it, writes do not go to the user's Jupyter config
directory, which every Jupyter server of that user shares: each server writes its own store,
laid over those read-only layers. A store belongs to a contents root (``store_dir``), so two
servers of one root share their settings and a server restarted on it finds them again, and
servers of other roots (or, once users have roots of their own, other users) never see them.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import re
from typing import Any

import orjson
from gevent import monkey
from jupyter_core.paths import jupyter_config_path

from . import errors, fileio

_allocate_lock = monkey.get_original("_thread", "allocate_lock")

log = logging.getLogger(__name__)

#: jupyter_server routes ``/api/config/(\w+)``, matched against the (still percent-encoded) URL.
SECTION_NAME = re.compile(r"[A-Za-z0-9_]+")


def store_dir(data_dir: str, root_dir: str) -> str:
    """The directory where the server of `root_dir` writes its sections, under `data_dir`.

    Named by a digest of the root's real path, so any root gets a short, safe name.
    """
    digest = hashlib.sha256(os.path.realpath(root_dir).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return os.path.join(data_dir, "flask_notebook", "serverconfig", digest)


#: How deep a section may nest. Settings are a few levels deep; the merge recurses.
MAX_DEPTH = 64


def _check_depth(section: str, data: Any) -> None:
    """:raises errors.Invalid: `data` nests deeper than ``MAX_DEPTH`` (looked at without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise errors.Invalid(f"Config section {section!r} nests deeper than {MAX_DEPTH} levels")
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))


def recursive_update(target: dict[str, Any], new: dict[str, Any]) -> None:
    """Merge `new` into `target` as jupyter_server does: objects merge key by key, ``None``
    removes a key, objects left empty are removed, anything else replaces.

    Where the reference fails (500) on an object merged into a non-object, the object
    replaces it.
    """
    for key, value in new.items():
        if isinstance(value, dict):
            if not isinstance(target.get(key), dict):
                target[key] = {}
            recursive_update(target[key], value)
            if not target[key]:
                del target[key]
        elif value is None:
            target.pop(key, None)
        else:
            target[key] = value


class ConfigSections:
    """The sections of one store, over the Jupyter config path's ``serverconfig`` layers.

    :param write_dir: the store (``store_dir``); created on the first write.
    :param read_dirs: the read-only layers, highest priority first (default: ``serverconfig``
        in each directory of ``jupyter_config_path()``, read once, here).
    """

    def __init__(self, write_dir: str, read_dirs: list[str] | None = None) -> None:
        self.write_dir = write_dir
        if read_dirs is None:
            read_dirs = [os.path.join(path, "serverconfig") for path in jupyter_config_path()]
        self.read_dirs = read_dirs
        # A real thread lock: writes run in gevent's thread pool (they fsync), where a
        # monkey-patched lock would belong to the hub.
        self._lock = _allocate_lock()
        self._users: dict[str, ConfigSections] = {}

    def for_user(self, username: str) -> ConfigSections:
        """The store of one user of a site with its own logins (the host's ``authorize``),
        over the same read-only layers: one user's settings never overwrite another's."""
        store = self._users.get(username)
        if store is None:
            digest = hashlib.sha256(username.encode("utf-8", "surrogateescape")).hexdigest()[:24]
            store = self._users[username] = ConfigSections(os.path.join(self.write_dir, "users", digest),
                                                           self.read_dirs)
        return store

    def get(self, section: str) -> dict[str, Any]:
        """The section merged from every layer, the store last (``{}`` when none has it)."""
        data: dict[str, Any] = {}
        for directory in reversed(self.read_dirs):
            pattern_dir = os.path.join(directory, section + ".d")
            try:
                parts = sorted(name for name in os.listdir(pattern_dir) if name.endswith(".json"))
            except OSError:
                parts = []
            for name in parts:
                recursive_update(data, _read(os.path.join(pattern_dir, name)))
            recursive_update(data, _read(os.path.join(directory, section + ".json")))
        recursive_update(data, self.stored(section))
        return data

    def stored(self, section: str) -> dict[str, Any]:
        """What this store holds of the section (without the read-only layers)."""
        return _read(self._path(section))

    def set(self, section: str, data: dict[str, Any]) -> None:
        """Replace the store's section with `data`, atomically.

        :raises errors.Invalid: `data` nests deeper than `MAX_DEPTH`, or holds what JSON here
            cannot (integers beyond 64 bits, lone surrogates).
        :raises errors.Forbidden: the store cannot be written (permissions).
        :raises errors.SaveFailed: anything else went wrong writing it.
        """
        _check_depth(section, data)
        with self._lock:
            self._write(section, data)

    def update(self, section: str, new_data: dict[str, Any]) -> dict[str, Any]:
        """Merge `new_data` into the store's section (``recursive_update``); return the result,
        which, as in jupyter_server, is the stored section, without the read-only layers.

        :raises errors.Invalid: as ``set``.
        """
        _check_depth(section, new_data)
        with self._lock:
            data = self.stored(section)
            recursive_update(data, copy.deepcopy(new_data))
            self._write(section, data)
        return data

    def _path(self, section: str) -> str:
        if not SECTION_NAME.fullmatch(section):
            raise errors.NotFound(f"No config section {section!r}")
        return os.path.join(self.write_dir, section + ".json")

    def _write(self, section: str, data: dict[str, Any]) -> None:
        path = self._path(section)
        try:
            os.makedirs(self.write_dir, exist_ok=True)
        except OSError as exc:
            raise fileio.save_error(exc, f"config/{section}") from exc
        try:
            text = orjson.dumps(data, option=orjson.OPT_INDENT_2)
        except TypeError as exc:  # what the section could never be read back as (and answered)
            raise errors.Invalid(f"Config section {section!r} must be JSON of 64-bit integers and valid "
                                 f"Unicode: {exc}") from exc
        fileio.atomic_write(path, text, api_path=f"config/{section}")


def _read(path: str) -> dict[str, Any]:
    """A section file's object; ``{}`` if it is missing, empty or not a JSON object (logged)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        log.warning("Invalid JSON in %s, skipping", path)
        return {}
    if not isinstance(data, dict):
        log.warning("%s holds no JSON object, skipping", path)
        return {}
    return data
