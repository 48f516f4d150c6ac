"""deploy/nginx.conf in front of the server, under /jupyter/: REST, the kernel WebSocket,
event streams, pages, cookies and TLS at the proxy, through a real nginx."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
import requests

from ..support.deploy import PREFIX, Nginx
from ..support.env import AUTH, TOKEN
from ..support.kernel_client import KernelClient, of_type
from ..support.server import Server

pytestmark = pytest.mark.live


def page_config(html: str) -> dict[str, str]:
    match = re.search(r'<script type="application/json" id="nb-config">(.*?)</script>', html, re.S)
    assert match, html[:2000]
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def run_cell(url: str, kernel_id: str, **kwargs: object) -> str:
    """Run 6*7 over the kernel WebSocket at `url` (http(s) becomes ws(s)); the result's text."""
    client = KernelClient(url, kernel_id, TOKEN, **kwargs)  # type: ignore[arg-type]
    try:
        client.wait_ready()
        return str(of_type(client.run("6*7"), "execute_result")[0]["content"]["data"]["text/plain"])
    finally:
        client.close()


@pytest.mark.parametrize("kind", ["cli", "gunicorn"])
def test_a_cell_runs_through_nginx_under_a_prefix(backend: Callable[..., Server], nginx: Callable[..., Nginx],
                                                  kind: str) -> None:
    if kind == "cli":
        server = backend("cli", "--trust-proxy")
    else:
        server = backend("gunicorn", env={"NOTEBOOK_TRUST_PROXY": "1"})
    proxy = nginx(server)
    created = requests.post(proxy.url + "api/kernels", json={}, headers=AUTH, timeout=60)
    assert created.status_code == 201, created.text
    kernel_id = created.json()["id"]
    assert created.headers["Location"] == f"{PREFIX}api/kernels/{kernel_id}"
    assert run_cell(proxy.url, kernel_id) == "42"  # ws://127.0.0.1:<nginx>/jupyter/api/kernels/<id>/channels
    listed = requests.get(proxy.url + "api/kernels", headers=AUTH, timeout=30).json()
    assert [k["id"] for k in listed] == [kernel_id]


def test_pages_redirects_and_cookies_carry_the_prefix(backend: Callable[..., Server],
                                                      nginx: Callable[..., Nginx]) -> None:
    server = backend("cli", "--trust-proxy")
    proxy = nginx(server)
    session = requests.Session()
    start = session.get(proxy.url, timeout=30, allow_redirects=False)
    assert start.status_code == 302
    assert start.headers["Location"] == f"{PREFIX}login?next={PREFIX}"

    page = session.get(f"{proxy.url}tree?token={TOKEN}", timeout=30)
    assert page.status_code == 200
    cookies = {cookie.name: cookie for cookie in session.cookies}
    assert {cookie.path for cookie in cookies.values()} == {PREFIX}
    assert not any(cookie.secure for cookie in cookies.values())  # plain http at the proxy
    config = page_config(page.text)
    assert config["apiUrl"] == PREFIX + "api" and config["contentsUrl"] == PREFIX + "api/contents/"
    assert f'src="{PREFIX}static/flask_notebook/js/tree.js"' in page.text

    # The login cookie alone, as a browser would, with the XSRF header for a POST.
    xsrf = {"X-XSRFToken": cookies["_xsrf"].value}
    created = session.post(proxy.url + "api/contents", json={"type": "notebook"}, headers=xsrf, timeout=30)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"{PREFIX}api/contents/Untitled.ipynb"
    opened = session.get(proxy.url + "tree/Untitled.ipynb", timeout=30, allow_redirects=False)
    assert opened.headers["Location"] == f"{PREFIX}notebooks/Untitled.ipynb"
    # A page of another origin may not use the cookie.
    foreign = session.post(proxy.url + "api/contents", json={"type": "file"},
                           headers={**xsrf, "Origin": "http://evil.example"}, timeout=30)
    assert foreign.status_code == 403

    proxy.stop()  # the access log is written through
    logged = proxy.access_log.read_text()
    assert f'"GET {PREFIX}tree"' in logged and TOKEN not in logged


