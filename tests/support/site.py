"""The example site (``examples/embedded_site``) as a real server, and its users: the notebook
mounted in a host site that has its own login."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import requests

from .env import PROJECT
from .kernel_client import V1, KernelClient
from .process import SiteProcess, site_env

EXAMPLE = PROJECT / "examples" / "embedded_site"
#: The lines each way of serving prints once it listens.
_READY = {
    "python": r"Serving on (http://127\.0\.0\.1:(\d+)/)",
    "gunicorn": r"Listening at: (http://127\.0\.0\.1:(\d+))",
}


class Site(SiteProcess):
    """The example site in a subprocess: ``python app.py``, or gunicorn with the gevent worker."""

    def __init__(self, base: Path, server: str = "python") -> None:
        self.root = base / "root"
        env = site_env(base)
        env.update(PORT="0", SECRET_KEY="test-secret-key")
        if server == "python":
            command = [sys.executable, str(EXAMPLE / "app.py")]
        else:
            command = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "-b", "127.0.0.1:0",
                       "--chdir", str(EXAMPLE), "app:app"]
        super().__init__(command, env, base, base / "site.log", ready=_READY[server], title="site")
        self.url = self.ready.group(1).rstrip("/") + "/"

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
        code = super().stop()
        if self.ignored_sigterm:
            raise AssertionError(f"the site ignored SIGTERM:\n{self.log()}")
        return code


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
