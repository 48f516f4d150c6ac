"""A real Jupyter Enterprise Gateway 3.3 on loopback, from ``.venv-eg`` (``make gateway``).

It runs kernels as local processes, which is what it does with pods on Kubernetes behind the
same API. Its own Jupyter directories hold one ``python3`` kernelspec run by ``.venv-eg``'s
python. It refuses kernels for the users in ``unauthorized_users`` (``root`` by default, and
tests may run as root): here only a name no test uses.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import requests

from .env import PROJECT, isolated_env
from .kernels import add_kernelspec
from .waiting import wait_for

EG_VENV = PROJECT / ".venv-eg"
EG_PYTHON = EG_VENV / "bin" / "python"
GATEWAY_TOKEN = "gateway-token-9876543210"
#: The one user the gateway refuses (see the module docstring).
REFUSED_USER = "refused-by-gateway"


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
                 extra: list[str] | None = None) -> None:
        if not EG_PYTHON.exists():
            raise AssertionError(f"{EG_PYTHON} is missing: run `make gateway`")
        self.base = base
        self.token = token
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = extra or []
        base.mkdir(parents=True, exist_ok=True)
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
