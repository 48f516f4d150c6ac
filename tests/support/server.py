"""The real server in a subprocess, as in production: ``python -m flask_notebook``,
gevent-patched by its own entry point, on a free loopback port, with the test token."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from . import logs
from .env import AUTH, TOKEN, isolated_env
from .kernel_client import V1, KernelClient
from .kernels import add_kernelspec
from .waiting import wait_for


class LiveServer:
    """``python -m flask_notebook --port 0`` serving `root`, its output in `log_path`. The
    constructor returns once the server has printed its URL (within 20 s)."""

    def __init__(self, root: Path, log_path: Path, args: list[str], env: dict[str, str]) -> None:
        self.root = root
        self.log_path = log_path
        self.token = TOKEN
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(self.command(root, args), stdout=self._log, stderr=subprocess.STDOUT, env=env)
        logs.started(self)
        try:
            match = wait_for(self._url_line, timeout=20)
        except BaseException:
            self.kill()
            raise
        self.url = match.group(1)  # e.g. http://127.0.0.1:PORT/
        self.port = int(match.group(2))

    def command(self, root: Path, args: list[str]) -> list[str]:
        return [sys.executable, "-m", "flask_notebook", "--port", "0", "--no-browser",
                "--root-dir", str(root), "--token", TOKEN, *args]

    def _url_line(self) -> re.Match[str] | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
        return re.search(r" at (https?://[^:/]+:(\d+)/[^?\s]*)\?token=", self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_title(self) -> str:
        return f"{type(self).__name__} log ({self.log_path})"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**AUTH, **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 30)
        return requests.request(method, self.url + path.lstrip("/"), headers=headers, **kwargs)

    def stop(self, sig: int | None = None) -> int:
        """Stop the server (SIGTERM, or `sig`), killing it if it has not exited within 10 s;
        its exit status."""
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        logs.stopped(self)
        return self.proc.returncode

    def kill(self) -> None:
        """A server that failed to start: no grace."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()
        logs.stopped(self)


class Server(LiveServer):
    """A live server with its own Jupyter directories under `base` (a ``python3`` and a
    ``broken`` kernelspec, the root in ``base/root``) and helpers for kernels."""

    def __init__(self, base: Path, args: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.base = base
        self.jupyter = isolated_env(base)
        root = base / "root"
        root.mkdir(exist_ok=True)
        add_kernelspec(base / "data", "python3", [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                  "{connection_file}"])
        add_kernelspec(base / "data", "broken", ["/nonexistent/kernel-program", "-f", "{connection_file}"])
        self.clients: list[KernelClient] = []
        super().__init__(root, base / "server.log", args or [], {**os.environ, **self.jupyter, **(env or {})})

    def stop(self, sig: int | None = None) -> int:
        for client in self.clients:  # closed at teardown even when a test fails midway
            client.ws.shutdown()
        return super().stop(sig)

    @property
    def runtime_dir(self) -> Path:
        return Path(self.jupyter["JUPYTER_RUNTIME_DIR"])

    def json(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json() if response.content else None

    def start_kernel(self, **body: Any) -> str:
        return str(self.json("POST", "api/kernels", 201, json=body)["id"])

    def connect(self, kernel_id: str, protocol: str | None = V1, **kwargs: Any) -> KernelClient:
        client = KernelClient(self.url, kernel_id, TOKEN, protocol=protocol, **kwargs)
        self.clients.append(client)
        return client

    def client(self, kernel_id: str, protocol: str | None = V1, **kwargs: Any) -> KernelClient:
        """A connected client whose kernel has answered kernel_info."""
        client = self.connect(kernel_id, protocol, **kwargs)
        client.wait_ready()
        return client

    def kernel(self, kernel_id: str) -> dict[str, Any]:
        return self.json("GET", f"api/kernels/{kernel_id}", 200)  # type: ignore[no-any-return]
