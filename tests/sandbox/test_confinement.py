"""The sandbox's pure parts: where a process starts, its environment, its exit status."""

from __future__ import annotations

import signal

from flask_notebook.core.sandbox import Confinement, died_of, sandbox_env, starting_folder


def test_a_process_starts_in_its_folder_in_the_workspace_or_else_at_the_workspace() -> None:
    workspace, shared = "/srv/users/alice", {"course": "/srv/course"}
    assert starting_folder("/srv/users/alice/project", workspace, shared) == "/srv/users/alice/project"
    assert starting_folder("/srv/course/week1", workspace, shared) == "/srv/users/alice/course/week1"
    assert starting_folder("/srv/course", workspace, shared) == "/srv/users/alice/course"
    assert starting_folder("/srv/users/bob", workspace, shared) == workspace
    assert starting_folder("/srv/users/alice-other", workspace, shared) == workspace


def test_environment_is_the_allow_list_then_the_kernelspecs_then_the_settings() -> None:
    host = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "SECRET_KEY": "s", "NOTEBOOK_TOKEN": "t",
            "AWS_SECRET_ACCESS_KEY": "a", "HOME": "/root", "JUPYTER_RUNTIME_DIR": "/run/j", "SPEC_VAR": "from-spec"}
    confinement = Confinement("/srv/users/alice", "/srv/users/alice", env={"COURSE": "cs101", "LANG": "en_GB.UTF-8"})
    env = sandbox_env(host, confinement, own={"SPEC_VAR": "from-spec"})
    assert env == {"PATH": "/usr/bin", "LANG": "en_GB.UTF-8", "LC_ALL": "C.UTF-8", "HOME": "/srv/users/alice",
                   "SPEC_VAR": "from-spec", "COURSE": "cs101"}


def test_bwraps_status_for_a_signal_is_reported_as_the_signal() -> None:
    assert died_of(128 + signal.SIGKILL) == -signal.SIGKILL
    assert died_of(128 + signal.SIGTERM) == -signal.SIGTERM
    assert died_of(0) == 0 and died_of(1) == 1 and died_of(128) == 128 and died_of(-9) == -9
