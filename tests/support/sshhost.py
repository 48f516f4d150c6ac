"""A second host for remote kernels: Debian's sshd in a network namespace of its own.

`SshHost` makes a network namespace with a veth pair (a private /30 per test process: the
host side for this machine, the other end in the namespace, its loopback up), runs
``/usr/sbin/sshd -D`` in it with a temporary host key and authorized_keys (a fresh ed25519
key), listening only on the namespace's address, and removes all of it on `close` (the
namespace's processes killed first). The namespace shares the filesystem, so the remote side
runs this virtualenv's python and ipykernel, as a second machine with the same image would.

`home` is a HOME for the server: ``.ssh/id_ed25519`` and a ``known_hosts`` that names the
host, which paramiko (gateway_provisioners' SSH client) reads from ``~/.ssh``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import gateway_provisioners

from .waiting import wait_for

SSHD = "/usr/sbin/sshd"
LAUNCHERS = Path(gateway_provisioners.__file__).parent / "kernel-launchers"


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=30).stdout


def _free_subnet() -> ipaddress.IPv4Network:
    """A /30 in 10.213.0.0/16 that no interface of this machine uses, chosen by pid."""
    used = _run("ip", "-o", "-4", "addr")
    start = os.getpid() % 16384
    for offset in range(16384):
        index = (start + offset) % 16384
        net = ipaddress.IPv4Network(f"10.213.{index // 64}.{(index % 64) * 4}/30")
        if f" {net[1]}/" not in used and f" {net[2]}/" not in used:
            return net
    raise RuntimeError("no free /30 in 10.213.0.0/16")


class SshHost:
    """See the module docstring. ``address``: the namespace's (sshd's); ``local_address``: this
    machine's end of the pair, which the namespace reaches (the launchers' response address)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sshhost-"))
        self.name = f"fnb{os.getpid()}"
        self.veth = (f"{self.name}h", f"{self.name}n")
        net = _free_subnet()
        self.local_address, self.address = str(net[1]), str(net[2])
        self.sshd: subprocess.Popen[bytes] | None = None
        self._netns = False
        try:
            self._network(net.prefixlen)
            self._keys()
            self._start_sshd()
        except BaseException:
            self.close()
            raise

    def _network(self, prefix: int) -> None:
        host, peer = self.veth
        _run("ip", "netns", "add", self.name)
        self._netns = True
        _run("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
        _run("ip", "link", "set", peer, "netns", self.name)
        _run("ip", "addr", "add", f"{self.local_address}/{prefix}", "dev", host)
        _run("ip", "link", "set", host, "up")
        self.exec("ip", "addr", "add", f"{self.address}/{prefix}", "dev", peer)
        self.exec("ip", "link", "set", peer, "up")
        self.exec("ip", "link", "set", "lo", "up")

    def exec(self, *args: str) -> str:
        """Run a command in the namespace; its output."""
        return _run("ip", "netns", "exec", self.name, *args)

    def _keys(self) -> None:
        ssh = self.home / ".ssh"
        ssh.mkdir(parents=True, mode=0o700)
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh / "id_ed25519"))
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.dir / "host_key"))
        shutil.copy(ssh / "id_ed25519.pub", self.dir / "authorized_keys")
        host_key = (self.dir / "host_key.pub").read_text().split()
        (ssh / "known_hosts").write_text(f"{self.address} {host_key[0]} {host_key[1]}\n")

    @property
    def home(self) -> Path:
        return self.dir / "home"

    def _start_sshd(self) -> None:
        config = self.dir / "sshd_config"
        config.write_text("\n".join([
            "Port 22", f"ListenAddress {self.address}", f"HostKey {self.dir / 'host_key'}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}", "PermitRootLogin prohibit-password",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
            f"PidFile {self.dir / 'sshd.pid'}", "",
        ]))
        os.makedirs("/run/sshd", exist_ok=True)  # its privilege separation directory
        self.log_path = self.dir / "sshd.log"
        with open(self.log_path, "wb") as log:
            self.sshd = subprocess.Popen(["ip", "netns", "exec", self.name, SSHD, "-D", "-e", "-f", str(config)],
                                         stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._listening, timeout=15)

    def _listening(self) -> bool:
        assert self.sshd is not None
        if self.sshd.poll() is not None:
            raise AssertionError(f"sshd exited: {self.log_path.read_text(errors='replace')}")
        try:
            with socket.create_connection((self.address, 22), timeout=1):
                return True
        except OSError:
            return False

    def pids(self) -> list[int]:
        """Processes running in the namespace (not zombies: an orphaned kernel is its init's to
        reap, and a container's init may not)."""
        if not self._netns:
            return []
        running = []
        for pid in _run("ip", "netns", "pids", self.name).split():
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                running.append(int(pid))
        return running

    def add_kernelspec(self, data_dir: Path, name: str, provisioner: str = "flask-notebook-ssh", **config: Any) -> None:
        """A kernelspec whose kernels `provisioner` (ours, or gateway_provisioners'
        ``distributed-provisioner`` it extends) starts on this host over SSH (its python
        launcher, assembled as ``jupyter-ssh-spec`` does)."""
        spec_dir = data_dir / "kernels" / name
        scripts = spec_dir / "scripts"
        scripts.mkdir(parents=True)
        shutil.copy(LAUNCHERS / "python" / "scripts" / "launch_ipykernel.py", scripts)
        shutil.copy(LAUNCHERS / "shared" / "scripts" / "server_listener.py", scripts)
        runtime = self.dir / "remote-runtime"
        runtime.mkdir(exist_ok=True)
        provisioner_config = {"remote_hosts": [self.address], "unauthorized_users": ["nobody-at-all"],
                              "launch_timeout": 40, **config}
        (spec_dir / "kernel.json").write_text(json.dumps({
            "display_name": f"Python on {self.address}", "language": "python",
            "argv": [sys.executable, str(scripts / "launch_ipykernel.py"), "--kernel-id", "{kernel_id}",
                     "--port-range", "{port_range}", "--response-address", "{response_address}",
                     "--public-key", "{public_key}", "--kernel-class-name", "ipykernel.ipkernel.IPythonKernel"],
            # Exported on the remote side before the launcher runs.
            "env": {"JUPYTER_RUNTIME_DIR": str(runtime)},
            "metadata": {"kernel_provisioner": {"provisioner_name": provisioner,
                                                "config": provisioner_config}},
        }))

    def server_env(self) -> dict[str, str]:
        """What the server needs to reach this host: its ``HOME`` (key, known_hosts), the
        launchers' response address on this machine's end of the pair, a kernel log folder."""
        logs = self.dir / "kernel-logs"
        logs.mkdir(exist_ok=True)
        return {"HOME": str(self.home), "GP_RESPONSE_IP": self.local_address, "GP_REMOTE_USER": "root",
                "GP_KERNEL_LOG_DIR": str(logs)}

    def close(self) -> None:
        """Stop everything in the namespace, sshd first, and remove the namespace, the pair and the files."""
        if self.sshd is not None and self.sshd.poll() is None:
            self.sshd.terminate()
            try:
                self.sshd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.sshd.kill()
                self.sshd.wait(timeout=10)
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "link", "del", self.veth[0]], capture_output=True, timeout=30)
        if self._netns:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
            self._netns = False
        shutil.rmtree(self.dir, ignore_errors=True)
