"""Who is asking, and may they: token, login cookie or the host's check; XSRF, Origin, Host, CORS.

Contract section 10. The guards run as ``before_request`` of our blueprints only, never as
app-wide hooks, so the host's own routes are untouched.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Response, current_app, g, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..core import auth, errors
from ..core.models import Identity
from ..core.users import User, roles_of, validate_username
from ..extension import Authorize, NotebookState, state
from ..transport import upgrade

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: API endpoints anyone may call: the version, and redirects that reveal nothing.
_OPEN_ENDPOINTS = frozenset({"notebook.api.get_version", "notebook.api.redirect_slash",
                             "notebook.api.redirect_notebooks"})
#: Browsers post CSP violation reports by themselves, with no XSRF header and sometimes from
#: another origin (the report is about it): only authentication applies, as in jupyter_server.
CSP_REPORT_ENDPOINT = "notebook.api.report_csp"
XSRF_COOKIE = "_xsrf"
#: Requests that do not count as activity (``_track_activity = False`` in jupyter_server):
#: clients poll them, and a server polled this way would never look idle.
_UNTRACKED_ENDPOINTS = frozenset({"notebook.api.get_status", "notebook.api.resolve_path"})
#: Authorization schemes a browser never sends by itself (it does add Basic, Digest and
#: Negotiate credentials it has cached to any request, cross-site ones included).
_TOKEN_SCHEMES = ("token", "bearer")
_HOST_CHARS = re.compile(r"[^A-Za-z0-9]")
#: The login cookie's mark of a users-file user: a value derived from their password hash.
USERS_FILE_STAMP = "nb_users_file"


# -- identity ------------------------------------------------------------------------------


def login_cookie_name() -> str:
    """Cookies ignore ports, so the name carries host and port, as jupyter_server's does."""
    return "nb-login-" + _HOST_CHARS.sub("-", request.host)


def _serializer(st: NotebookState) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(st.secret_key, salt="flask-notebook-login")


def _request_token() -> str | None:
    token = request.args.get("token")
    if token:
        return token
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in _TOKEN_SCHEMES and value.strip():
        return value.strip()
    return None


def _cookie_identity(st: NotebookState) -> tuple[Identity, str | None] | None:
    """The login cookie's identity, and its users-file stamp (None: the server's own user)."""
    raw = request.cookies.get(login_cookie_name())
    if not raw:
        return None
    try:
        payload: dict[str, Any] = _serializer(st).loads(raw, max_age=st.settings.cookie_max_age)
    except BadSignature:
        return None
    stamp = payload.pop(USERS_FILE_STAMP, None)
    identity: Identity = payload  # type: ignore[assignment]
    return identity, stamp if isinstance(stamp, str) else None


def authenticate() -> tuple[Identity | None, bool]:
    """(identity or None, whether the request proved itself with a token or header).

    Requests proved by something a browser does not attach by itself (our token, or a
    ``token``/``Bearer`` Authorization header the host's check accepted) are exempt from XSRF
    and Origin checks. Not a ``?token=`` with the host's check: a cross-site form can carry
    one, and the host's check may well have looked only at its session cookie. Nor a header
    sent with cookies that the host's check accepted for the cookies' sake: see
    ``_host_accepts_without_cookies``.

    :raises errors.Forbidden: the host's check gave a user name that cannot name a user's
        folder, kernels and cgroups (``validate_username``): refused rather than let near a path.
    """
    st = state()
    if st.authorize is not None:
        user = st.authorize(request)
        if user is None:
            return None, False
        scheme = request.headers.get("Authorization", "").partition(" ")[0].lower()
        proven = scheme in _TOKEN_SCHEMES and ("HTTP_COOKIE" not in request.environ
                                               or _host_accepts_without_cookies(st.authorize))
        hosts = auth.identity_for(user)
        try:
            validate_username(hosts["username"])
        except errors.Invalid as exc:
            log.warning("the site's authorize gave an unusable user name: %s", exc.message)
            raise errors.Forbidden(f"Your user name cannot be used here: {exc.message}",
                                   reason="bad user name") from None
        g.notebook_user = User(hosts["username"], roles_of(user))
        return hosts, proven
    token = _request_token()
    cookie = _cookie_identity(st)
    if token and st.token and auth.tokens_equal(token, st.token):
        # The token is the server's own user, whoever the browser was logged in as before.
        identity = cookie[0] if cookie is not None and cookie[1] is None else None
        if identity is None:
            identity = auth.anonymous_identity()
            g.notebook_new_login = identity
        g.notebook_user = User(identity["username"], server=True)
        return identity, True
    if cookie is not None:
        identity, stamp = cookie
        if stamp is None:
            g.notebook_user = User(identity["username"], server=True)
            return identity, False
        return _users_file_login(st, identity, stamp), False
    if not st.token and not st.password_hash and st.users is None:  # auth turned off: everyone is anonymous
        anonymous = auth.anonymous_identity()
        g.notebook_user = User(anonymous["username"], server=True)
        return anonymous, False
    return None, False


