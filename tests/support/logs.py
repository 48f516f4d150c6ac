"""The logs of the processes a test ran (servers, gunicorn, nginx, the example site), for its
failure report.

A process that writes a log calls `started(source)` when it starts and `stopped(source)` when
it has stopped. The root conftest calls `begin_test()` before each test's setup and, when the
test fails (in setup, call or teardown), adds `sections()` to its report: one section per
process that was running at the start of the test or started during it, module-scoped
servers included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

#: How much of the end of each log a failure report shows.
TAIL = 20_000


class LogSource(Protocol):
    def log(self) -> str: ...

    def log_title(self) -> str: ...


class FileLog:
    """A file another process writes (an access log, say), under `title`."""

    def __init__(self, title: str, path: Path) -> None:
        self.title, self.path = title, path

    def log(self) -> str:
        return self.path.read_text(errors="replace") if self.path.exists() else "(not written)"

    def log_title(self) -> str:
        return f"{self.title} ({self.path})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileLog) and (other.title, other.path) == (self.title, self.path)

    def __hash__(self) -> int:
        return hash((self.title, self.path))


_running: list[LogSource] = []
_this_test: list[LogSource] = []


def started(source: LogSource) -> None:
    if source not in _running:
        _running.append(source)
    if source not in _this_test:
        _this_test.append(source)


def stopped(source: LogSource) -> None:
    if source in _running:
        _running.remove(source)


def begin_test() -> None:
    _this_test[:] = _running


def sections() -> list[tuple[str, str]]:
    """(title, the log's last `TAIL` characters) for every process the current test ran."""
    found = []
    for source in _this_test:
        try:
            text = source.log()
        except OSError as exc:
            text = f"(the log could not be read: {exc})"
        found.append((source.log_title(), text[-TAIL:]))
    return found
