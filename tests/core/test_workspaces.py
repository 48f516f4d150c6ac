"""Workspaces (issue 19): one per user under NOTEBOOK_USER_ROOT, the shared one otherwise and
for the server's own user; bounded; shared folders read-only. No Flask here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_notebook.core import errors, notebooks
from flask_notebook.core.config import ConfigSections
from flask_notebook.core.contents import ContentsManager
from flask_notebook.core.paths import Root
from flask_notebook.core.users import User
from flask_notebook.core.workspaces import Workspace, Workspaces


def _workspaces(tmp_path: Path, *, user_root: str | None, max_open: int = 256, min_idle: float = 120,
                shared_dirs: dict[str, str] | None = None) -> Workspaces:
    (tmp_path / "root").mkdir(exist_ok=True)
    root = Root(str(tmp_path / "root"), shared=shared_dirs)
    notary = notebooks.Notary(str(tmp_path / "data"))
    shared = Workspace(username=None, root=root, contents=ContentsManager(root, notary, listing_cache=False),
                       notary=notary, config_sections=ConfigSections(str(tmp_path / "config"), []))
    return Workspaces(shared, user_root=user_root, shared_dirs=shared_dirs or {}, data_dir=str(tmp_path / "data"),
                      allow_hidden=False, hide_globs=[], listing_cache=True, max_open=max_open, min_idle=min_idle)


@pytest.fixture
def per_user(tmp_path: Path) -> Iterator[Workspaces]:
    workspaces = _workspaces(tmp_path, user_root=str(tmp_path / "users" / "{username}"))
    yield workspaces
    workspaces.close()


def test_without_a_user_root_everyone_shares_the_root(tmp_path: Path) -> None:
    workspaces = _workspaces(tmp_path, user_root=None)
    try:
        assert workspaces.for_user(User("alice")) is workspaces.shared
        assert workspaces.for_user(User("bob")) is workspaces.shared
    finally:
        workspaces.close()


def test_each_user_has_their_own_and_the_server_user_the_root(per_user: Workspaces, tmp_path: Path) -> None:
    alice, bob = per_user.for_user(User("alice")), per_user.for_user(User("bob"))
    assert alice.os_root == os.path.realpath(tmp_path / "users" / "alice")
    assert bob.os_root != alice.os_root
    assert per_user.for_user(User("alice")) is alice
    assert per_user.for_user(User("token-login", server=True)) is per_user.shared
    assert alice.notary is not bob.notary and alice.config_sections is not bob.config_sections
    assert not per_user.trust_dir("alice").startswith(alice.os_root)


def test_a_bad_user_name_is_refused_before_any_folder_is_made(per_user: Workspaces, tmp_path: Path) -> None:
    with pytest.raises(errors.Forbidden):
        per_user.for_user(User("../x"))
    assert not (tmp_path / "users").exists() and not (tmp_path / "x").exists()


def test_past_the_bound_idle_workspaces_are_closed_and_reopen(tmp_path: Path) -> None:
    workspaces = _workspaces(tmp_path, user_root=str(tmp_path / "users" / "{username}"), max_open=2, min_idle=0)
    try:
        first = workspaces.for_user(User("u1"))
        workspaces.for_user(User("u2"))
        workspaces.for_user(User("u3"))
        assert [w.username for w in workspaces.open_workspaces()] == [None, "u2", "u3"]
        again = workspaces.for_user(User("u1"))
        assert again is not first and again.os_root == first.os_root
    finally:
        workspaces.close()


def test_recently_used_workspaces_stay_open_past_the_bound(tmp_path: Path) -> None:
    workspaces = _workspaces(tmp_path, user_root=str(tmp_path / "users" / "{username}"), max_open=1, min_idle=60)
    try:
        for name in ("u1", "u2", "u3"):
            workspaces.for_user(User(name))
        assert len(workspaces.open_workspaces()) == 4
    finally:
        workspaces.close()


def test_shared_folders_are_read_only_in_every_workspace(tmp_path: Path) -> None:
    course = tmp_path / "course"
    course.mkdir()
    (course / "lesson.txt").write_text("hi")
    workspaces = _workspaces(tmp_path, user_root=str(tmp_path / "users" / "{username}"),
                             shared_dirs={"course": str(course)})
    try:
        contents = workspaces.for_user(User("alice")).contents
        assert contents.get("course/lesson.txt")["content"] == "hi"
        with pytest.raises(errors.Forbidden):
            contents.save({"type": "file", "format": "text", "content": "x"}, "course/lesson.txt")
        with pytest.raises(errors.Forbidden):
            contents.delete("course")
        assert contents.copy("course/lesson.txt", "")["path"] == "lesson.txt"
        assert (course / "lesson.txt").read_text() == "hi"
    finally:
        workspaces.close()