def _users_file_login(st: NotebookState, identity: Identity, stamp: str) -> Identity | None:
    """A users-file login holds while its user is in the file with the password it logged in
    with (the stamp: ``Record.stamp``); its roles are the file's, now."""
    record = st.users.get(identity["username"]) if st.users is not None else None
    if record is None or not secrets.compare_digest(record.stamp, stamp):
        return None
    g.notebook_user = record.user()
    g.notebook_login_stamp = stamp
    return identity


def current_user() -> User:
    """The user this request acts as (set when it was authenticated: ``authenticate``)."""
    user: User | None = g.get("notebook_user")
    if user is None:
        raise errors.Forbidden("Forbidden")
    return user


def _host_accepts_without_cookies(authorize: Authorize) -> bool:
    """Whether the host's check accepts this request with its cookies taken away, i.e. for
    its Authorization header. A host check that reads only its session (Flask-Login's
    ``current_user``, say) accepts a logged-in browser whatever that header holds, and then a
    header is no proof that a script of an allowed origin sent the request.

    The check is asked again in a request context of its own, built from this request's
    environment without ``Cookie`` (and without the body): a fresh ``g`` and session, so a
    check that reads the request globals, or caches its user in ``g`` as Flask-Login does,
    sees only what is left. Its ``teardown_request`` and ``teardown_appcontext`` functions run
    for that context when it ends; its ``before_request`` functions do not run (they would run
    ours too). A check that fails there, say for want of what such a function puts in ``g``,
    does not accept the header: the request is a cookie request, checked as one.
    """
    environ = {key: value for key, value in request.environ.items() if key != "HTTP_COOKIE"}
    environ.update({"wsgi.input": io.BytesIO(), "CONTENT_LENGTH": "0"})
    ctx = current_app.request_context(environ)
    try:
        with current_app.app_context(), ctx:
            return authorize(ctx.request) is not None
    except Exception:  # the host's code, in a context it may not expect: whatever it raises
        log.debug("the host's authorize failed on a request without its cookies", exc_info=True)
        return False


def set_login_cookie(response: BaseResponse, identity: Identity, *, stamp: str | None = None) -> None:
    """Log the browser in as `identity`: the server's own user, or with `stamp` a users-file
    user (``Record.stamp``)."""
    st = state()
    payload: dict[str, Any] = {**identity, USERS_FILE_STAMP: stamp} if stamp is not None else dict(identity)
    response.set_cookie(
        login_cookie_name(),
        _serializer(st).dumps(payload),
        max_age=st.settings.cookie_max_age,
        path=cookie_path(),
        httponly=True,
        secure=request.is_secure,
        samesite="Lax",
    )


