"""``create_app``: the standalone app, a bare Flask app with the notebook at its root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import orjson
from flask import Flask

from .extension import DEFAULTS, Notebook


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A Flask app serving only the notebook, mounted at ``NOTEBOOK_BASE_URL`` (default "/").

    Configuration comes from ``NOTEBOOK_*`` environment variables (values parsed as JSON
    when they are JSON, like Flask's ``from_prefixed_env``), then from `config`.
    """
    app = Flask(__name__, static_folder=None)
    for key, value in os.environ.items():
        if key.startswith("NOTEBOOK_"):
            app.config[key] = _env_value(key, value)
    app.config.update(config or {})
    base_url = str(app.config.setdefault("NOTEBOOK_BASE_URL", "/"))
    Notebook().init_app(app, url_prefix="/" + base_url.strip("/") if base_url.strip("/") else "")
    return app


def _env_value(key: str, value: str) -> Any:
    """Booleans, numbers and lists are JSON; a token of digits stays a string."""
    if DEFAULTS.get(key) is None or isinstance(DEFAULTS.get(key), str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
