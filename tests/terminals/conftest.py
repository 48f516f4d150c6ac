from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..support.terminal_client import TerminalSocket


@pytest.fixture(autouse=True)
def close_terminal_sockets() -> Iterator[None]:
    yield
    TerminalSocket.close_all()