def host_login_url(next_url: str) -> str | None:
    """The host's login page with `next_url` added to its query, or None when it has none.

    ``login_url`` is a URL or, as Flask-Login's ``login_view``, the name of the host's
    login endpoint (resolved here, per request, so it carries the host's script root). A
    login page on another host (single sign-on) gets `next_url` as an absolute URL.
    """
    login_url = state().login_url
    if login_url is None:
        return None
    if not login_url.startswith(("/", "http://", "https://")):
        login_url = url_for(login_url)
    parts = urlsplit(login_url)
    if parts.netloc and parts.netloc.lower() != request.host.lower():
        next_url = request.host_url.rstrip("/") + next_url
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("next", next_url)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/:")))


def logout_url() -> str | None:
    """Where this user logs out: our `/logout`, unless the host's login is in charge (its
    logout is the host's) or there is no login at all (authentication off)."""
    st = state()
    if st.authorize is not None or not (st.token or st.password_hash or st.users is not None):
        return None
    return url_for("notebook.auth.logout")


def cookie_path() -> str:
    return url_for("notebook.auth.login").rsplit("/", 1)[0] + "/"


# -- guards ----------------------------------------------------------------------------------


def check_host() -> None:
    """DNS-rebinding guard: with remote access off, only loopback Host names are served."""
    st = state()
    if st.settings.allow_remote_access:
        return
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    host = host.strip("[]")
    if host in st.settings.local_hostnames:
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise errors.Forbidden(f"Blocked request with Host {host!r}: remote access is off")


def guard_api() -> Response | None:
    """Authenticate an API request: 403 JSON when that fails (contract section 10)."""
    if request.method == "OPTIONS":
        return preflight()
    if request.endpoint in _OPEN_ENDPOINTS:
        return None
    st = state()
    # One byte over the limit: werkzeug quietly truncates a chunked body at this size, and
    # json_body refuses what reaches it, so a truncated body is never taken for a whole one.
    request.max_content_length = st.settings.max_body_size + 1
    identity, proven = authenticate()
    if identity is None:
        raise errors.Forbidden("Forbidden")
    g.notebook_identity, g.notebook_proven = identity, proven
    if request.endpoint == CSP_REPORT_ENDPOINT:
        return None  # neither checked nor counted as activity
    if not proven:
        check_origin()
        check_xsrf()
    if "no_track_activity" not in request.args and request.endpoint not in _UNTRACKED_ENDPOINTS:
        st.last_activity = time.time()
    return None


def guard_page() -> BaseResponse | None:
    """Authenticate a page or download: a redirect to the login page when that fails."""
    identity, proven = authenticate()
    if identity is None:
        st = state()
        if request.method not in SAFE_METHODS:
            raise errors.Forbidden("Forbidden")
        # Where to come back after login, without a ?token= that just failed: it would fail
        # again there, and stay in the address bar and the history.
        query = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "token"])
        here = request.script_root + request.path + (f"?{query}" if query else "")
        if st.authorize is not None:
            target = host_login_url(here)
            if target is None:
                raise errors.Forbidden("Forbidden")
            return redirect(target)
        return redirect(url_for("notebook.auth.login", next=here))
    g.notebook_identity, g.notebook_proven = identity, proven
    if not proven:
        check_xsrf()
    return None


