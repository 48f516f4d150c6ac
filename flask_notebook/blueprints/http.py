"""Small HTTP helpers shared by the views: JSON in and out, event streams, and the
worker-thread door."""

from __future__ import annotations

import json
import re
from email.utils import format_datetime
from datetime import datetime
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from flask import Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import PathConverter

from ..core import errors, notebooks
from ..core.fileio import offload as offload  # blocking file work off the hub, for every view



def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise with orjson: notebooks can be megabytes, and Flask's provider sorts and indents.

    What orjson refuses, and a file may hold all the same (an integer beyond 64 bits in a
    notebook's metadata, which nbformat and jupyter_server accept), takes the json module's
    path: a 500 for reading a valid notebook would be our fault, not the file's.
    """
    try:
        body = orjson.dumps(obj)
    except TypeError:
        body = json.dumps(obj, separators=(",", ":")).encode()  # ASCII: lone surrogates escaped
    return Response(body, status=status, headers=headers, mimetype="application/json")


class AnyPathConverter(PathConverter):
    """werkzeug's ``path``, with newlines too (its ``.`` stops at one): a file name may hold
    a newline, and a URL with ``%0A`` in it must reach our views and their JSON errors, not
    fall through to the host's HTML 404 for a URL no route matches. Registered on the app as
    ``nb_path`` by ``Notebook.init_app``."""

    regex = "[^/](?s:.)*?"


#: What tornado's ``get_argument`` replaces with a space before it strips a value.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f]")


def query_arg(name: str, default: str | None = None) -> str | None:
    """A query argument as jupyter_server's handlers read it (tornado's ``get_argument``):
    control characters made spaces, surrounding whitespace stripped, so ``?permissions=+``
    is an empty value, as it is there."""
    value = request.args.get(name)
    if value is None:
        return default
    return _CONTROL_CHARS.sub(" ", value).strip()


def json_body() -> Any:
    """The request body as JSON, whatever the Content-Type (tornado clients send none).

    An empty body is ``None``, which several endpoints give a meaning.

    :raises errors.Invalid: a non-empty body that is not JSON (UTF-8), nests deeper than
        ``notebooks.MAX_DEPTH`` or holds a lone surrogate (``notebooks.loads``).
    :raises RequestEntityTooLarge: the body is over the limit ``guard_api`` set.
    """
    data = request.get_data(cache=True)
    if request.max_content_length is not None and len(data) >= request.max_content_length:
        raise RequestEntityTooLarge()
    if not data:
        return None
    try:
        body = notebooks.loads(data)
    except notebooks.Refused as exc:  # too deep, or a lone surrogate: say which
        raise errors.Invalid(f"Invalid JSON in body of request: {exc}") from exc
    except ValueError as exc:
        raise errors.Invalid("Invalid JSON in body of request") from exc
    g.notebook_json_body = body  # for the audit trail (blueprints/audit.py), which never reads a body itself
    return body




def http_date(iso: str) -> str:
    """An HTTP date (seconds precision) from our ISO-8601 UTC timestamps."""
    return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")), usegmt=True)


#: Seconds between comments on a quiet event stream: how a client that went away is noticed.
KEEPALIVE = 15.0


def resume_point(*, from_query: bool = False) -> int:
    """The number of the first event to send: the one after the client's ``Last-Event-ID``
    (or, where `from_query`, the ``?from=`` argument), else 0."""
    last = request.headers.get("Last-Event-ID", "").strip()
    if not last and from_query:
        last = query_arg("from") or ""
    return int(last) + 1 if last.isdigit() else 0


def event_stream(events: Iterable[tuple[int, str, Any] | None], headers: dict[str, str] | None = None) -> Response:
    """A ``text/event-stream`` of numbered events (``id``, ``event``, JSON ``data``), a comment
    for each None (a keepalive). A client that goes away ends the generator at its next
    write; the work itself goes on."""
    def generate() -> Iterator[bytes]:
        for item in events:
            if item is None:
                yield b": keepalive\n\n"
                continue
            number, name, payload = item
            yield b"id: %d\nevent: %s\ndata: %s\n\n" % (number, name.encode(), orjson.dumps(payload))

    return Response(generate(), 200, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})})
