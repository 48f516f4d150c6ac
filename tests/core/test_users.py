"""User names and workspace folders (issue 19): what may name a folder, and how it is made."""

from __future__ import annotations

import os
import stat

import pytest

from flask_notebook.core import errors
from flask_notebook.core.users import MAX_USERNAME_LENGTH, User, validate_username, workspace_path


@pytest.mark.parametrize("name", ["alice", "bob.smith", "carol@example.org", "d_1", "e+tag", "9lives"])
def test_ordinary_user_names_are_accepted(name: str) -> None:
    assert validate_username(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", "../alice", "a/b", "a\\b", ".hidden", "-rf", "a b", "tab\t",
                                  "nul\x00", "end.", "x" * (MAX_USERNAME_LENGTH + 1), 7, None])
def test_names_that_could_escape_or_confuse_a_path_are_refused(name: object) -> None:
    with pytest.raises(errors.Invalid):
        validate_username(name)


def test_a_workspace_is_made_private_on_first_use(tmp_path: os.PathLike[str]) -> None:
    template = os.path.join(os.fspath(tmp_path), "users", "{username}")
    path = workspace_path(template, User("alice"))
    assert path == os.path.join(os.path.realpath(tmp_path), "users", "alice")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert workspace_path(template, User("alice")) == path  # the second time: the same folder


def test_a_bad_name_never_reaches_the_file_system(tmp_path: os.PathLike[str]) -> None:
    template = os.path.join(os.fspath(tmp_path), "{username}")
    with pytest.raises(errors.Invalid):
        workspace_path(template, User(".."))
    assert os.listdir(tmp_path) == []


def test_a_hosts_callable_chooses_the_folder(tmp_path: os.PathLike[str]) -> None:
    path = workspace_path(lambda user: os.path.join(os.fspath(tmp_path), "u-" + user.username), User("bob"))
    assert os.path.basename(path) == "u-bob" and os.path.isdir(path)
    with pytest.raises(errors.Unavailable):
        workspace_path(lambda user: None, User("bob"))


def test_administrators_see_everything_and_users_their_own() -> None:
    alice, admin, server = User("alice"), User("root", frozenset({"admin"})), User("x", server=True)
    assert alice.may_see("alice") and not alice.may_see("bob") and not alice.may_see(None)
    assert admin.may_see("bob") and admin.may_see(None) and server.admin
