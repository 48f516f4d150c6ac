"""Every API error becomes JSON ``{"message", "reason"}`` with the right status.

Registered on the ``api`` blueprint only, so the host app's own error pages are untouched,
and registered for every HTTP status code too: Flask looks up code-specific handlers (the
app's included) before class-based ones, so a host's ``@app.errorhandler(404)`` would
otherwise answer our 404s with its HTML page.
"""

from __future__ import annotations

import errno
import logging
import math

from flask import Blueprint, Response, request
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
    errors.RateLimited: 429,
    errors.KernelFailed: 500,
    errors.Unavailable: 503,
}


#: The process, or the system, has run out of file descriptors.
_NO_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)
OUT_OF_DESCRIPTORS = "The server has run out of file descriptors; try again shortly"


def out_of_descriptors(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from, is a want of file descriptors: a
    passing state the client is told of with 503, not a bug of ours."""
    return errors.caused_by_errno(exc, _NO_DESCRIPTORS)


def error_response(status: int, message: str, reason: str | None = None) -> Response:
    return json_response({"message": message, "reason": reason}, status)


def _descriptors_response(exc: BaseException) -> Response:
    log.warning("%s %s failed: out of file descriptors (%s)", request.method, request.path, exc)
    response = error_response(503, OUT_OF_DESCRIPTORS, "too many open files")
    response.headers["Retry-After"] = "1"
    return response


def handle_notebook_error(exc: errors.NotebookError) -> Response:
    if out_of_descriptors(exc):
        return _descriptors_response(exc)
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 500)
    response = error_response(status, exc.message, exc.reason)
    if isinstance(exc, errors.RateLimited):
        response.headers["Retry-After"] = str(retry_after(exc.retry_after))
    return response


def retry_after(seconds: float) -> int:
    """``Retry-After`` takes whole seconds: rounded up, so a client that waits that long
    passes, and never 0, which clients read as "at once"."""
    return max(1, math.ceil(seconds))


def handle_page_error(exc: errors.NotebookError) -> Response:
    """Outside the API (pages, login, downloads) errors are plain text with the same status."""
    if out_of_descriptors(exc):
        return Response(OUT_OF_DESCRIPTORS, 503, mimetype="text/plain")
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 500)
    return Response(exc.message, status, mimetype="text/plain")


def handle_http_exception(exc: HTTPException) -> Response:
    if isinstance(exc, RequestEntityTooLarge):
        from ..extension import state

        limit = state().settings.max_body_size
        return error_response(413, f"Request body is larger than the limit of {limit} bytes (NOTEBOOK_MAX_BODY_SIZE)")
    response = error_response(exc.code or 500, exc.description or exc.name)
    if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response


def handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    if out_of_descriptors(exc):
        return _descriptors_response(exc)
    log.exception("unhandled error in the notebook API")
    return error_response(500, "Unhandled error")


def register(bp: Blueprint) -> None:
    bp.register_error_handler(errors.NotebookError, handle_notebook_error)
    for code in default_exceptions:
        bp.register_error_handler(code, handle_http_exception)
    bp.register_error_handler(Exception, handle_unexpected)
