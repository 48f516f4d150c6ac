"""`make assets` rebuilds the notebook bundle when, and only when, one of its sources changed.

esbuild names every file the bundle is made from (``scripts/build-assets.mjs --inputs``); for
each one outside node_modules, ``make --question --what-if=FILE assets`` (FILE taken as just
modified, nothing touched) must say the bundle is out of date. node_modules changes only through
``npm ci``, which the stamp depends on through package-lock.json.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .support.env import PROJECT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=PROJECT, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def bundle_sources() -> list[str]:
    if shutil.which("make") is None or shutil.which("node") is None:
        pytest.fail("make and node are needed: `make install` builds the bundle with them")
    done = run("node", "scripts/build-assets.mjs", "--inputs")
    assert done.returncode == 0, done.stderr
    inputs = done.stdout.split()
    assert "flask_notebook/static/flask_notebook/src/notebook/main.js" in inputs
    return [path for path in inputs if not path.startswith("node_modules/")]


def test_the_bundle_is_up_to_date() -> None:
    """Otherwise the browser tests would run an old bundle: `make assets` first."""
    assert run("make", "--question", "assets").returncode == 0


def test_a_change_to_any_source_of_the_bundle_rebuilds_it(bundle_sources: list[str]) -> None:
    assert "flask_notebook/static/flask_notebook/js/api.js" in bundle_sources  # outside src/
    stale = [path for path in bundle_sources
             if run("make", "--question", f"--what-if={path}", "assets").returncode != 1]
    assert not stale, f"the Makefile's asset stamp does not depend on {stale}"
