"""A real site with several users (tests/multiuser/site.py), each with a workspace of their
own (NOTEBOOK_USER_ROOT) and a shared folder ``course`` (NOTEBOOK_SHARED_DIRS).

Fixtures
--------
``site`` (module scope)
    The site in a subprocess, ``site.url`` ending in ``/nb/``; ``site.base`` holds ``users/``
    (the workspaces), ``shared/`` (the ``course`` folder: ``lesson.txt``) and the Jupyter dirs.
``alice``, ``bob``, ``root`` (``root`` is an administrator), ``bad`` (named ``../x``)
    ``Member`` clients of the site; ``member.api(method, path, status, ...)`` checks the status
    and answers the JSON. After each test, everything anyone started is shut down.

The kernels run unsandboxed here (NOTEBOOK_KERNEL_SANDBOX=none): these tests are about what
the API lets each user reach; the sandbox has tests of its own.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ..support.kernel_client import V1, KernelClient
from ..support.process import SiteProcess, site_env, stop_and_check
from ..support.terminal_client import TerminalSocket

SITE = Path(__file__).with_name("site.py")


class Site(SiteProcess):
    def __init__(self, base: Path) -> None:
        self.base = base
        env = site_env(base)
        (base / "shared").mkdir()
        (base / "shared" / "lesson.txt").write_text("read me\n")
        env.update(PORT="0", NOTEBOOK_USER_ROOT=str(base / "users" / "{username}"),
                   NOTEBOOK_SHARED_DIRS=json.dumps({"course": str(base / "shared")}),
                   NOTEBOOK_KERNEL_SANDBOX="none")
        super().__init__([sys.executable, str(SITE)], env, base, base / "site.log",
                         ready=r"Serving on (http://127\.0\.0\.1:\d+/)", title="multi-user site")
        self.url = self.ready.group(1) + "nb/"

    def workspace(self, username: str) -> Path:
        return self.base / "users" / username


class Member(requests.Session):
    """One user of the site, known by their bearer key (no cookies, so no XSRF)."""

    def __init__(self, site: Site, key: str) -> None:
        super().__init__()
        self.site = site
        self.key = key
        self.headers["Authorization"] = f"Bearer {key}"
        self.clients: list[KernelClient] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return super().request(method, url, *args, **kwargs)

    def api(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = self.request(method, self.site.url + "api/" + path, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def page(self, path: str) -> requests.Response:
        return self.get(self.site.url + path, allow_redirects=False)

    @property
    def header(self) -> list[str]:
        return [f"Authorization: Bearer {self.key}"]

    def kernel_client(self, kernel_id: str, session_id: str | None = None) -> KernelClient:
        client = KernelClient(self.site.url, kernel_id, None, protocol=V1, session_id=session_id, header=self.header)
        self.clients.append(client)
        return client

    def terminal(self, name: str) -> TerminalSocket:
        return TerminalSocket(self.site.url, name, token=None, header=self.header)

    def start_kernel(self, **body: Any) -> str:
        return str(self.api("POST", "kernels", 201, json={"name": "python3", **body})["id"])

    def close(self) -> None:
        for client in self.clients:
            client.ws.shutdown()
        self.clients.clear()
        super().close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    srv = Site(tmp_path_factory.mktemp("multiuser"))
    yield srv
    stop_and_check(srv)


@pytest.fixture
def root(site: Site) -> Iterator[Member]:
    """The administrator; after the test, shuts down whatever anyone started."""
    member = Member(site, "root-key")
    yield member
    member.close()
    for session in member.api("GET", "sessions", 200):
        member.api("DELETE", f"sessions/{session['id']}", 204)
    for kernel in member.api("GET", "kernels", 200):
        member.api("DELETE", f"kernels/{kernel['id']}", 204)
    for terminal in member.api("GET", "terminals", 200):
        member.api("DELETE", f"terminals/{terminal['name']}", 204)
    TerminalSocket.close_all()


@pytest.fixture
def alice(site: Site, root: Member) -> Iterator[Member]:
    member = Member(site, "alice-key")
    yield member
    member.close()


@pytest.fixture
def bob(site: Site, root: Member) -> Iterator[Member]:
    member = Member(site, "bob-key")
    yield member
    member.close()


@pytest.fixture
def bad(site: Site) -> Iterator[Member]:
    member = Member(site, "bad-key")
    yield member
    member.close()
