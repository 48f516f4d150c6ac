"""The example site (``examples/embedded_site``) as a real server, and its users: the notebook
mounted in a host site that has its own login."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from . import logs
from .env import PROJECT, isolated_env
from .kernel_client import V1, KernelClient
from .kernels import add_kernelspec, kernel_processes
from .waiting import wait_for

EXAMPLE = PROJECT / "examples" / "embedded_site"
#: The lines each way of serving prints once it listens.
_READY = {
    "python": re.compile(r"Serving on (http://127\.0\.0\.1:(\d+)/)"),
    "gunicorn": re.compile(r"Listening at: (http://127\.0\.0\.1:(\d+))"),
}


class Site:
    """The example site in a subprocess: ``python app.py``, or gunicorn with the gevent worker."""

    def __init__(self, base: Path, server: str = "python") -> None:
        self.jupyter = isolated_env(base)
        add_kernelspec(base / "data", "python3", [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                  "{connection_file}"])
        self.root = base / "root"
        self.root.mkdir()
        env = {key: value for key, value in os.environ.items() if not key.startswith("NOTEBOOK_")}
        env.update(self.jupyter, NOTEBOOK_ROOT_DIR=str(self.root), PORT="0", SECRET_KEY="test-secret-key")
        if server == "python":
            command = [sys.executable, str(EXAMPLE / "app.py")]
        else:
            command = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "-b", "127.0.0.1:0",
                       "--chdir", str(EXAMPLE), "app:app"]
        self.log_path = base / "site.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=base)
        logs.started(self)
        try:
            match = wait_for(lambda: self._ready(_READY[server]), timeout=30)
        except AssertionError as exc:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self._log.close()
            logs.stopped(self)
            raise AssertionError(f"the site did not start ({exc}):\n{self.log()}") from None
        self.url = match.group(1).rstrip("/") + "/"

    def _ready(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"it exited with {self.proc.returncode}")
        return pattern.search(self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_title(self) -> str:
        return f"site log ({self.log_path})"

    @property
    def runtime_dir(self) -> Path:
        return Path(self.jupyter["JUPYTER_RUNTIME_DIR"])

    def login(self, username: str = "ada", password: str = "lovelace") -> User:
        """A session logged in through the site's own form, as a browser does it."""
        user = User(self)
        response = user.post(self.url + "login", data={"username": username, "password": password},
                             allow_redirects=False)
        assert response.status_code == 302, (response.status_code, response.text)
        # A notebook page gives out the _xsrf cookie, as it does to the browser.
        assert user.get(self.url + "notebook/tree/").status_code == 200
        assert user.xsrf
        return user

    def stop(self) -> int:
        """SIGTERM, as systemd or docker stop would send; the site stops its kernels."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                self._log.close()
                logs.stopped(self)
                raise AssertionError(f"the site ignored SIGTERM:\n{self.log()}") from None
        self._log.close()
        logs.stopped(self)
        return self.proc.returncode


class User(requests.Session):
    """A browser-like client of the site: cookies only, never a token."""

    def __init__(self, site: Site) -> None:
        super().__init__()
        self.site = site
        self.clients: list[KernelClient] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, *args, **kwargs)

    @property
    def xsrf(self) -> str | None:
        return self.cookies.get("_xsrf", path="/notebook/")

    def api(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        """A notebook API call with the cookies, plus the XSRF header on unsafe methods."""
        headers = {**kwargs.pop("headers", {})}
        if method not in ("GET", "HEAD") and self.xsrf:
            headers["X-XSRFToken"] = self.xsrf
        response = self.request(method, self.site.url + "notebook/api/" + path, headers=headers, **kwargs)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json() if response.content else None

    def kernel_client(self, kernel_id: str) -> KernelClient:
        """The kernel WebSocket with this session's cookies and no token."""
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        client = KernelClient(self.site.url + "notebook/", kernel_id, None, protocol=V1,
                              header=[f"Cookie: {cookie}"])
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.ws.shutdown()
        self.clients.clear()
        super().close()


def stop_and_check(site: Site) -> None:
    """Stop `site` as systemd would; it must exit 0 and leave no kernel running."""
    assert site.stop() == 0, site.log()
    wait_for(lambda: not kernel_processes(site.runtime_dir), timeout=15)
