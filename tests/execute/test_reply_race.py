"""Answers that come back while the executor is still sending are not lost (see reply_race.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ..support.env import isolated_env

pytestmark = pytest.mark.live
PROJECT = Path(__file__).parent.parent.parent


def run(scenario: str, tmp_path: Path) -> dict[str, Any]:
    env = {**os.environ, **isolated_env(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "tests.execute.reply_race", scenario], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-5000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_an_execute_reply_dispatched_during_the_send_ends_its_request(tmp_path: Path) -> None:
    results = run("execute", tmp_path)
    assert results["forced"] >= 1  # the race was made to happen
    execute = results["execute"]
    assert execute["status"] == "ok", execute
    assert execute["outputs"] == [{"output_type": "execute_result", "execution_count": 1,
                                   "data": {"text/plain": "42"}, "metadata": {}}]


def test_an_input_request_dispatched_during_the_answer_is_kept(tmp_path: Path) -> None:
    results = run("input", tmp_path)
    assert results["forced"] >= 1  # the race was made to happen
    assert results["first_input"]["input_request"] == {"prompt": "a? ", "password": False}
    second = results["second_input"]
    assert second["status"] == "input_required" and second["input_request"]["prompt"] == "b? ", second
    answered = results["answered"]
    assert answered["status"] == "ok" and answered["outputs"][-1]["text"] == "42\n", answered
