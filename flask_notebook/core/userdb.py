"""The users file (NOTEBOOK_USERS_FILE): names, scrypt hashes and roles, for deployments
without a host site's login.

The file is JSON, ``{"version": 1, "users": {"alice": {"hash": "scrypt:...", "roles": ["admin"]}}}``,
written atomically with mode 0600 (``flask-notebook user add|remove|passwd``). A running
server re-reads it when it changes: ``UserDB.get`` looks at the file's mtime, size and inode
at most every `check_interval` seconds (one ``stat``), so a removed user is refused, and a
new password takes effect, within about a second, without a restart. No requests here.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from . import auth, errors
from .users import ADMIN_ROLE, User, validate_username

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@functools.cache
def _dummy_hash() -> str:
    """What an unknown user's password is checked against, so that a wrong name takes as long
    as a wrong password and the login form does not tell which names exist."""
    return auth.hash_password("flask-notebook: no such user")


@dataclass(frozen=True)
class Record:
    """One user of the file."""

    name: str
    hash: str
    roles: frozenset[str] = frozenset()
    display_name: str | None = None

    @property
    def stamp(self) -> str:
        """Derived from the password hash, for the login cookie: a new password changes it,
        which ends the logins made with the old one. The hash is salted, so this reveals
        nothing about the password to whoever reads the (signed, not encrypted) cookie."""
        return hashlib.sha256(b"flask-notebook-login:" + self.hash.encode()).hexdigest()[:32]

    def user(self) -> User:
        return User(self.name, self.roles)

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"hash": self.hash, "roles": sorted(self.roles)}
        if self.display_name:
            entry["display_name"] = self.display_name
        return entry


class UserDB:
    """The users of one file, re-read when it changes. Used from one process's greenlets
    (reads) or a command-line run (writes, under a lock file, so two runs never lose each
    other's changes)."""

    def __init__(self, path: str, *, check_interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = os.path.abspath(path)
        self.check_interval = check_interval
        self._clock = clock
        self._records: dict[str, Record] = {}
        self._signature: tuple[int, int, int] | None = None
        self._checked = float("-inf")
        self.refresh(force=True)

    # -- reading --------------------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the file if its mtime, size or inode changed (looked at no more often than
        every `check_interval` seconds unless `force`). A file that cannot be read or parsed
        keeps the users read before, with a warning (an editor may be half-way through it);
        a missing file has no users."""
        now = self._clock()
        if not force and now - self._checked < self.check_interval:
            return
        self._checked = now
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._signature is not None or force:
                if self._records:
                    log.warning("users file %s is gone: no user can log in", self.path)
                self._records, self._signature = {}, None
            return
        except OSError as exc:
            log.warning("users file %s cannot be read (%s): keeping the users read before", self.path, exc.strerror)
            return
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if signature == self._signature and not force:
            return
        try:
            with open(self.path, "rb") as file:
                self._records = parse(file.read())
        except (OSError, ValueError) as exc:
            log.warning("users file %s is unusable (%s): keeping the users read before", self.path, exc)
            return
        self._signature = signature
        log.info("users file %s: %d users", self.path, len(self._records))

    def get(self, name: str) -> Record | None:
        self.refresh()
        return self._records.get(name)

    def names(self) -> list[str]:
        self.refresh()
        return sorted(self._records)

    def check(self, name: str, password: str,
              verify: Callable[[str, str], bool] = auth.check_password) -> User | None:
        """The user whose name and password these are, or None."""
        record = self.verify(name, password, verify)
        return record.user() if record is not None else None

    def verify(self, name: str, password: str,
               verify: Callable[[str, str], bool] = auth.check_password) -> Record | None:
        """The record whose name and password these are, or None. An unknown name costs as
        much as a wrong password. `verify` checks a password against a hash (scrypt: the web
        layer passes one that runs off the event loop)."""
        record = self.get(name)
        matched = verify(password, record.hash if record is not None else _dummy_hash())
        return record if record is not None and matched else None

    # -- writing (the command line) ---------------------------------------------------------

    def add(self, name: str, password: str, *, admin: bool = False, display_name: str | None = None) -> Record:
        """:raises errors.Invalid: a bad name or an empty password.
        :raises errors.Conflict: the user exists already."""
        validate_username(name)
        _check_password(password)
        with self._locked() as records:
            if name in records:
                raise errors.Conflict(f"user {name!r} exists already")
            record = records[name] = Record(name, auth.hash_password(password),
                                            frozenset({ADMIN_ROLE}) if admin else frozenset(), display_name)
        return record

    def remove(self, name: str) -> None:
        """:raises errors.NotFound: no such user."""
        with self._locked() as records:
            if records.pop(name, None) is None:
                raise errors.NotFound(f"no user {name!r} in {self.path}")

    def passwd(self, name: str, password: str) -> None:
        """:raises errors.NotFound: no such user. :raises errors.Invalid: an empty password."""
        _check_password(password)
        with self._locked() as records:
            record = records.get(name)
            if record is None:
                raise errors.NotFound(f"no user {name!r} in {self.path}")
            records[name] = Record(name, auth.hash_password(password), record.roles, record.display_name)

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Record]]:
        """The file's users, to change in place, written back atomically (mode 0600) on exit;
        under an exclusive lock on the file's folder, so concurrent commands take turns."""
        directory = os.path.dirname(self.path)
        lock = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with open(self.path, "rb") as file:
                    records = parse(file.read())
            except FileNotFoundError:
                records = {}
            yield records
            data = orjson.dumps({"version": FORMAT_VERSION,
                                 "users": {name: records[name].to_json() for name in sorted(records)}},
                                option=orjson.OPT_INDENT_2) + b"\n"
            fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=".users-", suffix=".tmp")  # mode 0600
            try:
                with os.fdopen(fd, "wb") as tmp:
                    tmp.write(data)
                    tmp.flush()
                    os.fsync(tmp.fileno())
                os.replace(tmp_path, self.path)
            except BaseException:
                os.unlink(tmp_path)
                raise
        finally:
            os.close(lock)  # (and with it the lock)
        self.refresh(force=True)


def parse(data: bytes) -> dict[str, Record]:
    """The records of a users file. Entries with a bad name or no hash are skipped, with a
    warning (one bad line must not lock everyone out).

    :raises ValueError: not JSON, or not the shape above.
    """
    document = orjson.loads(data) if data.strip() else {"users": {}}
    users = document.get("users") if isinstance(document, dict) else None
    if not isinstance(users, dict):
        raise ValueError('expected {"users": {name: {"hash": ..., "roles": [...]}}}')
    records: dict[str, Record] = {}
    for name, entry in users.items():
        try:
            validate_username(name)
        except errors.Invalid as exc:
            log.warning("users file: skipped an entry: %s", exc.message)
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str):
            log.warning("users file: skipped user %r: no password hash", name)
            continue
        roles = entry.get("roles") or []
        display_name = entry.get("display_name")
        records[name] = Record(name, entry["hash"],
                               frozenset(str(role) for role in roles) if isinstance(roles, list) else frozenset(),
                               display_name if isinstance(display_name, str) and display_name else None)
    return records


def _check_password(password: str) -> None:
    if not password:
        raise errors.Invalid("the password is empty")
