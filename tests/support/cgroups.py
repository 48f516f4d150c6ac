"""Whether the kernel limits can make cgroups here: as root (CI) they must, so a limits test
fails there rather than skip when ``core.cgroups`` falls back; only without root is it skipped."""

from __future__ import annotations

import os

import pytest

from flask_notebook.core.cgroups import KernelLimits

MiB = 1024 * 1024

#: Tests of the cgroup limits: run wherever we are root (CI is), skipped elsewhere.
needs_cgroups = pytest.mark.skipif(os.geteuid() != 0, reason="making cgroups needs root (CI runs as root)")


def require_cgroups(*, cpu: bool = False) -> None:
    """Fail, naming what fell back, unless memory (and with `cpu`, CPU) limits use cgroups."""
    limits = KernelLimits(256 * MiB, 0.5 if cpu else None)
    limits.close()
    assert limits.memory_by is not None and limits.memory_by.startswith("cgroup"), \
        f"as root, kernel memory limits should use a cgroup here, not {limits.memory_by!r}"
    assert not cpu or limits.cpu_by is not None, "as root, kernel CPU limits should use a cgroup here"
