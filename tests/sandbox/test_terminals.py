"""A terminal's shell runs in the same sandbox as its owner's kernels."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ..support.terminal_client import TerminalSocket
from ..support.waiting import wait_for
from .conftest import SECRETS, SandboxSite


def _terminal_sandboxes(workspace: str) -> list[int]:
    """bwrap processes of terminals (kernels' have ``--new-session``) confined to `workspace`."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except (OSError, ValueError):
            continue
        if argv[0].endswith("bwrap") and workspace in argv and "--new-session" not in argv:
            found.append(int(entry))
    return found


@pytest.fixture(autouse=True)
def close_terminal_sockets() -> Iterator[None]:
    yield
    TerminalSocket.close_all()


def test_terminal_shell_is_confined_to_its_owners_workspace(site: SandboxSite) -> None:
    bob = site.workspace("bob")
    bob.mkdir(parents=True, exist_ok=True)
    (bob / "diary.txt").write_text("bob's secret")
    name = site.api("alice", "POST", "terminals", 200, json={})["name"]
    term = TerminalSocket(site.url, name, token="alice-pass")
    assert term.run("pwd; echo $HOME").split() == [str(site.workspace("alice"))] * 2
    assert "No such file" in term.run(f"cat {bob / 'diary.txt'} 2>&1")
    assert "Read-only file system" in term.run("touch /usr/planted 2>&1")
    environment = term.run("env")
    assert "COURSE_NAME=cs101" in environment
    assert not any(secret in environment for secret in SECRETS.values()) and "NOTEBOOK_" not in environment
    processes = term.run("ls /proc | grep -c '^[0-9]'")
    assert int(processes) <= 4  # the sandbox's init, the shell, ls, grep
    assert _terminal_sandboxes(str(site.workspace("alice")))
    site.api("alice", "DELETE", f"terminals/{name}", 204)
    wait_for(lambda: not _terminal_sandboxes(str(site.workspace("alice"))), timeout=10)
