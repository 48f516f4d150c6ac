"""A real host site with many users (``host_site.py`` in a subprocess), for the limits.

Fixtures
--------
``start_site(**settings)``
    Starts the site with ``NOTEBOOK_*`` settings (``max_kernels_per_user=2`` becomes
    ``NOTEBOOK_MAX_KERNELS_PER_USER=2``; a ``env`` mapping adds other variables) and its own
    Jupyter directories with a ``python3`` kernelspec. ``site.user("alice")`` is a client
    acting as alice. Teardown stops the site (SIGTERM) and checks that no kernel is left.

A failing test's report carries the site's log (root conftest).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ..support import logs
from ..support.env import isolated_env
from ..support.kernel_client import V1, KernelClient
from ..support.kernels import add_kernelspec, kernel_processes
from ..support.waiting import wait_for

HOST_SITE = Path(__file__).with_name("host_site.py")


class HostSite:
    """``python host_site.py`` with `settings` in its environment; ``url`` ends in ``/nb/``."""

    def __init__(self, base: Path, settings: dict[str, Any], env: dict[str, str] | None = None) -> None:
        self.base = base
        self.jupyter = isolated_env(base)
        add_kernelspec(base / "data", "python3", [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                  "{connection_file}"])
        self.root = base / "root"
        self.root.mkdir()
        environ = {key: value for key, value in os.environ.items() if not key.startswith("NOTEBOOK_")}
        environ.update(self.jupyter, NOTEBOOK_ROOT_DIR=str(self.root), **(env or {}))
        for name, value in settings.items():
            environ["NOTEBOOK_" + name.upper()] = value if isinstance(value, str) else json.dumps(value)
        self.log_path = base / "site.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, str(HOST_SITE)], stdout=self._log, stderr=subprocess.STDOUT,
                                     env=environ, cwd=base)
        logs.started(self)
        try:
            match = wait_for(self._ready, timeout=30)
        except AssertionError:
            self.stop()
            raise
        self.url = match.group(1)

    def _ready(self) -> re.Match[str] | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"the site exited with {self.proc.returncode}:\n{self.log()}")
        return re.search(r"Serving on (http://127\.0\.0\.1:\d+/nb/)", self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_title(self) -> str:
        return f"limits host site log ({self.log_path})"

    @property
    def runtime_dir(self) -> Path:
        return Path(self.jupyter["JUPYTER_RUNTIME_DIR"])

    def user(self, name: str) -> User:
        return User(self, name)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if not self._log.closed:
            self._log.close()
            logs.stopped(self)


class User:
    """A client of the site acting as `name` (its ``Authorization: Bearer`` header)."""

    def __init__(self, site: HostSite, name: str) -> None:
        self.site = site
        self.name = name
        self.headers = {"Authorization": f"Bearer {name}"}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return requests.request(method, self.site.url + path, headers=self.headers, **kwargs)

    def api(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = self.request(method, "api/" + path, **kwargs)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json() if response.content else None

    def start_kernel(self) -> str:
        return str(self.api("POST", "kernels", 201, json={})["id"])

    def run(self, kernel_id: str, code: str, timeout: float = 60) -> dict[str, Any]:
        """The record of `code` run on the kernel (``POST /api/kernels/<id>/execute``, waited for)."""
        record: dict[str, Any] = self.api("POST", f"kernels/{kernel_id}/execute", 200, json={"code": code},
                                          timeout=timeout)
        return record

    def stdout(self, kernel_id: str, code: str) -> str:
        record = self.run(kernel_id, code)
        assert record["status"] == "ok", record
        return "".join(o.get("text", "") for o in record["outputs"] if o["output_type"] == "stream")

    def connect(self, kernel_id: str) -> KernelClient:
        return KernelClient(self.site.url, kernel_id, None, protocol=V1,
                            header=[f"Authorization: Bearer {self.name}"])


@pytest.fixture
def start_site(tmp_path: Path) -> Iterator[Callable[..., HostSite]]:
    sites: list[HostSite] = []

    def start(env: dict[str, str] | None = None, **settings: Any) -> HostSite:
        site = HostSite(tmp_path / f"site-{len(sites)}", settings, env)
        sites.append(site)
        return site

    yield start
    for site in sites:
        site.stop()
        wait_for(lambda: not kernel_processes(site.runtime_dir), timeout=10)
