"""A kernel's TCP ports are held by its provisioner from the moment they are chosen.

Otherwise any other process may take one before the kernel binds it, and ipykernel then
hangs, alive but deaf (seen in CI: ``ZMQError: Address already in use``).
"""

from __future__ import annotations

import errno
import json
import socket
from pathlib import Path

import pytest

from jupyter_client.manager import KernelManager
from jupyter_core.utils import run_sync

from flask_notebook.core.provisioner import PORT_NAMES as _PORT_NAMES
from flask_notebook.core.provisioner import HeldPortsProvisioner


def _bind(port: int) -> socket.socket:
    """A listener as another program would open it (no SO_REUSEADDR)."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


class _Manager(KernelManager):
    """A kernel manager with our provisioner, whose ``write_connection_file`` is what the
    provisioner's ``pre_launch`` does before a launch: hold the ports and write the file."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.provisioner = HeldPortsProvisioner(kernel_id="x", kernel_spec=self.kernel_spec, parent=self)
        self.preparing = False

    def write_connection_file(self, **kwargs: object) -> None:
        if self.preparing:  # the provisioner's own call
            super().write_connection_file(**kwargs)
            return
        self.preparing = True
        try:
            run_sync(self.provisioner.pre_launch)()
        finally:
            self.preparing = False


def _manager(tmp_path: Path) -> _Manager:
    return _Manager(connection_file=str(tmp_path / "kernel-x.json"), ip="127.0.0.1")


def test_chosen_ports_cannot_be_taken_until_the_kernel_is_gone(tmp_path: Path) -> None:
    km = _manager(tmp_path)
    km.write_connection_file()
    info = json.loads((tmp_path / "kernel-x.json").read_text())
    ports = [info[name] for name in _PORT_NAMES]
    assert all(ports) and ports == [getattr(km, name) for name in _PORT_NAMES]
    for port in ports:
        with pytest.raises(OSError) as caught:
            _bind(port)
        assert caught.value.errno == errno.EADDRINUSE
    # The kernel itself binds them: libzmq's listeners set SO_REUSEADDR.
    kernel_side = []
    for port in ports:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
        kernel_side.append(sock)
    for sock in kernel_side:
        sock.close()
    km.cleanup_resources(restart=True)  # a restart on the same ports keeps them
    with pytest.raises(OSError):
        _bind(ports[0])
    km.cleanup_resources()
    for port in ports:
        _bind(port).close()


def test_a_port_taken_before_it_is_held_is_replaced(tmp_path: Path) -> None:
    km = _manager(tmp_path)
    squatter = _bind(0)
    taken = squatter.getsockname()[1]
    km.shell_port = taken
    km.write_connection_file()
    assert km.shell_port not in (0, taken)
    assert json.loads((tmp_path / "kernel-x.json").read_text())["shell_port"] == km.shell_port
    squatter.close()
    km.cleanup_resources()


def test_new_ports_after_a_restart_are_held_and_the_old_ones_let_go(tmp_path: Path) -> None:
    km = _manager(tmp_path)
    km.write_connection_file()
    old = km.iopub_port
    km.iopub_port = 0  # what a restart with new ports does (cleanup_random_ports)
    km.cleanup_connection_file()
    km.write_connection_file()
    assert km.iopub_port and km.iopub_port != old
    _bind(old).close()
    with pytest.raises(OSError):
        _bind(km.iopub_port)
    km.cleanup_resources()
