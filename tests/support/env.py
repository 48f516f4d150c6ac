"""The test environment: where the project is, the token every test server gets, and Jupyter
directories of a test's own."""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"token {TOKEN}"}


def isolated_env(base: Path) -> dict[str, str]:
    """Environment variables that point every Jupyter directory into `base`."""
    env = {"JUPYTER_PLATFORM_DIRS": "1", "IPYTHONDIR": str(base / "ipython")}
    for name in ("CONFIG", "DATA", "RUNTIME"):
        (base / name.lower()).mkdir(parents=True, exist_ok=True)
        env[f"JUPYTER_{name}_DIR"] = str(base / name.lower())
    return env
