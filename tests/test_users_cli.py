"""`flask-notebook user add|remove|passwd` (issue 19): the users file from the command line,
as a script drives it (the password on stdin)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NOTEBOOK_")}
    return subprocess.run([sys.executable, "-m", "flask_notebook", "user", *args], input=stdin, text=True,
                          capture_output=True, timeout=30, env={**base, **(env or {})})


def users(path: Path) -> dict[str, dict[str, object]]:
    return json.loads(path.read_text())["users"]  # type: ignore[no-any-return]


def test_add_passwd_remove(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    added = run("--users-file", str(path), "add", "alice", "--admin", stdin="s3cret-pw\n")
    assert added.returncode == 0, added.stderr
    assert "s3cret-pw" not in added.stdout + added.stderr + path.read_text()
    assert users(path)["alice"]["roles"] == ["admin"]
    first_hash = users(path)["alice"]["hash"]
    # NOTEBOOK_USERS_FILE from the environment; --users-file after the command works too.
    assert run("add", "bob", stdin="pw\n", env={"NOTEBOOK_USERS_FILE": str(path)}).returncode == 0
    assert users(path)["bob"]["roles"] == []
    assert run("passwd", "alice", "--users-file", str(path), stdin="other\n").returncode == 0
    assert users(path)["alice"]["hash"] != first_hash
    assert run("remove", "bob", "--users-file", str(path)).returncode == 0
    assert list(users(path)) == ["alice"]


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["add", "../alice"], "pw\n", "not a valid user name"),
    (["add", "alice"], "\n", "empty password"),
    (["add", "taken"], "pw\n", "exists already"),
    (["remove", "nobody"], "", "no user 'nobody'"),
    (["passwd", "nobody"], "pw\n", "no user 'nobody'"),
])
def test_bad_input_exits_2_with_a_clear_message(tmp_path: Path, args: list[str], stdin: str, message: str) -> None:
    path = tmp_path / "users.json"
    assert run("--users-file", str(path), "add", "taken", stdin="pw\n").returncode == 0
    before = path.read_text()
    result = run("--users-file", str(path), *args, stdin=stdin)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert path.read_text() == before


def test_no_users_file_is_a_usage_error() -> None:
    result = run("add", "alice", stdin="pw\n")
    assert result.returncode == 2 and "NOTEBOOK_USERS_FILE" in result.stderr


def test_a_file_that_is_not_a_users_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my notes")
    result = run("--users-file", str(path), "add", "alice", stdin="pw\n")
    assert result.returncode == 1 and "not a users file" in result.stderr and "Traceback" not in result.stderr
    assert path.read_text() == "my notes"
