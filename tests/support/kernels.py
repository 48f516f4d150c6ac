"""Kernelspecs for a test's own Jupyter data directory, and the kernel processes left running."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def kernel_processes(runtime_dir: Path) -> list[int]:
    """Pids of live processes started with a connection file in `runtime_dir`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(runtime_dir) in cmdline and state != "Z":
            pids.append(int(entry))
    return pids


def add_kernelspec(data_dir: Path, name: str, argv: list[str], **extra: Any) -> None:
    spec_dir = data_dir / "kernels" / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": name, "language": "python",
                                                      **extra}))


def add_vanishing_kernelspec(base: Path) -> Path:
    """A kernelspec "vanishing" whose argv starts with a script in `base` that runs ipykernel:
    move or remove the script (the returned path) and the kernel can no longer be started."""
    program = base / "kernel-program"
    program.write_text(f"#!/bin/sh\nexec {sys.executable} -m ipykernel_launcher \"$@\"\n")
    program.chmod(0o755)
    add_kernelspec(base / "data", "vanishing", [str(program), "-f", "{connection_file}"])
    return program
