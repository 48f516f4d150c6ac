"""A real Jupyter Enterprise Gateway 3.3 on loopback, from ``.venv-eg`` (``make gateway``).

It runs kernels as local processes, which is what it does with pods on Kubernetes behind the
same API. Its own Jupyter directories hold one ``python3`` kernelspec run by ``.venv-eg``'s
python. It refuses kernels for the users in ``unauthorized_users`` (``root`` by default, and
tests may run as root): here only a name no test uses.

With ``tls``, it serves https with a certificate for 127.0.0.1 from the test session's CA
(`ca_file`, trustme's); ``"mutual"`` also asks every client for a certificate from that CA
(`client_cert`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any, Literal

import requests
import trustme

from .env import PROJECT, isolated_env
from .kernels import add_kernelspec
from .waiting import wait_for

EG_VENV = PROJECT / ".venv-eg"
EG_PYTHON = EG_VENV / "bin" / "python"
GATEWAY_TOKEN = "gateway-token-9876543210"
#: The one user the gateway refuses (see the module docstring).
REFUSED_USER = "refused-by-gateway"

_CA: list[trustme.CA] = []


def tls_ca() -> trustme.CA:
    """One certificate authority for the test session (gateways' and clients' certificates)."""
    if not _CA:
        _CA.append(trustme.CA())
    return _CA[0]


def ca_file(directory: Path) -> Path:
    """The CA's certificate, as a PEM file in `directory`."""
    path = directory / "ca.pem"
    tls_ca().cert_pem.write_to_path(str(path))
    return path


def issue(directory: Path, name: str, *identities: str) -> tuple[Path, Path]:
    """A certificate from the CA for `identities`: its (chain, key) PEM files in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    issued = tls_ca().issue_cert(*identities)
    cert, key = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    cert.write_bytes(b"".join(pem.bytes() for pem in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(key))
    return cert, key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> set[int]:
    """The processes under `pid` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


class Gateway:
    """``python -m enterprise_gateway`` on `port` (a free one by default), its output in
    ``base/gateway.log``; the constructor returns once it answers (within 60 s)."""

    def __init__(self, base: Path, port: int | None = None, *, token: str = GATEWAY_TOKEN,
                 extra: list[str] | None = None, tls: Literal["server", "mutual"] | None = None) -> None:
        if not EG_PYTHON.exists():
            raise AssertionError(f"{EG_PYTHON} is missing: run `make gateway`")
        self.base = base
        self.token = token
        self.port = port or free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.extra = list(extra or [])
        base.mkdir(parents=True, exist_ok=True)
        self.ca_file: Path | None = None
        self.client_cert: tuple[Path, Path] | None = None
        if tls:
            self.ca_file = ca_file(base)
            certfile, keyfile = issue(base, "gateway", "127.0.0.1")
            self.extra += [f"--certfile={certfile}", f"--keyfile={keyfile}"]
            if tls == "mutual":
                self.extra.append(f"--client-ca={self.ca_file}")
                self.client_cert = issue(base, "client", "flask-notebook@example.com")
        self.env = {**os.environ, **isolated_env(base), "PATH": f"{EG_VENV / 'bin'}:{os.environ.get('PATH', '')}"}
        for key in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
            self.env.pop(key, None)
        add_kernelspec(base / "data", "python3", [str(EG_PYTHON), "-m", "ipykernel_launcher", "-f",
                                                  "{connection_file}"])
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self._log = open(self.base / "gateway.log", "ab")
        self.proc = subprocess.Popen(
            [str(EG_PYTHON), "-m", "enterprise_gateway", "--ip=127.0.0.1", f"--port={self.port}",
             f"--EnterpriseGatewayApp.auth_token={self.token}",
             f"--EnterpriseGatewayApp.unauthorized_users=['{REFUSED_USER}']",
             "--EnterpriseGatewayApp.list_kernels=True", "--EnterpriseGatewayApp.port_retries=0", *self.extra],
            stdout=self._log, stderr=subprocess.STDOUT, env=self.env, cwd=self.base)
        try:
            wait_for(self._answers, timeout=60)
        except BaseException:
            self.stop()
            raise

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the gateway exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return self.get("api/kernelspecs").status_code == 200
        except requests.ConnectionError:
            return False

    def log(self) -> str:
        return (self.base / "gateway.log").read_text(errors="replace")

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        if self.ca_file is not None:
            kwargs.setdefault("verify", str(self.ca_file))
        if self.client_cert is not None:
            kwargs.setdefault("cert", tuple(map(str, self.client_cert)))
        return requests.get(f"{self.url}/{path}", headers={"Authorization": f"token {self.token}"}, timeout=10,
                            **kwargs)

    def kernel_ids(self) -> set[str]:
        response = self.get("api/kernels")
        assert response.status_code == 200, response.text
        return {k["id"] for k in response.json()}

    def stop(self) -> None:
        """Stop it, and every process it started (its kernels), whatever happens."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        started = _descendants(proc.pid)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for pid in started:  # those still running the gateway's python (not a reused pid)
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if str(EG_VENV).encode() in f.read():
                        os.kill(pid, signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError):
                pass
        self._log.close()
