"""`/login` and `/logout`: the token or password form, and the signed login cookie.

With a host's own login (``authorize``), people log in and out through the host: our
`/login` sends them to its login page and `/logout` is not served.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from ..core import auth, errors
from ..extension import state
from . import security

bp = Blueprint("auth", __name__)


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


def _form(error: str | None = None, status: int = 200) -> Response:
    st = state()
    response = make_response(
        render_template(
            "flask_notebook/login.html",
            error=error,
            next_url=_safe_next(),
            password_enabled=bool(st.password_hash),
            xsrf=request.cookies.get(security.XSRF_COOKIE),
        ),
        status,
    )
    security.ensure_xsrf_cookie(response)
    return response


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
    given = request.form.get(security.XSRF_COOKIE, "")
    cookie = request.cookies.get(security.XSRF_COOKIE, "")
    if not given or not cookie or not auth.tokens_equal(given, cookie):
        return _form("Your session expired; please try again.", 403)
    secret = request.form.get("password", "")
    accepted = bool(secret) and (
        (bool(st.token) and auth.tokens_equal(secret, st.token or ""))
        or (bool(st.password_hash) and auth.check_password(secret, st.password_hash or ""))
    )
    if not accepted:
        return _form("Invalid credentials.", 401)
    response = redirect(_safe_next())
    security.set_login_cookie(response, auth.anonymous_identity())
    return response


@bp.get("/logout")
def logout() -> Response:
    if state().authorize is not None:
        abort(404)  # the host's logout is the one; ours would say "logged out" and not be
    response = make_response(render_template("flask_notebook/logout.html"))
    response.delete_cookie(security.login_cookie_name(), path=security.cookie_path())
    return response
