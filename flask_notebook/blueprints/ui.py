"""The pages: the file browser (`/tree/<path>`), the Running and Runs views, the notebook editor and
a terminal (`/terminals/<name>`).

Pages are thin: they check the path, then hand the JS its URLs in the #nb-config block
(``page_config``); the listing itself comes from the contents API.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, make_response, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from ..core import errors
from ..extension import state
from . import ownership, security
from .config import ui_settings

bp = Blueprint("ui", __name__)


def page_config(**extra: Any) -> dict[str, Any]:
    """The URLs every page's JS needs (read by static/flask_notebook/js/api.js), plus `extra`.

    Prefixes end in "/" so the JS appends an encoded API path; all come from ``url_for``, so
    they carry the mount point and the base URL.
    """
    base = url_for("notebook.ui.index")
    return {
        "baseUrl": base,
        "apiUrl": url_for("notebook.api.get_version"),
        "contentsUrl": url_for("notebook.api.contents.get_contents"),
        "treeUrl": url_for("notebook.ui.tree"),
        "notebooksUrl": url_for("notebook.ui.notebook", api_path="x")[:-1],
        "filesUrl": url_for("notebook.files.get_file", api_path="x")[:-1],
        "runningUrl": url_for("notebook.ui.running"),
        "runsUrl": url_for("notebook.ui.runs"),
        "editUrl": url_for("notebook.ui.edit", api_path="x")[:-1],
        # Terminals: the page prefix ("/nb/terminals/" + a name), or null when switched off.
        "terminalsUrl": url_for("notebook.ui.terminal", name="x")[:-1] if state().terminals is not None else None,
        **extra,
    }


@bp.context_processor
def user_context() -> dict[str, Any]:
    """Who is logged in, for the header (base.html): their name, and where to log out when
    that is ours to offer (not with the host's login, nor with authentication off)."""
    identity = g.get("notebook_identity")
    if identity is None:
        return {}
    user = security.current_user()
    return {"nb_user": {"username": identity["username"],
                        "display_name": identity.get("display_name") or identity["username"],
                        "admin": user.admin,
                        "logout_url": security.logout_url()}}


def _page(template: str, status: int = 200, **context: Any) -> Response:
    """Render a page; one with a config gets the user's UI settings in it (``settings``) and
    as ``nb_settings``, which base.html puts on ``<html>`` (theme, code font size) so the
    first paint already has them."""
    if "nb_config" in context:
        try:
            settings = ui_settings()
        except errors.NotebookError:  # a store that cannot be read: the defaults, not a broken page
            settings = {}
        context["nb_config"]["settings"] = settings
        context["nb_settings"] = settings
    response = make_response(render_template(f"flask_notebook/{template}", **context), status)
    security.ensure_xsrf_cookie(response)
    return response


@bp.get("/")
def index() -> BaseResponse:
    """The landing page is the file browser at the root, as in Jupyter."""
    return redirect(url_for(".tree"))


@bp.get("/tree/", defaults={"api_path": ""}, strict_slashes=False)
@bp.get("/tree/<nb_path:api_path>")
def tree(api_path: str) -> BaseResponse:
    """The file browser of one directory. A file's URL goes to its editor or its download;
    a missing or hidden directory is a 404 page (not JSON: a person is reading it)."""
    api_path = api_path.strip("/")
    contents = ownership.workspace().contents
    try:
        hidden = contents.root.refuse_hidden(api_path)
        is_dir = not hidden and contents.dir_exists(api_path)
        is_file = not hidden and not is_dir and contents.file_exists(api_path)
    except (errors.NotFound, errors.NameTooLong):
        hidden = is_dir = is_file = False
    if is_file:
        if api_path.endswith(".ipynb"):
            return redirect(url_for("notebook.ui.notebook", api_path=api_path))
        return redirect(url_for("notebook.files.get_file", api_path=api_path))
    title = api_path.rsplit("/", 1)[-1] or "Files"
    if not is_dir:
        return _page("tree.html", 404, nb_config=page_config(path=api_path), nav_current="files",
                     title=title, missing=True, api_path=api_path)
    return _page("tree.html", nb_config=page_config(path=api_path), nav_current="files",
                 title=title, missing=False, api_path=api_path)


def _file_exists(api_path: str) -> bool:
    """A file the API would serve: not hidden, not outside the root, not a folder."""
    contents = ownership.workspace().contents
    try:
        return not contents.root.refuse_hidden(api_path) and bool(contents.file_exists(api_path))
    except (errors.NotFound, errors.NameTooLong):
        return False


@bp.get("/edit/<nb_path:api_path>")
def edit(api_path: str) -> BaseResponse:
    """The file editor (Jupyter's `/edit/<path>`, src/edit/ bundled into build/edit.js); a missing
    file is a 404 page. It autosaves at the person's interval (their Settings), by default the
    server's, given here."""
    api_path = api_path.strip("/")
    found = _file_exists(api_path)
    name = api_path.rsplit("/", 1)[-1]
    config = page_config(path=api_path, autosaveInterval=state().settings.autosave_interval)
    return _page("edit.html", 200 if found else 404, nb_config=config, nav_current="files",
                 title=name, missing=not found, api_path=api_path)


@bp.get("/running")
def running() -> Response:
    """Running kernels and the sessions (notebooks, consoles) that use them."""
    return _page("running.html", nb_config=page_config(), nav_current="running")


@bp.get("/runs")
def runs() -> Response:
    """The run history: the caller's runs (everyone's for an administrator), newest first."""
    return _page("runs.html", nb_config=page_config(), nav_current="runs")


@bp.get("/notebooks/<nb_path:api_path>")
def notebook(api_path: str) -> BaseResponse:
    """The notebook editor. The page loads the notebook, and starts or joins its session, itself."""
    api_path = api_path.strip("/")
    found = _file_exists(api_path)
    name = api_path.rsplit("/", 1)[-1]
    config = page_config(
        path=api_path,
        kernelspecsUrl=url_for("notebook.api.kernelspecs.list_kernelspecs"),
        autosaveInterval=state().settings.autosave_interval,
    )
    return _page("notebook.html", 200 if found else 404, nb_config=config, title=name, missing=not found,
                 api_path=api_path)


@bp.get("/terminals/<name>")
def terminal(name: str) -> Response:
    """A terminal's page (Notebook 7's URL): xterm.js on the terminal's WebSocket. An unknown
    terminal (or another user's, or terminals switched off) is a 404 page."""
    terminals = state().terminals
    try:
        found = terminals is not None and bool(terminals.get(name, ownership.user()))
    except errors.NotFound:
        found = False
    return _page("terminal.html", 200 if found else 404, nb_config=page_config(name=name), nav_current="terminal",
                 title=f"Terminal {name}", missing=not found, name=name)
