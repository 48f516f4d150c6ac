"""Every API error becomes JSON ``{"message", "reason"}`` with the right status.

Registered on the ``api`` blueprint only, so the host app's own error pages are untouched,
and registered for every HTTP status code too: Flask looks up code-specific handlers (the
app's included) before class-based ones, so a host's ``@app.errorhandler(404)`` would
otherwise answer our 404s with its HTML page.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, default_exceptions

from ..core import errors
from .http import json_response

log = logging.getLogger(__name__)

STATUS: dict[type[errors.NotebookError], int] = {
    errors.NotFound: 404,
    errors.Invalid: 400,
    errors.Conflict: 409,
    errors.Forbidden: 403,
    errors.SaveFailed: 500,
    errors.LimitReached: 403,
    errors.KernelFailed: 500,
    errors.Unavailable: 503,
}


def error_response(status: int, message: str, reason: str | None = None) -> Response:
    return json_response({"message": message, "reason": reason}, status)


def handle_notebook_error(exc: errors.NotebookError) -> Response:
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 500)
    return error_response(status, exc.message, exc.reason)


def handle_page_error(exc: errors.NotebookError) -> Response:
    """Outside the API (pages, login, downloads) errors are plain text with the same status."""
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 500)
    return Response(exc.message, status, mimetype="text/plain")


def handle_http_exception(exc: HTTPException) -> Response:
    if isinstance(exc, RequestEntityTooLarge):
        from ..extension import state

        limit = state().config["NOTEBOOK_MAX_BODY_SIZE"]
        return error_response(413, f"Request body is larger than the limit of {limit} bytes (NOTEBOOK_MAX_BODY_SIZE)")
    response = error_response(exc.code or 500, exc.description or exc.name)
    if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response


def handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    log.exception("unhandled error in the notebook API")
    return error_response(500, "Unhandled error")


def register(bp: Blueprint) -> None:
    bp.register_error_handler(errors.NotebookError, handle_notebook_error)
    for code in default_exceptions:
        bp.register_error_handler(code, handle_http_exception)
    bp.register_error_handler(Exception, handle_unexpected)
