"""The blueprint tree: notebook -> {api -> {contents, kernels (+ channels), sessions, kernelspecs,
terminals, nbconvert}, auth, files, export (/nbconvert/<format>/<path>), kernelspec resources, terminal WebSocket, ui}.

Built once at import; ``Notebook.init_app`` registers ``notebook`` on each app.
"""

from __future__ import annotations

from ..core import errors as core_errors
from ..core.kernelrecords import HeldElsewhere
from . import (api, apispec, audit, auth, channels, config, contents, errors, events, execute, export, files, forward,
               icons, kernels, kernelspecs, metrics, nbconvert, openapi, runs, security, sessions, terminals, ui)
from .static import PagesBlueprint

notebook = PagesBlueprint(
    "notebook",
    __name__.rsplit(".", 1)[0],
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
notebook.before_request(metrics.before_request)  # first: every request's time, refusals included
notebook.after_request(metrics.after_request)  # first registered, so it runs last: the final status
notebook.before_request(security.check_host)
notebook.add_url_rule("/favicon.ico", "favicon", icons.favicon)  # open to all, as a static file
notebook.register_error_handler(core_errors.NotebookError, errors.handle_page_error)
notebook.after_request(security.after_auth)
notebook.after_request(audit.after_request)  # every action's line, from one place (NOTEBOOK_AUDIT_LOG)

api.bp.before_request(security.guard_api)
api.bp.before_request(forward.before_request)
api.bp.teardown_request(forward.teardown_request)
api.bp.after_request(api.finish_response)
errors.register(api.bp)
api.bp.register_error_handler(HeldElsewhere, forward.handle_held_elsewhere)  # replicas: to the kernel's holder
api.bp.register_blueprint(contents.bp)
api.bp.register_blueprint(kernelspecs.bp)
api.bp.register_blueprint(kernels.bp)  # with the channels WebSocket route on it
api.bp.register_blueprint(sessions.bp)
api.bp.register_blueprint(execute.bp)
api.bp.register_blueprint(runs.bp)
api.bp.register_blueprint(openapi.bp)
api.bp.register_blueprint(terminals.bp)
api.bp.register_blueprint(nbconvert.bp)
api.bp.register_blueprint(config.bp)
api.bp.register_blueprint(apispec.bp)
api.bp.register_blueprint(events.bp)  # with the subscribe WebSocket route on it
assert channels.sock  # imported for its route

for page_bp in (files.bp, export.bp, kernelspecs.resources_bp, ui.bp):
    page_bp.before_request(security.guard_page)

notebook.register_blueprint(api.bp)
notebook.register_blueprint(auth.bp)
notebook.register_blueprint(metrics.bp)  # /metrics: authenticated by its own before_request
notebook.register_blueprint(files.bp)
notebook.register_blueprint(export.bp)
notebook.register_blueprint(kernelspecs.resources_bp)
notebook.register_blueprint(terminals.socket_bp)  # authenticated as the API (its own before_request)
notebook.register_blueprint(ui.bp)

__all__ = ["notebook"]
