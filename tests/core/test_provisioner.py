"""Kernels are launched through jupyter_client's public seam, a kernel provisioner: ours
(`core.provisioner.HeldPortsProvisioner`, registered under the entry point group
``jupyter_client.kernel_provisioners``) for kernelspecs that name none; a kernelspec that
names one keeps it. The registry, not jupyter_client's manager, holds each kernel's restarter.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import entry_points
from pathlib import Path

import gevent
import pytest
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from flask_notebook.core import provisioner
from flask_notebook.core.kernels import GeventRestarter, KernelRegistry
from flask_notebook.core.kernelspecs import Kernelspecs


def _spec(**metadata: object) -> KernelSpec:
    return KernelSpec(argv=[sys.executable, "-c", "pass"], display_name="t", language="python", metadata=metadata)


def test_the_installed_package_registers_the_provisioner_entry_point() -> None:
    # `pip install -e .` (make install) writes it into the package's metadata.
    [entry] = [ep for ep in entry_points(group="jupyter_client.kernel_provisioners") if ep.name == provisioner.NAME]
    assert entry.load() is provisioner.HeldPortsProvisioner


def test_a_kernelspec_naming_no_provisioner_gets_ours_and_one_naming_a_provisioner_keeps_it() -> None:
    factory = provisioner.factory()
    ours = factory.create_provisioner_instance("k1", _spec(), parent=None)
    assert type(ours) is provisioner.HeldPortsProvisioner
    named = _spec(kernel_provisioner={"provisioner_name": "local-provisioner"})
    theirs = factory.create_provisioner_instance("k2", named, parent=None)
    assert type(theirs) is LocalProvisioner


def test_the_process_wide_provisioner_default_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KernelProvisionerFactory.default_provisioner_name_env, raising=False)
    provisioner.factory()
    KernelRegistry(Kernelspecs(default_name="python3"))
    # A host application's own kernel managers still get jupyter_client's default.
    assert KernelProvisionerFactory.instance().default_provisioner_name == "local-provisioner"


def test_a_registry_kernel_runs_under_our_provisioner_and_the_kernel_holds_its_restarter(
        jupyter_env: Path, tmp_path: Path) -> None:
    spec_dir = jupyter_env / "data" / "kernels" / "sleeper"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", "import time; time.sleep(60)", "{connection_file}"],
        "display_name": "sleeper", "language": "python"}))
    registry = KernelRegistry(Kernelspecs(default_name="sleeper"))
    try:
        kernel = registry.start_kernel("sleeper", cwd=str(tmp_path))
        assert type(kernel.km.provisioner) is provisioner.HeldPortsProvisioner
        assert isinstance(kernel.restarter, GeventRestarter) and kernel.restarter.kernel_manager is kernel.km
        assert kernel.alive and kernel.process.pid == kernel.pid
        assert registry.list_kernels() == [kernel] and registry.get_kernel(kernel.id) is kernel
        held = dict(kernel.km.provisioner.held)
        assert sorted(held) == sorted(provisioner.PORT_NAMES)
        process = kernel.process
        registry.shutdown_kernel(kernel.id, grace=0)
        with gevent.Timeout(10):
            while process.poll() is None:
                gevent.sleep(0.05)
        assert not kernel.alive
        assert all(sock.fileno() == -1 for sock in held.values())  # the ports were let go
    finally:
        registry.shutdown_all()
