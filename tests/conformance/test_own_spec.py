"""`/api/spec.yaml` describes what this server answers: schemathesis sends requests generated
from our own document (valid and invalid ones) to our server, and every answer must have a
documented status, a documented Content-Type and headers, and a body that fits its schema,
and no answer may be a server error.

Not checked here: whether every valid request is accepted and every invalid one refused
(``positive_data_acceptance``, ``negative_data_rejection``). A document cannot say
everything a server checks (deleting the root is a valid-looking request answered 400), and
tests/conformance/test_reference_spec.py holds us to the reference there.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from flask_notebook.blueprints import apispec

from ..support.env import AUTH
from ..support.server import LiveServer
from .test_reference_spec import MAX_EXAMPLES, failed_checks, reset

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]

# A browser's CSP report is JSON under its own media type.
schemathesis.serializer.alias("application/csp-report", "application/json")

schema = schemathesis.openapi.from_dict(apispec.DOCUMENT).exclude(
    # Stops the server (tests/deploy/test_shutdown.py); WebSockets (tests of their own).
    path_regex=r"^/api/shutdown$|/channels$|/subscribe$|/websocket/")

pytestmark = [pytest.mark.live, pytest.mark.xdist_group("conformance")]


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_answer_is_described_by_our_document(case: Any, ours: LiveServer) -> None:
    reset(ours)
    response = case.call(base_url=ours.url.rstrip("/"), session=requests.Session(), headers=AUTH, timeout=60)
    failed = failed_checks(case, response, CHECKS)
    assert not failed, (f"{case.method} {case.formatted_path}: {failed}\nrequest: {case.as_curl_command()}\n"
                        f"answer: {response.status_code} {response.headers.get('Content-Type')} "
                        f"{response.text[:300]!r}")
