"""Conformance: our server and jupyter_server 2.21.1, side by side, answer the same requests.

``reference`` starts jupyter_server from the benchmark's environment (`.venv-bench`, which
`make test` installs); ``ours`` starts ``python -m flask_notebook``. Both get their own
Jupyter directories, the same python3 kernelspec and the same files in their roots, and the
same token, so a request means the same thing to both. Both get an empty HOME.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import TOKEN, LiveServer, isolated_env, wait_for
from ..kernels.conftest import add_kernelspec

PROJECT = Path(__file__).parent.parent.parent
#: jupyter_server 2.21.1 lives only here (Makefile: BENCH_VENV, installed by `make test`).
REFERENCE_PYTHON = Path(os.environ.get("REFERENCE_PYTHON", PROJECT / ".venv-bench" / "bin" / "python"))


def seed_root(root: Path) -> None:
    """The same few files in both roots, so paths that exist exist on both servers."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sub").mkdir(exist_ok=True)
    (root / "a.txt").write_text("text\n")
    (root / "sub" / "b.txt").write_text("b\n")
    (root / "n.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n')


class ReferenceServer(LiveServer):
    """jupyter_server 2.21.1 on a free loopback port (`--port=0`), our token, its own dirs."""

    def command(self, root: Path, args: list[str]) -> list[str]:
        return [str(REFERENCE_PYTHON), "-m", "jupyter_server", "--no-browser", "--allow-root",
                "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", *args]

    def _url_line(self) -> re.Match[str] | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"jupyter_server exited with {self.proc.returncode}:\n{self.log()}")
        return re.search(r"(http://127\.0\.0\.1:(\d+)/)\S*\?token=", self.log())


def _start(kind: type[LiveServer], base: Path) -> LiveServer:
    jupyter = isolated_env(base)
    python = str(REFERENCE_PYTHON) if kind is ReferenceServer else sys.executable
    add_kernelspec(base / "data", "python3", [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"])
    seed_root(base / "root")
    # An empty HOME, so the login shells of the terminals schemathesis starts never run this
    # machine's profile (slow: ``pyenv init``, with a lock), as in tests/terminals.
    (base / "home").mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NOTEBOOK_", "JUPYTER_"))}
    return kind(base / "root", base / "server.log", [], {**env, **jupyter, "HOME": str(base / "home")})


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not REFERENCE_PYTHON.exists():
        pytest.fail(f"{REFERENCE_PYTHON} is missing: `make test` installs jupyter_server there (.venv-bench)")
    server = _start(ReferenceServer, tmp_path_factory.mktemp("reference"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = _start(LiveServer, tmp_path_factory.mktemp("ours"))
    yield server
    server.stop()
