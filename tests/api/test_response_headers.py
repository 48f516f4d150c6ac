"""Headers every answer carries: no HTTP caching of API answers, the reference's
Content-Security-Policy with its report URI, and the CSP report endpoint itself."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ..support.env import AUTH, TOKEN

API_CSP = "frame-ancestors 'self'; report-uri /api/security/csp-report; default-src 'none'"


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/api/contents", 200),
        ("GET", "/api/contents/nope.ipynb", 404),
        ("GET", "/api/status", 200),
        ("GET", "/api/kernels", 200),
        ("POST", "/api/contents", 201),
        ("PATCH", "/api/contents/nope", 400),
        ("GET", "/api/no-such-endpoint", 404),
    ],
)
def test_every_api_answer_forbids_http_caching(client: FlaskClient, method: str, path: str, status: int) -> None:
    # A browser that reused an old answer by itself showed a notebook from before its last
    # save (issue 16, section 1): whatever the status, no API answer may be stored.
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"] == API_CSP


def test_validators_still_give_304(client: FlaskClient) -> None:
    first = client.get("/api/contents")
    again = client.get("/api/contents", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["Cache-Control"] == "no-store"


def test_csp_report_uri_carries_the_mount_point(host_app: Flask) -> None:
    client = host_app.test_client()
    response = client.get("/nb/api/contents", headers=AUTH)
    assert response.headers["Content-Security-Policy"] == (
        "frame-ancestors 'self'; report-uri /nb/api/security/csp-report; default-src 'none'")
    page = client.get("/nb/login")
    assert page.headers["Content-Security-Policy"] == "frame-ancestors 'self'; report-uri /nb/api/security/csp-report"


def test_downloads_are_sandboxed_and_report_violations(client: FlaskClient, root: Path) -> None:
    (root / "a.html").write_text("<script>1</script>")
    response = client.get("/files/a.html")
    response.close()
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == (
        "frame-ancestors 'self'; report-uri /api/security/csp-report; sandbox allow-scripts")
    assert response.headers["Cache-Control"] == "no-cache"


def test_csp_report_is_logged_without_xsrf_or_origin_check(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    client = app.test_client()
    client.get("/login")
    xsrf = client.get_cookie("_xsrf")
    assert xsrf is not None
    client.post("/login", data={"password": TOKEN, "_xsrf": xsrf.value})
    # A cookie session, no X-XSRFToken, another origin: what a browser's own report looks like.
    report = (b'{"csp-report": {"document-uri": "http://127.0.0.1/tree?token=SECRET-TOKEN#f", '
              b'"violated-directive": "frame-ancestors", "script-sample": "password = 1234"}}')
    with caplog.at_level(logging.WARNING):
        response = client.post("/api/security/csp-report", data=report,
                               headers={"Origin": "http://elsewhere.example", "Content-Type": "application/csp-report"})
    assert response.status_code == 200
    assert response.get_data() == b""
    logged = [r.getMessage() for r in caplog.records if "Content security violation" in r.getMessage()]
    assert logged == ["Content security violation: violated-directive=frame-ancestors, "
                      "document-uri=http://127.0.0.1/tree"]
    # Never the token in the page's URL, nor the code of a script sample.
    assert "SECRET-TOKEN" not in caplog.text and "1234" not in caplog.text
    # Any other unsafe request of that session still needs the XSRF header.
    assert client.post("/api/contents", headers={"Origin": "http://elsewhere.example"}).status_code == 403


def test_csp_report_needs_authentication(anon: FlaskClient) -> None:
    response = anon.post("/api/security/csp-report", data=b"{}")
    assert response.status_code == 403
    assert response.json == {"message": "Forbidden", "reason": None}


def test_csp_report_does_not_count_as_activity(client: FlaskClient, app: Flask) -> None:
    state = app.extensions["notebook"]
    state.last_activity = 0.0
    client.post("/api/security/csp-report", data=b"{}")
    assert state.last_activity == 0.0


def test_a_csp_report_that_is_not_json_is_logged_as_unreadable(client: FlaskClient,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert client.post("/api/security/csp-report", data=b"token=SECRET-TOKEN").status_code == 200
    assert "SECRET-TOKEN" not in caplog.text
    assert "Content security violation: an unreadable report" in caplog.text
