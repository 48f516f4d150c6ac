"""Fixtures of the gateway tests: a real Enterprise Gateway (``support/gateway.py``), and our
server pointed at it with NOTEBOOK_GATEWAY_URL.

``gateway`` (module scope) is shared by a module's tests; a test that stops its gateway makes
its own (``make_gateway``). Everything is stopped at teardown, even when a test fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..support.gateway import Gateway
from ..support.server import Server


def gateway_env(gateway: Gateway, **extra: str) -> dict[str, str]:
    return {"NOTEBOOK_GATEWAY_URL": gateway.url, "NOTEBOOK_GATEWAY_TOKEN": gateway.token, **extra}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = Gateway(tmp_path_factory.mktemp("gateway"))
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def gw_server(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("server"), env=gateway_env(gateway))
    yield srv
    srv.stop()


@pytest.fixture
def make_gateway(tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    made: list[Gateway] = []

    def make(**kwargs: Any) -> Gateway:
        gw = Gateway(tmp_path / f"gw{len(made)}", **kwargs)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.stop()
