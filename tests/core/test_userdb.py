"""The users file (issue 19): users added, removed and given new passwords, written privately
and atomically, and re-read by a running server when the file changes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from flask_notebook.core import errors
from flask_notebook.core.userdb import UserDB


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "users.json"


def test_added_users_log_in_with_their_password_only(path: Path) -> None:
    db = UserDB(str(path))
    db.add("alice", "wonderland", admin=True)
    db.add("bob", "builder")
    alice = db.check("alice", "wonderland")
    assert alice is not None and alice.username == "alice" and alice.admin and not alice.server
    bob = db.check("bob", "builder")
    assert bob is not None and not bob.admin
    assert db.check("bob", "wonderland") is None
    assert db.check("carol", "builder") is None
    assert db.names() == ["alice", "bob"]


def test_the_file_is_private_and_holds_no_password(path: Path) -> None:
    UserDB(str(path)).add("alice", "wonderland")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "wonderland" not in path.read_text()
    assert json.loads(path.read_text())["users"]["alice"]["hash"].startswith("scrypt:")
    assert sorted(p.name for p in path.parent.iterdir()) == ["users.json"]  # no temporary or lock file left


def test_bad_input_is_refused(path: Path) -> None:
    db = UserDB(str(path))
    db.add("alice", "x")
    with pytest.raises(errors.Conflict):
        db.add("alice", "y")
    with pytest.raises(errors.Invalid):
        db.add("../etc", "y")
    with pytest.raises(errors.Invalid):
        db.add("carol", "")
    with pytest.raises(errors.NotFound):
        db.remove("carol")
    with pytest.raises(errors.NotFound):
        db.passwd("carol", "z")


def test_a_change_by_another_process_is_seen_after_the_check_interval(path: Path) -> None:
    clock = Clock()
    server = UserDB(str(path), clock=clock)
    assert server.get("alice") is None
    UserDB(str(path)).add("alice", "wonderland")  # the command line, elsewhere
    assert server.get("alice") is None  # not looked at again within the interval
    clock.now += 1.5
    record = server.get("alice")
    assert record is not None
    UserDB(str(path)).passwd("alice", "looking-glass")
    clock.now += 1.5
    changed = server.get("alice")
    assert changed is not None and changed.stamp != record.stamp
    assert server.check("alice", "wonderland") is None and server.check("alice", "looking-glass") is not None
    UserDB(str(path)).remove("alice")
    clock.now += 1.5
    assert server.get("alice") is None


def test_roles_come_from_the_file(path: Path) -> None:
    clock = Clock()
    UserDB(str(path)).add("bob", "builder")
    server = UserDB(str(path), clock=clock)
    record = server.get("bob")
    assert record is not None and not record.user().admin
    data = json.loads(path.read_text())
    data["users"]["bob"]["roles"] = ["admin"]
    path.write_text(json.dumps(data))
    clock.now += 1.5
    record = server.get("bob")
    assert record is not None and record.user().admin


def test_a_broken_file_keeps_the_users_read_before(path: Path) -> None:
    clock = Clock()
    UserDB(str(path)).add("alice", "wonderland")
    server = UserDB(str(path), clock=clock)
    path.write_text('{"users": {"alice": ')  # an editor half-way through
    clock.now += 1.5
    assert server.get("alice") is not None


def test_bad_entries_are_skipped_not_fatal(path: Path) -> None:
    path.write_text(json.dumps({"users": {"../root": {"hash": "scrypt:x"}, "nohash": {}, "ok": {"hash": "h"}}}))
    assert UserDB(str(path)).names() == ["ok"]


def test_a_missing_file_has_no_users(path: Path) -> None:
    db = UserDB(str(path))
    assert db.names() == [] and db.check("alice", "x") is None
