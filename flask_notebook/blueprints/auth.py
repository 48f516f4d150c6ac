"""`/login` and `/logout`: the token or password form, and the signed login cookie.

With a host's own login (``authorize``), people log in and out through the host: our
`/login` sends them to its login page and `/logout` is not served.

Logins are throttled per client address (``core.auth.LoginThrottle``: 429 with
``Retry-After``), and passwords are checked in a thread of their own: scrypt takes tens of
milliseconds of CPU, which on gevent's hub would hold up every other request meanwhile.
"""

from __future__ import annotations

import logging
import os
import time
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, g, make_response, redirect, render_template, request, url_for
from gevent import monkey
from gevent.threadpool import ThreadPool
from werkzeug.wrappers import Response as BaseResponse

from ..core import auth, errors
from ..core.models import Identity
from ..core.users import User
from ..extension import state
from . import security

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

#: The threads that check passwords, made on first use (in the process that serves).
_checkers: ThreadPool | None = None


def _safe_next() -> str:
    """Only a path on this server, under our prefix, is a place to go after login."""
    default = url_for("notebook.ui.index")
    target = request.values.get("next") or default
    parts = urlsplit(target)
    prefix = default.rstrip("/")
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if prefix and not (parts.path == prefix or parts.path.startswith(prefix + "/")):
        return default
    return target


def _form(error: str | None = None, status: int = 200, *, notice: str | None = None) -> Response:
    st = state()
    response = make_response(
        render_template(
            "flask_notebook/login.html",
            error=error,
            notice=notice,
            next_url=_safe_next(),
            password_enabled=bool(st.password_hash),
            users_enabled=st.users is not None,
            username=request.form.get("username", "") if request.method == "POST" else "",
            xsrf=security.xsrf_token(),
        ),
        status,
    )
    security.ensure_xsrf_cookie(response)
    return response


def check_password(secret: str, hashed: str) -> bool:
    """``auth.check_password`` off gevent's hub: in a pool of its own (not the file pool, which
    a flood of logins would fill), of half the cores, so that logins never take all the CPU.
    Without gevent (the test client, a threaded server) it runs inline: nothing else waits."""
    if not monkey.is_module_patched("threading"):
        return auth.check_password(secret, hashed)
    global _checkers
    if _checkers is None:
        _checkers = ThreadPool(max(1, (os.cpu_count() or 2) // 2))
    return bool(_checkers.apply(auth.check_password, (secret, hashed)))


def _host_login() -> BaseResponse:
    """With the host's login: back where they came from if logged in, else to the host's page."""
    identity, _ = security.authenticate()
    if identity is not None:
        return redirect(_safe_next())
    target = security.host_login_url(_safe_next())
    if target is None:
        raise errors.Forbidden("Forbidden")
    return redirect(target)


@bp.get("/login")
def login() -> BaseResponse:
    if state().authorize is not None:
        return _host_login()
    identity, _ = security.authenticate()
    if identity is not None:
        return redirect(_safe_next())
    return _form()


@bp.post("/login")
def submit_login() -> BaseResponse:
    st = state()
    if st.authorize is not None:
        return _host_login()
    if not security.login_xsrf_ok(request.form.get(security.XSRF_COOKIE, "")):
        return _form("Your session expired; please try again.", 403)
    address = request.remote_addr or ""  # the forwarded one behind a trusted proxy (ProxyFix)
    wait = st.login_throttle.attempt(address, time.monotonic())
    if wait:
        refused = _form(f"Too many failed attempts; try again in {auth.retry_after(wait)} s.", 429)
        refused.headers["Retry-After"] = str(auth.retry_after(wait))
        return refused
    username = request.form.get("username", "").strip() if st.users is not None else ""
    login = _check_login(username, request.form.get("password", ""))
    if login is None:
        failures = st.login_throttle.failures(address)
        if failures >= st.login_throttle.free:
            log.warning("%d failed logins in a row from %s: refusing its logins for a while", failures, address)
        return _form("Invalid credentials.", 401)
    st.login_throttle.succeeded(address)
    response = redirect(_safe_next())
    identity, stamp = login
    g.notebook_user = User(identity["username"], server=stamp is None)  # who logged in, for the audit line
    security.set_login_cookie(response, identity, stamp=stamp)
    return response


def _check_login(username: str, secret: str) -> tuple[Identity, str | None] | None:
    """The identity (and users-file stamp) that `username` and `secret` log in as, or None.

    With a user name: a users-file user and their password. Without one: the token or
    NOTEBOOK_PASSWORD, which log in as the server's own user (an administrator).
    """
    st = state()
    if not secret:
        return None
    if username:
        record = st.users.verify(username, secret, check_password) if st.users is not None else None
        if record is None:
            return None
        name = record.display_name or record.name
        identity: Identity = {"username": record.name, "name": name, "display_name": name,
                              "initials": name[:1].upper(), "avatar_url": None, "color": None}
        return identity, record.stamp
    if (st.token and auth.tokens_equal(secret, st.token)) or \
            (st.password_hash and check_password(secret, st.password_hash)):
        return auth.anonymous_identity(), None
    return None


@bp.get("/logout")
def logout() -> Response:
    if state().authorize is not None:
        abort(404)  # the host's logout is the one; ours would say "logged out" and not be
    security.authenticate()  # who is logging out, for the audit line
    response = _form(notice="You are logged out.")
    response.delete_cookie(security.login_cookie_name(), path=security.cookie_path())
    return response
