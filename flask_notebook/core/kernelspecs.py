"""Kernelspecs through jupyter_client's KernelSpecManager (contract section 7)."""

from __future__ import annotations

import logging
import os
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

from . import errors

log = logging.getLogger(__name__)


class Kernelspecs:
    """The installed kernelspecs. Names are case-insensitive, as jupyter_client lower-cases them."""

    def __init__(self, *, default_name: str) -> None:
        self.manager = KernelSpecManager()
        self.default_name = default_name

    def all_specs(self) -> dict[str, dict[str, Any]]:
        """{name: {"name", "spec", "resource_files"}}. Specs that fail to load are skipped and logged."""
        specs: dict[str, dict[str, Any]] = {}
        for name, resource_dir in self.manager.find_kernel_specs().items():
            try:
                specs[name] = self.get_spec(name, resource_dir=resource_dir)
            except Exception:  # a broken kernel.json must not hide the others
                log.warning("skipping kernelspec %s: it failed to load", name, exc_info=True)
        return specs

    def get_spec(self, name: str, *, resource_dir: str | None = None) -> dict[str, Any]:
        """:raises errors.NotFound: no kernelspec of that name."""
        name = name.lower()
        try:
            spec = self.manager.get_kernel_spec(name)
        except NoSuchKernel as exc:
            raise errors.NotFound(f"Kernel spec {name} not found") from exc
        resource_dir = resource_dir or spec.resource_dir
        return {"name": name, "spec": spec.to_dict(), "resource_files": _resource_files(resource_dir)}

    def resource_dir(self, name: str) -> str:
        """:raises errors.NotFound: no kernelspec of that name."""
        try:
            return str(self.manager.get_kernel_spec(name.lower()).resource_dir)
        except NoSuchKernel as exc:
            raise errors.NotFound(f"Kernel spec {name} not found") from exc


def _resource_files(resource_dir: str) -> dict[str, str]:
    """{resource key: file name}: kernel.js, kernel.css and every logo-* file, keyed without extension."""
    files: dict[str, str] = {}
    try:
        names = os.listdir(resource_dir)
    except OSError:
        return files
    for filename in sorted(names):
        if filename in ("kernel.js", "kernel.css"):
            files[filename] = filename
        elif filename.startswith("logo-"):
            files[os.path.splitext(filename)[0]] = filename
    return files
