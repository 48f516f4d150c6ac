"""``create_app``: the standalone app, a bare Flask app with the notebook at its root."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import settings
from .extension import Notebook

#: Keys only the standalone app reads (an embedding host mounts us and wraps its app itself),
#: with their defaults; ``settings`` defines them.
STANDALONE_DEFAULTS: dict[str, Any] = {d.key: d.default for d in settings.DEFINITIONS if d.standalone}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A Flask app serving only the notebook, mounted at ``NOTEBOOK_BASE_URL`` (default "/").

    Configuration comes from ``NOTEBOOK_*`` environment variables (values parsed as JSON
    when they are JSON, like Flask's ``from_prefixed_env``: ``settings.from_environ``), then
    from `config`; ``init_app`` checks every value once (``settings.Settings``).

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
    app.config.update(settings.from_environ(os.environ))
    app.config.update(config or {})
    for key, default in STANDALONE_DEFAULTS.items():
        app.config.setdefault(key, copy.deepcopy(default))
    # The prefix is needed to mount: checked here, as init_app checks every key (this one too).
    base_url: str = settings.parse("NOTEBOOK_BASE_URL", app.config["NOTEBOOK_BASE_URL"]).strip("/")
    Notebook().init_app(app, url_prefix="/" + base_url if base_url else "")
    hops = app.extensions["notebook"].settings.trust_proxy
    if hops:
        # The whole app is ours, so the middleware may wrap it; an embedding host decides
        # for its own site (README, "Behind a reverse proxy").
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,  # type: ignore[method-assign]
                                x_prefix=hops)
    return app

