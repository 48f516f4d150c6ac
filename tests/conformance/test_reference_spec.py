"""Issue 16, section 6: no operation of the reference OpenAPI file may fail a check on our
server that jupyter_server 2.21.1 passes.

schemathesis generates requests from `shared/reference/jupyter_server_api.yaml` (valid and
invalid ones, its coverage and fuzzing phases). Every request goes to both servers, and both
answers go through the same checks: no server error, a documented status code, a documented
Content-Type and headers, a body that fits the documented schema, valid requests accepted
and invalid ones refused. The file is wrong in places (it says `PUT` answers 200 where both
servers answer 201 for a new file, `reason` a string where both send null): such a check
then fails on both, and only what fails on ours alone is a failure here. So this asserts,
request by request, "never worse than the reference", not "matches the file".
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               positive_data_acceptance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from ..support.conformance import REFERENCE_SPEC, seed_root
from ..support.env import AUTH
from ..support.server import LiveServer

SPEC = REFERENCE_SPEC
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection, positive_data_acceptance]

#: The code of schemathesis's "Server error" failure (not_a_server_error).
SERVER_ERROR = "ST101"
#: Requests per operation (with `derandomize`, the same ones every run).
MAX_EXAMPLES = int(os.environ.get("CONFORMANCE_EXAMPLES", "30"))


def corrected_spec() -> dict[str, Any]:
    """The reference file, with what the contract note says it gets wrong put right (the
    note wins where the two disagree). Each correction is one the reference server itself
    needs too, so none of them lets our server off anything the reference does.

    - Error bodies: ``reason`` is null unless noted (contract section 1), where the file
      says a string; both servers send null.
    """
    spec: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            for response in (operation.get("responses") or {}).values() if isinstance(operation, dict) else ():
                properties = (response.get("schema") or {}).get("properties") or {}
                if "reason" in properties and "error" in properties:
                    properties["reason"]["x-nullable"] = True
    return spec


schema = schemathesis.openapi.from_dict(corrected_spec())

pytestmark = [pytest.mark.live, pytest.mark.xdist_group("conformance")]


def failed_checks(case: Any, response: Any, checks: list[Any] = CHECKS) -> dict[str, str]:
    """{check title: first line of its message} for the checks `response` fails."""
    try:
        case.validate_response(response, checks=checks)
    except FailureGroup as group:
        return {f"{f.code} {f.title}": f.message.splitlines()[0] if f.message else "" for f in group.exceptions}
    except Failure as failure:
        return {f"{failure.code} {failure.title}": failure.message.splitlines()[0] if failure.message else ""}
    return {}


def reset(server: LiveServer) -> None:
    """Each request meets the same state on both servers: the seeded files, no kernels, no
    sessions and no terminals (what one server refused and the other did must not make them
    drift apart)."""
    for kind, key in (("sessions", "id"), ("kernels", "id"), ("terminals", "name")):
        listing = server.request("GET", f"api/{kind}")
        for item in listing.json() if listing.ok else []:
            server.request("DELETE", f"api/{kind}/{item[key]}")
    for entry in server.root.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    seed_root(server.root)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_check_fails_on_ours_that_the_reference_passes(case: Any, ours: LiveServer,
                                                          reference: LiveServer) -> None:
    session = requests.Session()
    answers = {}
    for name, server in (("ours", ours), ("reference", reference)):
        reset(server)
        response = case.call(base_url=server.url.rstrip("/"), session=session, headers=AUTH, timeout=30)
        answers[name] = (response, failed_checks(case, response))
    ours_failed, reference_failed = answers["ours"][1], answers["reference"][1]
    worse = {title: message for title, message in ours_failed.items() if title not in reference_failed}
    if any(title.startswith(SERVER_ERROR) for title in reference_failed) and not any(
            title.startswith(SERVER_ERROR) for title in ours_failed):
        # The reference failed this request outright (a 500, with no documented answer to
        # hold it to); any answer of ours that is not a server error is not worse.
        worse = {}
    ours_response, reference_response = answers["ours"][0], answers["reference"][0]
    assert not worse, (
        f"{case.method} {case.formatted_path} fails {worse} on ours and not on the reference\n"
        f"request: {case.as_curl_command()}\n"
        f"ours: {ours_response.status_code} {ours_response.headers.get('Content-Type')} {ours_response.text[:300]!r}\n"
        f"reference: {reference_response.status_code} {reference_response.headers.get('Content-Type')} "
        f"{reference_response.text[:300]!r}")