def test_without_trust_the_forwarded_headers_change_nothing(backend: Callable[..., Server],
                                                            nginx: Callable[..., Nginx]) -> None:
    """The default: nginx's X-Forwarded-* headers are ignored, so the server writes its own
    paths (which is why deploy/nginx.conf needs --trust-proxy)."""
    server = backend("cli")
    proxy = nginx(server)
    created = requests.post(proxy.url + "api/contents", json={"type": "notebook"}, headers=AUTH, timeout=30)
    assert created.headers["Location"] == "/api/contents/Untitled.ipynb"
    page = requests.get(f"{proxy.url}tree?token={TOKEN}", timeout=30)
    assert page_config(page.text)["apiUrl"] == "/api"


def test_an_event_stream_passes_through_unbuffered(backend: Callable[..., Server],
                                                   nginx: Callable[..., Nginx]) -> None:
    """The stream stays open while the code waits for input(): its events must reach the
    client before the response ends, or the client never learns what to answer."""
    server = backend("cli", "--trust-proxy")
    proxy = nginx(server)
    kernel_id = server.start_kernel()
    with requests.post(proxy.url + f"api/kernels/{kernel_id}/execute", stream=True, timeout=60,
                       json={"code": "name = input('Name? ')\nprint('hi', name)"},
                       headers={**AUTH, "Accept": "text/event-stream"}) as stream:
        assert stream.status_code == 200
        assert stream.headers["Location"].startswith(f"{PREFIX}api/kernels/{kernel_id}/requests/")
        events = _events(stream.iter_lines(decode_unicode=True))
        assert next(events)[0] == "accepted"
        event = next(events)
        while event[0] != "input_required":
            event = next(events)
        assert event[1]["prompt"] == "Name? "
        answer = requests.post(proxy.url.removesuffix(PREFIX) + stream.headers["Location"] + "/input",
                               json={"value": "Ada"}, headers={**AUTH, "Prefer": "respond-async"}, timeout=60)
        assert answer.status_code in (200, 202), answer.text
        outputs = []
        for name, data in events:
            if name == "output":
                outputs.append(data)
            if name == "done":
                break
        assert data["status"] == "ok"
        assert "".join(o.get("text", "") for o in outputs) == "hi Ada\n"


def _events(lines: object) -> object:
    name = None
    for line in lines:  # type: ignore[attr-defined]
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            yield name, json.loads(line[len("data: "):])


def test_tls_at_the_proxy_serves_https_and_wss(backend: Callable[..., Server], nginx: Callable[..., Nginx],
                                               ca_file: str) -> None:
    server = backend("cli", "--trust-proxy")
    proxy = nginx(server, tls=True)
    assert proxy.url.startswith("https://")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(proxy.url + "api/status", headers=AUTH, timeout=30)  # the test's CA is not the system's
    session = requests.Session()  # verify= on each call: REQUESTS_CA_BUNDLE would beat Session.verify
    page = session.get(f"{proxy.url}tree?token={TOKEN}", verify=ca_file, timeout=30)
    assert page.status_code == 200
    cookies = list(session.cookies)
    assert cookies and all(cookie.secure and cookie.path == PREFIX for cookie in cookies)
    created = session.post(proxy.url + "api/kernels", json={}, headers=AUTH, verify=ca_file, timeout=60)
    assert created.status_code == 201, created.text
    kernel_id = created.json()["id"]
    assert created.headers["Location"] == f"{PREFIX}api/kernels/{kernel_id}"
    # wss://127.0.0.1:<nginx>/jupyter/api/kernels/<id>/channels, nginx to the server in plain ws.
    assert run_cell(proxy.url, kernel_id, sslopt={"ca_certs": ca_file}) == "42"