def check_xsrf() -> None:
    """Unsafe requests authenticated by cookie must echo the `_xsrf` cookie (double submit)."""
    if request.method in SAFE_METHODS or state().settings.disable_check_xsrf:
        return
    # Not from a form field: API bodies are JSON even when a client labels them as a form,
    # and parsing them as one would consume the body. The login form checks its own field.
    given = request.headers.get("X-XSRFToken") or request.headers.get("X-CSRFToken") or request.args.get(XSRF_COOKIE)
    if not given:
        raise errors.Forbidden(f"'_xsrf' argument missing from {request.method}")
    cookie = request.cookies.get(XSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(given.encode(), cookie.encode()):
        raise errors.Forbidden(f"XSRF cookie does not match {request.method} argument")


def check_origin() -> None:
    """Cookie-authenticated API requests from another origin are refused unless CORS allows them."""
    origin = request.headers.get("Origin")
    if not origin or origin_allowed(origin):
        return
    if urlsplit(origin).netloc.lower() == request.host.lower():
        return
    raise errors.Forbidden(f"Blocked cross-origin API request from {origin}")


def origin_allowed(origin: str) -> bool:
    settings = state().settings
    if settings.allow_origin in ("*", origin):
        return True
    pattern = settings.allow_origin_pat
    return pattern is not None and pattern.match(origin) is not None


def cors_headers(response: Response) -> Response:
    """Access-Control-* headers on API responses, as jupyter_server sets them."""
    settings = state().settings
    origin = request.headers.get("Origin")
    allow = settings.allow_origin
    if allow:
        response.headers["Access-Control-Allow-Origin"] = allow
    elif origin and (origin_allowed(origin) or getattr(g, "notebook_proven", False)):
        response.headers["Access-Control-Allow-Origin"] = origin
    if "Access-Control-Allow-Origin" in response.headers:
        response.vary.add("Origin")
        if settings.allow_credentials:
            response.headers["Access-Control-Allow-Credentials"] = "true"
    return response


def preflight() -> Response:
    response = Response(status=200)
    response.headers["Access-Control-Allow-Headers"] = "accept, content-type, authorization, x-xsrftoken, if-match"
    response.headers["Access-Control-Allow-Methods"] = "GET, PUT, POST, PATCH, DELETE, OPTIONS"
    return response


def content_security_policy(*extra: str) -> str:
    """The Content-Security-Policy jupyter_server sends: framing by our own pages only, and
    violations reported to ``/api/security/csp-report`` (under the mount point)."""
    report_uri = url_for(CSP_REPORT_ENDPOINT)
    return "; ".join(("frame-ancestors 'self'", f"report-uri {report_uri}", *extra))


def xsrf_token() -> str:
    """The browser's `_xsrf` value if this server made it, else a new one, which
    ``ensure_xsrf_cookie`` then sets (the same one for the whole request)."""
    secret = state().secret_key
    for value in request.cookies.getlist(XSRF_COOKIE):
        if auth.xsrf_token_valid(secret, value):
            return value
    token: str | None = g.get("notebook_new_xsrf")
    if token is None:
        token = g.notebook_new_xsrf = auth.new_xsrf_token(secret)
    return token


def ensure_xsrf_cookie(response: Response) -> None:
    """Pages set the `_xsrf` cookie that their scripts echo in X-XSRFToken: a value signed by
    this server, replacing one it did not make (``auth.new_xsrf_token`` says why)."""
    token = xsrf_token()
    if token not in request.cookies.getlist(XSRF_COOKIE):
        response.set_cookie(XSRF_COOKIE, token, path=cookie_path(), samesite="Lax", secure=request.is_secure)


def login_xsrf_ok(given: str) -> bool:
    """The login form's check: `given` (its ``_xsrf`` field) is one of the browser's `_xsrf`
    cookies, and this server made it. Stricter than the API's double submit, which accepts any
    value a client sets in both places, as jupyter_server does: a page that can set cookies for
    our host (another port of it, a sibling domain) could otherwise post logins through a
    visitor's browser, our Origin check not applying to a form nobody is logged in to yet."""
    return bool(given) and given in request.cookies.getlist(XSRF_COOKIE) and \
        auth.xsrf_token_valid(state().secret_key, given)


def after_auth(response: Response) -> Response:
    """Give a token-authenticated browser a login cookie, so later page loads need no token;
    and every answer of ours its Content-Security-Policy (the API's and downloads' set theirs)."""
    identity: Any = g.pop("notebook_new_login", None)
    if identity is not None:
        set_login_cookie(response, identity)
    if not upgrade.is_upgrade(request.environ):
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
    return response
