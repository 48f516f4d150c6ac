"""Start-up with the sandbox on: bubblewrap must be there and work, or the server does not
start (nothing silently runs unsandboxed); the settings that cannot go with it are refused."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flask_notebook.factory import create_app

from ..support.env import TOKEN


def _start(tmp_path: Path, path: str) -> subprocess.CompletedProcess[str]:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": path, "NOTEBOOK_KERNEL_SANDBOX": "bubblewrap"}
    return subprocess.run([sys.executable, "-m", "flask_notebook", "--port", "0", "--no-browser", "--root-dir",
                           str(root), "--token", TOKEN], env=env, capture_output=True, text=True, timeout=60)


def test_start_up_fails_with_a_remedy_when_bwrap_is_missing(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    done = _start(tmp_path, str(empty))
    assert done.returncode == 2
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith('flask-notebook: NOTEBOOK_KERNEL_SANDBOX is "bubblewrap" but bubblewrap (bwrap) is '
                              "not installed")
    assert "apt-get install bubblewrap" in message and 'NOTEBOOK_KERNEL_SANDBOX = "none"' in message
    assert "Serving" not in done.stdout + done.stderr


def test_start_up_fails_when_bwrap_cannot_make_a_sandbox(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    done = _start(tmp_path, str(fake))
    assert done.returncode == 2
    assert f"{fake / 'bwrap'} cannot make a sandbox here: bwrap: No permissions to create new namespace" in done.stderr


def test_kernel_pool_with_per_user_sandboxes_is_refused(root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NOTEBOOK_KERNEL_POOL cannot be used with per-user sandboxes "
                                         r"\(NOTEBOOK_USER_ROOT with NOTEBOOK_KERNEL_SANDBOX"):
        create_app({"NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN, "NOTEBOOK_KERNEL_POOL": {"python3": 1},
                    "NOTEBOOK_USER_ROOT": str(tmp_path / "users" / "{username}")})


def test_user_root_without_a_sandbox_warns(root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="flask_notebook.extension"):
        app = create_app({"NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN, "NOTEBOOK_KERNEL_SANDBOX": "none",
                          "NOTEBOOK_USER_ROOT": str(tmp_path / "users" / "{username}")})
    app.extensions["notebook"].shutdown_all()
    assert any("NOTEBOOK_USER_ROOT is set and the kernel sandbox is off" in r.getMessage() for r in caplog.records)
    assert app.extensions["notebook"].kernels.confine is None

