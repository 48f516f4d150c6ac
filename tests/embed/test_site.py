"""The example site end to end over HTTP and the kernel WebSocket: its logged-in users use the
notebook with their session cookie and no token; anonymous requests are refused; the site's
own pages, login and 404 page stay its own."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
import websocket

from ..support.kernel_client import V1, of_type
from ..support.site import Site, User
from ..support.waiting import wait_for

pytestmark = pytest.mark.live

FORBIDDEN = {"message": "Forbidden", "reason": None}


def ws_url(site: Site, kernel_id: str) -> str:
    return site.url.replace("http", "ws", 1) + f"notebook/api/kernels/{kernel_id}/channels?session_id=s1"


def refused_handshake(url: str, **options: Any) -> websocket.WebSocketBadStatusException:
    """The server answered the upgrade with an HTTP error instead of switching protocols."""
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(url, timeout=30, subprotocols=[V1], **options).close()
    return info.value


def one_plus_one(user: User, kernel_id: str) -> list[str]:
    """What `1+1` gives on the kernel WebSocket, opened with the user's cookies only."""
    client = user.kernel_client(kernel_id)
    assert client.negotiated == V1
    client.wait_ready()
    results = of_type(client.run("1+1"), "execute_result")
    client.close()
    return [m["content"]["data"]["text/plain"] for m in results]


def test_the_sites_pages_login_and_404_stay_its_own(site: Site, ada: User) -> None:
    home = requests.get(site.url, timeout=30)
    assert home.status_code == 200 and "<h1>Analytical Engines</h1>" in home.text
    login = requests.get(site.url + "login", timeout=30)
    assert login.status_code == 200 and 'name="username"' in login.text  # the site's form, not our token form
    for path in ("no-such-page", "notebook/no-such-page"):
        missing = requests.get(site.url + path, timeout=30)
        assert missing.status_code == 404 and "<h1>Nothing here</h1>" in missing.text
    assert "Welcome back, Ada Lovelace" in ada.get(site.url).text


def test_anonymous_pages_go_to_the_sites_login_and_come_back(site: Site) -> None:
    browser = requests.Session()
    for page, next_url in [("notebook/", "/notebook/"), ("notebook/tree/", "/notebook/tree/"),
                           ("notebook/running", "/notebook/running"), ("notebook/login", "/notebook/")]:
        response = browser.get(site.url + page, allow_redirects=False, timeout=30)
        assert response.status_code == 302, page
        assert response.headers["Location"] == f"/login?next={next_url}"
    back = browser.post(site.url + "login?next=/notebook/tree/", data={"username": "ada", "password": "lovelace"},
                        timeout=30)
    assert back.url == site.url + "notebook/tree/"
    assert back.status_code == 200 and 'id="nb-config"' in back.text
    wrong = browser.post(site.url + "login", data={"username": "ada", "password": "babbage"}, timeout=30)
    assert wrong.status_code == 401 and "wrong password" in wrong.text


def test_anonymous_api_requests_get_403_json(site: Site) -> None:
    for method, path in [("GET", "contents"), ("GET", "me"), ("GET", "kernels"), ("GET", "sessions"),
                         ("POST", "kernels"), ("POST", "sessions"), ("PUT", "contents/x.ipynb"),
                         ("DELETE", "kernels/0")]:
        for headers in ({}, {"Authorization": "token guessed"}):  # the site's login is the only way in
            response = requests.request(method, site.url + "notebook/api/" + path, json={}, headers=headers,
                                        timeout=30)
            assert response.status_code == 403, (method, path, response.text)
            assert response.headers["Content-Type"] == "application/json"
            assert response.json() == FORBIDDEN
    assert requests.get(site.url + "notebook/api", timeout=30).json()["version"]  # open, as in Jupyter


def test_logged_in_user_uses_the_pages_and_rest_api_with_cookie_and_xsrf(site: Site, ada: User) -> None:
    assert "Authorization" not in ada.headers
    me = ada.api("GET", "me", 200)["identity"]
    assert (me["username"], me["name"]) == ("ada", "Ada Lovelace")
    # Unsafe requests need the _xsrf cookie's value in a header, from this origin.
    contents = site.url + "notebook/api/contents"
    missing = ada.post(contents, json={"type": "notebook"})
    assert missing.status_code == 403 and missing.json()["message"] == "'_xsrf' argument missing from POST"
    wrong = ada.post(contents, json={"type": "notebook"}, headers={"X-XSRFToken": "0" * 32})
    assert wrong.status_code == 403 and wrong.json()["message"] == "XSRF cookie does not match POST argument"
    cross = ada.post(contents, json={"type": "notebook"},
                     headers={"X-XSRFToken": ada.xsrf or "", "Origin": "http://evil.example"})
    assert cross.status_code == 403 and cross.json()["message"].startswith("Blocked cross-origin API request")

    path = ada.api("POST", "contents", 201, json={"type": "notebook"})["path"]
    assert (site.root / "users" / "ada" / path).is_file()  # her own workspace (NOTEBOOK_USER_ROOT)
    assert path in [entry["path"] for entry in ada.api("GET", "contents", 200)["content"]]
    session = ada.api("POST", "sessions", 201, json={"path": path, "type": "notebook", "kernel": {"name": "python3"}})
    kernel_id = session["kernel"]["id"]
    assert ada.api("GET", f"kernels/{kernel_id}", 200)["name"] == "python3"
    for page in (f"notebook/notebooks/{path}", "notebook/running", f"notebook/edit/{path}"):
        assert ada.get(site.url + page).status_code == 200, page
    # A download by cookie is followed from one of the notebook's pages, as in a browser.
    download = ada.get(site.url + f"notebook/files/{path}", headers={"Referer": site.url + "notebook/tree/"})
    assert download.status_code == 200 and download.json()["nbformat"] == 4
    ada.api("DELETE", f"sessions/{session['id']}", 204)
    wait_for(lambda: not ada.api("GET", "kernels", 200), timeout=15)


