"""Conformance: our server and jupyter_server 2.21.1, side by side, answer the same requests.

``ReferenceServer`` runs jupyter_server from the benchmark's environment (`.venv-bench`, which
`make test` installs); `start_conformance_server` starts it or ``python -m flask_notebook`` with its
own Jupyter directories, the same python3 kernelspec, the same files in its root, the same
token and an empty HOME, so a request means the same thing to both.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from .env import PROJECT, TOKEN, isolated_env
from .kernels import add_kernelspec
from .server import LiveServer

#: jupyter_server 2.21.1 lives only here (Makefile: BENCH_VENV, installed by `make test`).
REFERENCE_PYTHON = Path(os.environ.get("REFERENCE_PYTHON", PROJECT / ".venv-bench" / "bin" / "python"))
#: jupyter_server's own api.yaml, in the project's shared reference material (beside the clone;
#: ``REFERENCE_SPEC`` points elsewhere, e.g. from a worktree).
REFERENCE_SPEC = Path(os.environ.get("REFERENCE_SPEC",
                                     PROJECT.parent / "shared" / "reference" / "jupyter_server_api.yaml"))


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


def start_conformance_server(kind: type[LiveServer], base: Path) -> LiveServer:
    jupyter = isolated_env(base)
    python = str(REFERENCE_PYTHON) if kind is ReferenceServer else sys.executable
    add_kernelspec(base / "data", "python3", [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"])
    seed_root(base / "root")
    # An empty HOME, so the login shells of the terminals schemathesis starts never run this
    # machine's profile (slow: ``pyenv init``, with a lock), as in tests/terminals.
    (base / "home").mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NOTEBOOK_", "JUPYTER_"))}
    return kind(base / "root", base / "server.log", [], {**env, **jupyter, "HOME": str(base / "home")})
