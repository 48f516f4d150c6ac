"""`/metrics`: the app's Prometheus metrics (``core/metrics.py``), and the HTTP request hooks
that count every request of ours by route.

Open to what opens the API (token, login cookie, the host's ``authorize``), for an
administrator only (metrics span every user's kernels), and to NOTEBOOK_METRICS_TOKEN, which
opens nothing else: a Prometheus scraper need not hold the server's token.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, g, request
from prometheus_client.exposition import choose_encoder

from ..core import auth, errors
from ..extension import state
from ..transport import upgrade
from . import errors as api_errors
from . import audit, security

bp = Blueprint("metrics", __name__)
api_errors.register(bp)

#: Methods labelled as themselves; any other is "other" (bounded label values).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CONTENTS = "notebook.api.contents"
#: Contents views that are no audited action, by the operation they count as.
_CONTENTS_VIEWS = {"get_contents": "get", "list_checkpoints": "list_checkpoints",
                   "create_checkpoint": "checkpoint", "delete_checkpoint": "delete_checkpoint"}


@bp.before_request
def guard_metrics() -> Response | None:
    """NOTEBOOK_METRICS_TOKEN as a bearer token or ``?token=``, else the API's auth and an
    administrator. 404 with metrics off; 401 without credentials; 403 with wrong ones or
    for a user who is no administrator."""
    st = state()
    if st.metrics is None:
        raise errors.NotFound("Metrics are turned off (NOTEBOOK_METRICS)")
    wanted = st.settings.metrics_token
    given = _bearer_token()
    if wanted is not None and given is not None and auth.tokens_equal(given, wanted):
        return None
    identity, _ = security.authenticate()
    if identity is None:
        if given is None and not request.cookies:
            response = api_errors.error_response(401, "Authentication required", "no credentials")
            response.headers["WWW-Authenticate"] = 'Bearer realm="flask-notebook metrics"'
            return response
        raise errors.Forbidden("Forbidden")
    g.notebook_identity = identity
    if not security.current_user().admin:
        raise errors.Forbidden("Only an administrator may read the server's metrics", reason="not an administrator")
    return None


def _bearer_token() -> str | None:
    """The request's ``?token=`` or ``Authorization: Bearer|token`` value, if any."""
    token = request.args.get("token")
    if token:
        return token
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


@bp.get("/metrics")
def get_metrics() -> Response:
    """Every metric, in the text format the scraper asks for (Prometheus', or OpenMetrics)."""
    metrics = state().metrics
    assert metrics is not None  # guard_metrics
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = Response(encode(metrics.registry), 200, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- every request of ours, counted (registered on the ``notebook`` blueprint) ------------------


def before_request() -> None:
    g.notebook_request_began = time.perf_counter()


def after_request(response: Response) -> Response:
    """Count the request by its route (the endpoint: bounded, unlike the path), method and
    status. A WebSocket is counted once, when it ends, as 101 if it was accepted, and has no
    latency."""
    metrics = state().metrics
    began = g.get("notebook_request_began")
    if metrics is None or began is None:
        return response
    endpoint = request.endpoint or "unrouted"
    if endpoint.startswith("notebook."):
        endpoint = endpoint[len("notebook."):]
    method = request.method if request.method in _METHODS else "other"
    status = response.status_code
    if upgrade.is_upgrade(request.environ):
        metrics.http_request(endpoint, method, 101 if status < 400 else status, None)
    else:
        metrics.http_request(endpoint, method, status, time.perf_counter() - began)
        if request.blueprint == _CONTENTS and request.endpoint is not None:
            action = audit.action_of(request.endpoint, request.method)
            operation = action.removeprefix("contents.") if action else _CONTENTS_VIEWS.get(
                request.endpoint.rsplit(".", 1)[-1], "other")
            metrics.contents_operation(operation, status < 400)
    return response