def test_an_authorization_header_the_site_ignores_leaves_its_user_to_xsrf_and_origin_checks(
        site: Site, ada: User) -> None:
    """The site's check reads Flask-Login's ``current_user``, from the session cookie: it accepts
    Ada whatever her Authorization header says, so that header must not exempt her requests."""
    contents = site.url + "notebook/api/contents"
    before = sorted(site.root.iterdir())
    for header in ("token guessed", "Bearer guessed"):
        missing = ada.post(contents, json={"type": "notebook"}, headers={"Authorization": header})
        assert missing.status_code == 403, header
        assert missing.json()["message"] == "'_xsrf' argument missing from POST"
        cross = ada.post(contents, json={"type": "notebook"},
                         headers={"Authorization": header, "X-XSRFToken": ada.xsrf or "",
                                  "Origin": "http://evil.example"})
        assert cross.status_code == 403 and cross.json()["message"].startswith("Blocked cross-origin API request")
    assert sorted(site.root.iterdir()) == before
    kernel_id = ada.api("POST", "kernels", 201, json={"name": "python3"})["id"]
    cookie = "; ".join(f"{c.name}={c.value}" for c in ada.cookies)
    hijack = refused_handshake(ws_url(site, kernel_id), header=[f"Cookie: {cookie}", "Authorization: token guessed"],
                               origin="http://evil.example")
    assert hijack.status_code == 403


def test_logged_in_user_runs_code_over_the_websocket(site: Site, ada: User) -> None:
    session = ada.api("POST", "sessions", 201, json={"path": "ws.ipynb", "type": "notebook",
                                                     "kernel": {"name": "python3"}})
    assert one_plus_one(ada, session["kernel"]["id"]) == ["2"]


def test_websocket_refused_before_handshake_without_the_sites_login(site: Site, ada: User) -> None:
    kernel_id = ada.api("POST", "kernels", 201, json={"name": "python3"})["id"]
    url = ws_url(site, kernel_id)
    for header in ([], ["Authorization: token guessed"], ["Cookie: session=forged"]):
        refused = refused_handshake(url, header=header)
        assert refused.status_code == 403, header
        assert json.loads(refused.resp_body or b"") == FORBIDDEN
    # The user's own cookie, sent by a page of another origin (cross-site WebSocket hijacking).
    cookie = "; ".join(f"{c.name}={c.value}" for c in ada.cookies)
    hijack = refused_handshake(url, header=[f"Cookie: {cookie}"], origin="http://evil.example")
    assert hijack.status_code == 403
    assert ada.api("GET", f"kernels/{kernel_id}", 200)["connections"] == 0


def test_each_user_of_the_site_sees_only_their_own_and_an_administrator_everything(site: Site, ada: User) -> None:
    path = ada.api("POST", "contents", 201, json={"type": "notebook"})["path"]
    kernel_id = ada.api("POST", "kernels", 201, json={"name": "python3"})["id"]
    alan = site.login("alan", "turing")
    try:
        assert path not in [entry["path"] for entry in alan.api("GET", "contents", 200)["content"]]
        alan.api("GET", f"contents/{path}", 404)
        assert alan.api("GET", "kernels", 200) == []
        assert alan.api("GET", f"kernels/{kernel_id}", 404) == {"message": f"Kernel does not exist: {kernel_id}",
                                                                "reason": None}
        assert refused_handshake(ws_url(site, kernel_id), header=[
            "Cookie: " + "; ".join(f"{c.name}={c.value}" for c in alan.cookies)]).status_code == 404
    finally:
        alan.close()
    grace = site.login("grace", "cobol")
    try:
        assert {"id": kernel_id, "owner": "ada"}.items() <= grace.api("GET", f"kernels/{kernel_id}", 200).items()
    finally:
        grace.close()
    assert "owner" not in ada.api("GET", f"kernels/{kernel_id}", 200)


def test_logging_out_of_the_site_closes_the_notebook(site: Site) -> None:
    grace = site.login("grace", "cobol")
    assert grace.api("GET", "me", 200)["identity"]["username"] == "grace"
    kernel_id = grace.api("POST", "kernels", 201, json={"name": "python3"})["id"]
    assert one_plus_one(grace, kernel_id) == ["2"]
    assert grace.get(site.url + "logout").url == site.url
    assert grace.api("GET", "me", 403) == FORBIDDEN
    assert grace.get(site.url + "notebook/tree/", allow_redirects=False).status_code == 302
    cookie = "; ".join(f"{c.name}={c.value}" for c in grace.cookies)
    assert refused_handshake(ws_url(site, kernel_id), header=[f"Cookie: {cookie}"]).status_code == 403
    site.login("grace", "cobol").api("DELETE", f"kernels/{kernel_id}", 204)
    grace.close()


def test_gunicorn_gevent_worker_serves_the_site_and_its_notebook(start_site: Callable[[str], Site]) -> None:
    site = start_site("gunicorn")
    assert requests.get(site.url + "notebook/api/contents", timeout=30).status_code == 403
    assert requests.get(site.url + "nowhere", timeout=30).text.count("Nothing here") == 1
    user = site.login()
    kernel_id = user.api("POST", "kernels", 201, json={"name": "python3"})["id"]
    assert one_plus_one(user, kernel_id) == ["2"]
    assert refused_handshake(ws_url(site, kernel_id)).status_code == 403
    user.api("DELETE", f"kernels/{kernel_id}", 204)
    user.close()
