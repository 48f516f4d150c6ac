"""The Flask extension: ``Notebook(app)`` or ``Notebook().init_app(app, url_prefix=...)``."""

from __future__ import annotations

import atexit
import os
import secrets
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Request, current_app

from .core import auth, notebooks
from .core.contents import ContentsManager
from .core.kernelspecs import Kernelspecs
from .core.paths import Root

#: Every config key the extension reads, with its default. ``init_app``'s docstring
#: explains them; the README's configuration table lists them too (a test checks).
DEFAULTS: dict[str, Any] = {
    "NOTEBOOK_ROOT_DIR": None,
    "NOTEBOOK_TOKEN": None,
    "NOTEBOOK_PASSWORD": None,
    "NOTEBOOK_SECRET_KEY": None,
    "NOTEBOOK_ALLOW_HIDDEN": False,
    "NOTEBOOK_HIDE_GLOBS": ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~"],
    "NOTEBOOK_MAX_BODY_SIZE": 512 * 1024 * 1024,
    "NOTEBOOK_ALLOW_ORIGIN": "",
    "NOTEBOOK_ALLOW_ORIGIN_PAT": "",
    "NOTEBOOK_ALLOW_CREDENTIALS": False,
    "NOTEBOOK_ALLOW_REMOTE_ACCESS": True,
    "NOTEBOOK_LOCAL_HOSTNAMES": ["localhost"],
    "NOTEBOOK_DISABLE_CHECK_XSRF": False,
    "NOTEBOOK_COOKIE_MAX_AGE": 30 * 24 * 3600,
    "NOTEBOOK_DEFAULT_KERNEL_NAME": "python3",
    "NOTEBOOK_DATA_DIR": None,
    "NOTEBOOK_LISTING_CACHE": True,
}

Authorize = Callable[[Request], Any]


@dataclass
class NotebookState:
    """Everything one app's notebook needs, kept in ``app.extensions["notebook"]``."""

    contents: ContentsManager
    kernelspecs: Kernelspecs
    notary: notebooks.Notary
    token: str | None
    password_hash: str | None
    secret_key: str
    authorize: Authorize | None
    login_url: str | None
    config: dict[str, Any]
    started: float = field(default_factory=time.time)
    last_activity: float = field(default_factory=time.time)

    @property
    def root_dir(self) -> str:
        return self.contents.root.os_root

    def shutdown_all(self) -> None:
        """Release what this app holds. Safe to call more than once."""
        self.notary.close()
        self.contents.close()


class Notebook:
    """Mounts the notebook server (API, login, pages) into a Flask app.

    Keeps no reference to any app: per-app state lives in ``app.extensions["notebook"]``,
    so one extension object may serve several apps.
    """

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self._options = options
        if app is not None:
            self.init_app(app)

    def init_app(
        self,
        app: Flask,
        *,
        url_prefix: str | None = None,
        authorize: Authorize | None = None,
        login_url: str | None = None,
    ) -> None:
        """Mount the notebook under `url_prefix` (default ``/notebook``).

        Reads these config keys once, here; each gets its default via ``setdefault``:

        - ``NOTEBOOK_ROOT_DIR``: directory served (default: the current directory).
        - ``NOTEBOOK_TOKEN``: the access token. ``None`` generates one (none if a password
          is set); ``""`` turns token auth off.
        - ``NOTEBOOK_PASSWORD``: a hash from ``flask-notebook --hash-password``; enables
          password login on the login page.
        - ``NOTEBOOK_SECRET_KEY``: signs the login cookie (default: the app's ``SECRET_KEY``,
          else random per process, so logins end when the process does).
        - ``NOTEBOOK_ALLOW_HIDDEN``: serve dot-files (default ``False``).
        - ``NOTEBOOK_HIDE_GLOBS``: names left out of listings.
        - ``NOTEBOOK_MAX_BODY_SIZE``: request bodies above this many bytes get 413.
        - ``NOTEBOOK_ALLOW_ORIGIN``, ``NOTEBOOK_ALLOW_ORIGIN_PAT``, ``NOTEBOOK_ALLOW_CREDENTIALS``:
          CORS: an origin (or ``*``), a regex of origins, and whether to allow credentials.
        - ``NOTEBOOK_ALLOW_REMOTE_ACCESS``: when ``False``, only loopback addresses and
          ``NOTEBOOK_LOCAL_HOSTNAMES`` are accepted as the Host header (DNS-rebinding guard;
          the command line turns it on when it binds to loopback).
        - ``NOTEBOOK_DISABLE_CHECK_XSRF``: skip the XSRF check for cookie sessions.
        - ``NOTEBOOK_COOKIE_MAX_AGE``: login cookie lifetime in seconds.
        - ``NOTEBOOK_DEFAULT_KERNEL_NAME``: the default kernelspec.
        - ``NOTEBOOK_DATA_DIR``: where notebook signatures are kept (default: Jupyter's data dir).
        - ``NOTEBOOK_LISTING_CACHE``: reuse directory listings until inotify reports a change
          (Linux, local file systems only; default ``True``).

        :param authorize: ``callable(request) -> identity or None`` that replaces token and
            password auth, for a host with its own login.
        :param login_url: where pages send people who are not logged in, with ``authorize``.
        :raises RuntimeError: the app already has a notebook.
        """
        if "notebook" in app.extensions:
            raise RuntimeError("Notebook is already registered on this app; call init_app once per app.")
        options = {**self._options}
        url_prefix = options.pop("url_prefix", "/notebook") if url_prefix is None else url_prefix
        authorize = authorize or options.pop("authorize", None)
        login_url = login_url or options.pop("login_url", None)
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        config = {key: app.config[key] for key in DEFAULTS}
        root_dir = config["NOTEBOOK_ROOT_DIR"] or os.getcwd()
        if not os.path.isdir(root_dir):
            raise ValueError(f"NOTEBOOK_ROOT_DIR {root_dir!r} is not a directory")
        root = Root(root_dir, allow_hidden=config["NOTEBOOK_ALLOW_HIDDEN"], hide_globs=config["NOTEBOOK_HIDE_GLOBS"])
        notary = notebooks.Notary(config["NOTEBOOK_DATA_DIR"])
        password_hash = config["NOTEBOOK_PASSWORD"] or None
        token = config["NOTEBOOK_TOKEN"]
        if token is None and authorize is None:
            token = None if password_hash else auth.new_token()
        state = NotebookState(
            contents=ContentsManager(root, notary, listing_cache=config["NOTEBOOK_LISTING_CACHE"]),
            kernelspecs=Kernelspecs(default_name=config["NOTEBOOK_DEFAULT_KERNEL_NAME"]),
            notary=notary,
            token=token,
            password_hash=password_hash,
            secret_key=str(config["NOTEBOOK_SECRET_KEY"] or app.secret_key or secrets.token_hex(32)),
            authorize=authorize,
            login_url=login_url,
            config=config,
        )
        notebooks.validation_message(notebooks.new_notebook())  # compile the schema validator now
        app.extensions["notebook"] = state
        # A weak reference: an app that is dropped (tests make hundreds) releases its state.
        atexit.register(_shutdown_at_exit, weakref.ref(state))

        from .blueprints import notebook

        app.register_blueprint(notebook, url_prefix=url_prefix.rstrip("/"))


def _shutdown_at_exit(ref: weakref.ref[NotebookState]) -> None:
    state = ref()
    if state is not None:
        state.shutdown_all()


def state() -> NotebookState:
    """The current app's notebook state: the one place that reaches into the app."""
    return current_app.extensions["notebook"]  # type: ignore[no-any-return]
