"""`/login` and `/logout`: the token or password form, and the signed login cookie."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from ..core import auth
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


@bp.get("/login")
def login() -> BaseResponse:
    identity, _ = security.authenticate()
    if identity is not None and state().authorize is None:
        return redirect(_safe_next())
    return _form()


@bp.post("/login")
def submit_login() -> BaseResponse:
    st = state()
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
    response = make_response(render_template("flask_notebook/logout.html"))
    response.delete_cookie(security.login_cookie_name(), path=security.cookie_path())
    return response
