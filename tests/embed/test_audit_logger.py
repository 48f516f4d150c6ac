"""A host site's audit trail through its own logger (``NOTEBOOK_AUDIT_LOG = "logger:<name>"``):
its users' actions as JSON records, with the names its ``authorize`` gave."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from flask import Flask, Request

from flask_notebook import Notebook


def test_actions_go_to_the_hosts_logger_with_its_user_names(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="site.audit")
    host = Flask("site")
    host.config.update(TESTING=True, SECRET_KEY="s", NOTEBOOK_ROOT_DIR=str(root),
                       NOTEBOOK_AUDIT_LOG="logger:site.audit", NOTEBOOK_AUDIT_CODE="none")

    def authorize(req: Request) -> str | None:
        return req.headers.get("X-User")  # a plain user name, as a host may return

    Notebook(host, url_prefix="/nb", authorize=authorize)
    client = host.test_client()
    headers = {"X-User": "ada", "Authorization": "Bearer site-session"}
    assert client.put("/nb/api/contents/a.txt", json={"type": "file", "format": "text", "content": "x"},
                      headers=headers).status_code == 201
    assert client.delete("/nb/api/contents/a.txt", headers=headers).status_code == 204
    assert client.get("/nb/api/contents").status_code == 403  # nobody
    host.extensions["notebook"].shutdown_all()  # a clean stop: every queued line is handed over
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "site.audit"]
    assert [(line["action"], line["user"], line["outcome"]) for line in lines] == [
        ("contents.save", "ada", "ok"), ("contents.delete", "ada", "ok"), ("access", None, "denied")]
    assert "site-session" not in caplog.text
