"""``create_app``: the standalone app, a bare Flask app with the notebook at its root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import orjson
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import limits
from .extension import DEFAULTS, Notebook

#: Keys only the standalone app reads (an embedding host mounts us and wraps its app itself).
STANDALONE_DEFAULTS: dict[str, Any] = {
    "NOTEBOOK_BASE_URL": "/",
    "NOTEBOOK_TRUST_PROXY": 0,
    "NOTEBOOK_HTTP_IDLE_TIMEOUT": 60,
    "NOTEBOOK_MAX_CONNECTIONS": None,
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A Flask app serving only the notebook, mounted at ``NOTEBOOK_BASE_URL`` (default "/").

    Configuration comes from ``NOTEBOOK_*`` environment variables (values parsed as JSON
    when they are JSON, like Flask's ``from_prefixed_env``), then from `config`.

    ``NOTEBOOK_TRUST_PROXY`` (default 0) is the number of reverse proxies in front of the
    app whose ``X-Forwarded-For``, ``-Proto``, ``-Host`` and ``-Prefix`` headers are
    believed (werkzeug's ``ProxyFix``); with 0 those headers are ignored, since anyone can
    send them.

    ``NOTEBOOK_HTTP_IDLE_TIMEOUT`` (default 60) and ``NOTEBOOK_MAX_CONNECTIONS`` (default
    derived from the open-file limit) are read by our servers (the ``flask-notebook``
    command; gunicorn.conf.py reads the second) and only checked here: the seconds a
    connection may take to send a request's head, or stay idle between requests, or pause
    while sending a body; and how many connections are served at once.

    :raises ValueError: a configuration value is unusable.
    """
    app = Flask(__name__, static_folder=None)
    for key, value in os.environ.items():
        if key.startswith("NOTEBOOK_"):
            app.config[key] = _env_value(key, value)
    app.config.update(config or {})
    for key, default in STANDALONE_DEFAULTS.items():
        app.config.setdefault(key, default)
    hops = proxy_hops(app.config["NOTEBOOK_TRUST_PROXY"])
    limits.idle_timeout(app.config["NOTEBOOK_HTTP_IDLE_TIMEOUT"])
    limits.max_connections(app.config["NOTEBOOK_MAX_CONNECTIONS"])
    base_url = str(app.config["NOTEBOOK_BASE_URL"])
    Notebook().init_app(app, url_prefix="/" + base_url.strip("/") if base_url.strip("/") else "")
    if hops:
        # The whole app is ours, so the middleware may wrap it; an embedding host decides
        # for its own site (README, "Behind a reverse proxy").
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,  # type: ignore[method-assign]
                                x_prefix=hops)
    return app


def proxy_hops(value: Any) -> int:
    """``NOTEBOOK_TRUST_PROXY`` as a number of proxies: a count, or ``true`` for one.

    :raises ValueError: anything else, or a negative count.
    """
    if value is None:
        return 0
    if isinstance(value, str):
        value = {"true": 1, "false": 0, "": 0}.get(value.strip().lower(), value.strip())
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ValueError(f"NOTEBOOK_TRUST_PROXY must be a number of proxies (0, 1, 2, ...), not {value!r}")


def _env_value(key: str, value: str) -> Any:
    """Booleans, numbers and lists are JSON; a token of digits stays a string."""
    default = DEFAULTS.get(key, STANDALONE_DEFAULTS.get(key))
    if default is None or isinstance(default, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
