"""The terminal registry (`core.terminals`) with no app: real processes in real ptys, with
small Python programs in place of a shell where a shell would hide what is checked."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest

from flask_notebook.core import errors
from flask_notebook.core.paths import Root
from flask_notebook.core.terminals import Terminals, TerminalClient

from ..support.terminal_client import alive


@pytest.fixture
def registry(root: Path) -> Iterator[Terminals]:
    terminals = Terminals(Root(str(root)), shell_command=["/bin/sh"])
    yield terminals
    terminals.shutdown_all()


def program(registry: Terminals, code: str) -> None:
    """Terminals of `registry` run `code` in Python instead of a shell."""
    registry.shell_command = [sys.executable, "-c", code]


def read_all(client: TerminalClient, timeout: float = 10) -> str:
    """Everything the terminal prints until it ends."""
    out = ""
    with gevent.Timeout(timeout, AssertionError(f"the terminal did not end within {timeout} s")):
        while (text := client.read()) is not None:
            out += text
    client.terminal.process.wait(timeout)  # reaped (the registry's reaper may not have run yet)
    return out


def read_until(client: TerminalClient, text: str, timeout: float = 10) -> str:
    out = ""
    with gevent.Timeout(timeout, AssertionError(f"{text!r} not printed within {timeout} s")):
        while text not in out:
            more = client.read()
            assert more is not None, out
            out += more
    return out


def test_the_pty_is_the_controlling_terminal_of_a_new_session(registry: Terminals) -> None:
    """What job control and ^C need; a shell like bash would take the pty itself, so a
    program that does not shows it: /dev/tty opens only in a process that has one."""
    program(registry, "import os; open('/dev/tty').close(); "
                      "print('ctty', os.getsid(0) == os.getpid() == os.tcgetpgrp(0))")
    client = registry.create_terminal().attach()
    assert "ctty True" in read_all(client)


def test_a_program_that_ends_ends_its_terminal(registry: Terminals) -> None:
    program(registry, "print('bye')")
    terminal = registry.create_terminal()
    assert registry.all() == [terminal]
    client = terminal.attach()
    assert read_all(client) == "bye\r\n"
    assert terminal.ended and registry.all() == []
    assert client.read() is None
    with pytest.raises(errors.NotFound, match="^Terminal not found: 1$"):
        registry.get("1")


def test_terminate_escalates_to_sigkill_within_its_deadline(registry: Terminals) -> None:
    program(registry, "import signal, time\n"
                      "for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT): signal.signal(s, signal.SIG_IGN)\n"
                      "print('stubborn', flush=True)\ntime.sleep(600)")
    terminal = registry.create_terminal()
    client = terminal.attach()
    read_until(client, "stubborn\r\n")
    started = time.monotonic()
    registry.terminate(terminal.name)
    assert time.monotonic() - started < 3
    assert not alive(terminal.pid) and terminal.ended and client.read() is None


def test_a_late_client_gets_what_was_kept_then_the_rest(registry: Terminals) -> None:
    program(registry, "import sys; print('one', flush=True); sys.stdin.readline(); print('two')")
    terminal = registry.create_terminal()
    first = terminal.attach()
    assert read_until(first, "one\r\n") == "one\r\n"
    second = terminal.attach()
    first.write("go\r")
    assert read_all(second) == "one\r\ngo\r\ntwo\r\n"  # the kept output, the echo, the rest
    assert read_all(first) == "go\r\ntwo\r\n"


def test_names_are_the_smallest_free_number_or_the_one_asked(registry: Terminals) -> None:
    assert [registry.create_terminal().name for _ in range(3)] == ["1", "2", "3"]
    registry.terminate("2")
    assert registry.create_terminal().name == "2"
    named = registry.create_terminal("work")
    assert registry.create_terminal("work") is named
    for bad in ("a-b", "", "x/y", "a b"):
        with pytest.raises(errors.Invalid):
            registry.create_terminal(bad)


def test_cwd_never_leaves_the_root(registry: Terminals, root: Path, tmp_path: Path) -> None:
    (root / "sub").mkdir()
    (root / "file.txt").write_text("x")
    (root / "out").symlink_to(tmp_path)
    real = root.resolve()
    assert registry.cwd("sub") == registry.cwd("/sub/") == registry.cwd(str(root / "sub")) == str(real / "sub")
    for outside in (None, "", "missing", "file.txt", "..", "../..", "sub/../..", "/etc", str(tmp_path), "out",
                    "\0", str(root / "sub\0")):
        assert registry.cwd(outside) == str(real), outside


def test_no_terminal_starts_after_shutdown_all(registry: Terminals) -> None:
    terminal = registry.create_terminal()
    registry.shutdown_all()
    assert not alive(terminal.pid) and registry.all() == []
    with pytest.raises(errors.Unavailable):
        registry.create_terminal()


def test_inactive_terminals_are_culled(root: Path) -> None:
    """jupyter_server_terminals' culling: a terminal with no input or output for longer than
    the timeout ends, whether or not a client is attached; an active one stays."""
    registry = Terminals(Root(str(root)), shell_command=["/bin/sh"], cull_inactive_timeout=0.5, cull_interval=0.1)
    try:
        idle, busy = registry.create_terminal(), registry.create_terminal()
        client = idle.attach()
        deadline = time.monotonic() + 10
        while not idle.ended and time.monotonic() < deadline:
            busy.write("\n")  # keeps it active: input, and the prompt it prints
            gevent.sleep(0.1)
        assert idle.ended and not busy.ended
        assert [t.name for t in registry.all()] == [busy.name]
        assert read_all(client) is not None  # the client is told: its read ends
        assert not alive(idle.pid)
    finally:
        registry.shutdown_all()


def test_no_culling_by_default(registry: Terminals) -> None:
    terminal = registry.create_terminal()
    terminal.last_activity -= 10_000
    assert registry.cull() == [] and not terminal.ended
