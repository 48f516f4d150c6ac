"""Conformance: our server and jupyter_server 2.21.1, side by side, answer the same requests
(tests/support/conformance.py).

``reference`` starts jupyter_server from the benchmark's environment (`.venv-bench`, which
`make test` installs); ``ours`` starts ``python -m flask_notebook``. Both get their own
Jupyter directories, the same python3 kernelspec and the same files in their roots, and the
same token, so a request means the same thing to both. Both get an empty HOME.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..support.conformance import REFERENCE_PYTHON, ReferenceServer, start_conformance_server
from ..support.server import LiveServer


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not REFERENCE_PYTHON.exists():
        pytest.fail(f"{REFERENCE_PYTHON} is missing: `make test` installs jupyter_server there (.venv-bench)")
    server = start_conformance_server(ReferenceServer, tmp_path_factory.mktemp("reference"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_conformance_server(LiveServer, tmp_path_factory.mktemp("ours"))
    yield server
    server.stop()
