"""Every route of the app requires authentication, but for an explicit allow-list.

The guards are ``before_request`` functions of our blueprints (blueprints/__init__.py: the API's
``guard_api``, and ``guard_page`` on a hand-kept tuple of page blueprints, the terminal
socket's own check). A route on a blueprint that none of them covers would be open to anyone:
this walks ``app.url_map`` so such a route fails here, whatever its blueprint.

Without credentials: an API request is a 403 (as jupyter_server answers), a WebSocket
handshake is refused with 403 before any upgrade, a page (GET) redirects to the login page
and any other method on a page is a 403.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

#: Endpoints anyone may reach, and why.
PUBLIC = {
    "notebook.api.get_version": "GET /api: the server's version, public in jupyter_server",
    "notebook.api.redirect_slash": "/api/ redirects to /api",
    "notebook.api.redirect_notebooks": "the legacy /api/notebooks redirects to /api/contents",
    "notebook.auth.login": "the login page",
    "notebook.auth.submit_login": "the login form's target",
    "notebook.auth.logout": "logging out needs no login",
    "notebook.static": "static assets (CSS, JS, fonts) of the login page too",
    "notebook.favicon": "/favicon.ico, a static file, the login page's icon too",
}
#: Endpoints authenticated as the API is (a 403, never a login redirect): the API, and the
#: terminals' WebSocket URL (as in jupyter_server, where it is not a page either).
API_LIKE = ("notebook.api.", "notebook.terminal_socket.")
#: Endpoints that answer a request without credentials 401 with ``WWW-Authenticate: Bearer``
#: and a JSON body: ``/metrics``, asked by a scraper that may hold NOTEBOOK_METRICS_TOKEN.
BEARER = ("notebook.metrics.",)
#: What the walk sends for each kind of URL variable.
SAMPLES = {"api_path": "dir/x.ipynb", "unknown": "nope", "filename": "logo-64x64.png"}
WEBSOCKET_HEADERS = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def _requests(app: Flask) -> list[tuple[Rule, str, str]]:
    """(rule, method, URL) for every method of every rule of the app but OPTIONS (CORS
    preflights are answered without credentials, as by jupyter_server) and HEAD (as GET)."""
    found = []
    for rule in app.url_map.iter_rules():
        built = rule.build({name: SAMPLES.get(name, "x") for name in rule.arguments}, append_unknown=False)
        assert built is not None, rule
        for method in sorted((rule.methods or set()) - {"OPTIONS", "HEAD"}):
            found.append((rule, method, built[1]))
    return found


def _refusal(anon: FlaskClient, rule: Rule, method: str, url: str) -> str | None:
    """Why the anonymous request was not refused as it must be, or None if it was."""
    headers = WEBSOCKET_HEADERS if rule.websocket else {}
    response = anon.open(url, method=method, headers=headers)
    status = response.status_code
    if rule.endpoint.startswith(BEARER):
        body = response.get_json(silent=True)
        if status != 401 or not response.headers.get("WWW-Authenticate", "").startswith("Bearer ") or not isinstance(body, dict):
            return f"{status} {response.headers.get('WWW-Authenticate')!r} {response.get_data(as_text=True)[:100]!r}, not a JSON 401 asking for a bearer token"
        return None
    api = rule.endpoint.startswith(API_LIKE)
    if rule.websocket or api or method != "GET":
        if status != 403:
            return f"{status}, not 403"
        in_api = rule.endpoint.startswith("notebook.api.") and not rule.websocket
        if in_api and response.get_json(silent=True) != {"message": "Forbidden", "reason": None}:
            return f"403 but not the guard's: {response.get_data(as_text=True)[:200]}"
        return None
    location = response.headers.get("Location", "")
    if status != 302 or urlsplit(location).path != "/login":
        return f"{status} {location!r}, not a redirect to /login"
    return None


def test_every_route_but_the_public_ones_requires_authentication(app: Flask, anon: FlaskClient) -> None:
    requests = _requests(app)
    assert len(requests) > 50  # the walk found the app's routes
    open_routes = [f"{method} {rule.rule} ({rule.endpoint}{', WebSocket' if rule.websocket else ''}): {why}"
                   for rule, method, url in requests if rule.endpoint not in PUBLIC
                   for why in [_refusal(anon, rule, method, url)] if why is not None]
    assert not open_routes, "routes open without authentication:\n" + "\n".join(open_routes)


def test_the_allow_list_names_only_existing_endpoints(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(PUBLIC) <= endpoints, set(PUBLIC) - endpoints
