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
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ..support.kernel_client import V1, KernelClient
from ..support.kernels import kernel_processes
from ..support.process import SiteProcess, site_env
from ..support.waiting import wait_for

HOST_SITE = Path(__file__).with_name("host_site.py")


class HostSite(SiteProcess):
    """``python host_site.py`` with `settings` in its environment; ``url`` ends in ``/nb/``."""

    def __init__(self, base: Path, settings: dict[str, Any], env: dict[str, str] | None = None) -> None:
        self.base = base
        self.root = base / "root"
        environ = site_env(base)
        environ.update(env or {})
        for name, value in settings.items():
            environ["NOTEBOOK_" + name.upper()] = value if isinstance(value, str) else json.dumps(value)
        super().__init__([sys.executable, str(HOST_SITE)], environ, base, base / "site.log",
                         ready=r"Serving on (http://127\.0\.0\.1:\d+/nb/)", title="limits host site",
                         stop_timeout=20)
        self.url = self.ready.group(1)

    def user(self, name: str) -> User:
        return User(self, name)


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
