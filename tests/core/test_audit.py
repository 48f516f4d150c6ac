"""The audit sink (issue 19) without a server: lines as JSON, the code as NOTEBOOK_AUDIT_CODE
says, a private append-only file, a logger target, and nothing lost at close."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from pathlib import Path

import pytest

from flask_notebook.core.audit import Audit


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_lines_are_json_with_the_fields_and_the_file_private(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = Audit(str(path))
    audit.record("kernel.start", user="alice", remote_addr="127.0.0.1", resource="k1", path="a.ipynb", status=201)
    audit.close()
    [line] = lines(path)
    assert line["user"] == "alice" and line["action"] == "kernel.start" and line["resource"] == "k1"
    assert line["outcome"] == "ok" and line["status"] == 201 and line["path"] == "a.ipynb"
    assert str(line["time"]).endswith("Z")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_the_file_is_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    for user in ("alice", "bob"):
        audit = Audit(str(path))
        audit.record("logout", user=user, remote_addr=None)
        audit.close()
    assert [line["user"] for line in lines(path)] == ["alice", "bob"]


@pytest.mark.parametrize("mode", ["full", "hash", "none"])
def test_code_is_written_as_configured(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "audit.jsonl"
    audit = Audit(str(path), code=mode)
    audit.record("execute", user="bob", remote_addr=None, code="print('hi')")
    audit.close()
    [line] = lines(path)
    digest = hashlib.sha256(b"print('hi')").hexdigest()
    assert line.get("code") == ("print('hi')" if mode == "full" else None)
    assert line.get("code_sha256") == (digest if mode == "hash" else None)


def test_close_writes_every_queued_line_and_later_ones_too(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = Audit(str(path))
    for i in range(2000):
        audit.record("contents.save", user="alice", remote_addr=None, path=f"f{i}.txt")
    audit.close()
    assert len(lines(path)) == 2000
    audit.record("kernel.shutdown", user=None, remote_addr=None)  # e.g. at exit, after the close
    audit.close()  # twice is fine
    assert lines(path)[-1]["action"] == "kernel.shutdown"


def test_a_logger_target(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="site.audit")
    audit = Audit("logger:site.audit")
    audit.record("login", user="alice", remote_addr="10.0.0.1")
    audit.close()
    [record] = [r for r in caplog.records if r.name == "site.audit"]
    assert json.loads(record.getMessage())["user"] == "alice"
