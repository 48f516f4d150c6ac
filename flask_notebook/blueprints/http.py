"""Small HTTP helpers shared by the views: JSON in and out, and the worker-thread door."""

from __future__ import annotations

from collections.abc import Callable
from email.utils import format_datetime
from datetime import datetime
from typing import Any, TypeVar

import orjson
from flask import Response, request
from gevent import get_hub, monkey

from ..core import errors

T = TypeVar("T")


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise with orjson: notebooks can be megabytes, and Flask's provider sorts and indents."""
    return Response(orjson.dumps(obj), status=status, headers=headers, mimetype="application/json")


def json_body() -> Any:
    """The request body as JSON, whatever the Content-Type (tornado clients send none).

    An empty body is ``None``, which several endpoints give a meaning.

    :raises errors.Invalid: a non-empty body that is not JSON.
    """
    data = request.get_data(cache=True)
    if not data:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise errors.Invalid("Invalid JSON in body of request") from exc


def offload(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking file work in gevent's thread pool, so other requests keep being served.

    Without gevent's monkey-patching (the Flask test client, a threaded server) a worker
    thread buys nothing, and the call runs inline.
    """
    if monkey.is_module_patched("threading"):
        return get_hub().threadpool.apply(fn, args, kwargs)  # type: ignore[no-any-return]
    return fn(*args, **kwargs)


def http_date(iso: str) -> str:
    """An HTTP date (seconds precision) from our ISO-8601 UTC timestamps."""
    return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")), usegmt=True)
