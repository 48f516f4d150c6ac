"""Deployment: gunicorn with gunicorn.conf.py, and Debian's nginx with deploy/nginx.conf, as
real processes on 127.0.0.1 in front of real kernels.

``GunicornServer`` is ``Server`` (own Jupyter directories, a python3 kernelspec, kernel
helpers) started as ``gunicorn -c gunicorn.conf.py app:app``. ``Nginx`` runs deploy/nginx.conf,
its ports and paths rewritten for the test, in the foreground with everything it writes in a
temporary directory. `make test` installs nginx.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from . import logs
from .env import PROJECT, TOKEN
from .server import Server
from .waiting import wait_for

NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
NGINX_CONF = PROJECT / "deploy" / "nginx.conf"
#: Where deploy/nginx.conf serves the notebook.
PREFIX = "/jupyter/"


class GunicornServer(Server):
    """``gunicorn -c gunicorn.conf.py app:app`` on a free loopback port, configured as a
    deployment would be: by environment variables."""

    def __init__(self, base: Path, env: dict[str, str] | None = None, token: str | None = TOKEN) -> None:
        env = {"NOTEBOOK_ROOT_DIR": str(base / "root"), **(env or {})}
        if token is not None:
            env["NOTEBOOK_TOKEN"] = token
        super().__init__(base, [], env)
        self.url += "/"

    def command(self, root: Path, args: list[str]) -> list[str]:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        return [str(gunicorn), "-c", str(PROJECT / "gunicorn.conf.py"), "--chdir", str(PROJECT),
                "-b", "127.0.0.1:0", *args]

    def _url_line(self) -> re.Match[str] | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"gunicorn exited with {self.proc.returncode}:\n{self.log()}")
        return re.search(r"Listening at: (http://127\.0\.0\.1:(\d+))", self.log())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def render_site(upstream_port: int, port: int, log_dir: Path, tls: tuple[Path, Path] | None = None) -> str:
    """deploy/nginx.conf with loopback ports and a log in `log_dir`; with `tls` (certificate,
    key), its commented TLS lines in use instead of port 80. Every line rewritten must be
    there as shipped, so the test always runs the example's own directives."""
    text = NGINX_CONF.read_text()

    def replace(old: str, new: str) -> None:
        nonlocal text
        assert text.count(old) == 1, f"deploy/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)

    replace("    server 127.0.0.1:8888;", f"    server 127.0.0.1:{upstream_port};")
    replace("/var/log/nginx/flask-notebook.access.log", str(log_dir / "flask-notebook.access.log"))
    if tls is None:
        replace("    listen 80;", f"    listen 127.0.0.1:{port};")
    else:
        certfile, keyfile = tls
        replace("    listen 80;\n", "")
        replace("    # listen 443 ssl;", f"    listen 127.0.0.1:{port} ssl;")
        replace("    # ssl_certificate     /etc/ssl/certs/notebooks.example.com.pem;",
                f"    ssl_certificate {certfile};")
        replace("    # ssl_certificate_key /etc/ssl/private/notebooks.example.com.key;",
                f"    ssl_certificate_key {keyfile};")
    return text


class Nginx:
    """Debian's nginx in the foreground, one process (no user switching), all its files in
    `base`. `url` is the notebook's public URL, ending in /jupyter/."""

    def __init__(self, base: Path, upstream_port: int, tls: tuple[Path, Path] | None = None) -> None:
        if not os.access(NGINX, os.X_OK):
            pytest.fail(f"{NGINX} is missing: `make test` installs Debian's nginx")
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.error_log = base / "error.log"
        self.access_log = base / "flask-notebook.access.log"
        self.proc: subprocess.Popen[bytes] | None = None
        try:
            for _ in range(5):  # a port picked free may be taken before nginx binds it
                self.port = free_port()
                if self._start(upstream_port, tls):
                    break
            else:
                raise AssertionError(f"nginx did not start:\n{self.log()}")
        except BaseException:
            self.stop()
            raise
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}{PREFIX}"

    def _start(self, upstream_port: int, tls: tuple[Path, Path] | None) -> bool:
        (self.base / "site.conf").write_text(self.site(upstream_port, tls))
        (self.base / "nginx.conf").write_text(f"""
daemon off;
master_process off;
pid {self.base}/nginx.pid;
error_log {self.error_log} info;
events {{ worker_connections 1024; }}
http {{
    access_log {self.base}/access.log;
    client_body_temp_path {self.base}/client_body;
    proxy_temp_path {self.base}/proxy;
    fastcgi_temp_path {self.base}/fastcgi;
    uwsgi_temp_path {self.base}/uwsgi;
    scgi_temp_path {self.base}/scgi;
    include {self.base}/site.conf;
}}
""")
        with open(self.base / "stderr.log", "ab") as out:
            self.proc = subprocess.Popen([NGINX, "-p", str(self.base), "-e", str(self.error_log),
                                          "-c", str(self.base / "nginx.conf")], stdout=out, stderr=out)
        logs.started(self)
        logs.started(logs.FileLog("nginx access log", self.access_log))

        def started() -> str | None:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return "exited"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return "listening"
            except OSError:
                return None

        if wait_for(started, timeout=20) == "listening":
            return True
        if "Address already in use" not in self.log():
            raise AssertionError(f"nginx exited with {self.proc.returncode}:\n{self.log()}")
        return False

    def site(self, upstream_port: int, tls: tuple[Path, Path] | None) -> str:
        """The site's configuration (deploy/nginx.conf for loopback)."""
        return render_site(upstream_port, self.port, self.base, tls)

    def log(self) -> str:
        parts = [path.read_text(errors="replace") for path in (self.base / "stderr.log", self.error_log)
                 if path.exists()]
        return "\n".join(parts)

    def log_title(self) -> str:
        return f"nginx log ({self.base})"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        logs.stopped(self)
        logs.stopped(logs.FileLog("nginx access log", self.access_log))


_CA: list[trustme.CA] = []


def issue_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 from the test's CA: (certificate chain, key) files."""
    directory.mkdir(parents=True, exist_ok=True)
    issued = tls_ca().issue_cert("127.0.0.1")
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(b"".join(pem.bytes() for pem in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(keyfile))
    return certfile, keyfile


def tls_ca() -> trustme.CA:
    """One certificate authority for the test session; clients trust `ca_file()`."""
    if not _CA:
        _CA.append(trustme.CA())
    return _CA[0]
