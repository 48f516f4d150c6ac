"""The parts of REST execution that need no kernel: checking bodies, building records."""

from __future__ import annotations

import random
from typing import Any

import pytest

from flask_notebook.core import errors
from flask_notebook.core.execute import Execution, Options, Records, check_usable, parse_options
from flask_notebook.core.kernels import Kernel
from flask_notebook.core.pool import handout_code, parse_sizes


def test_options_default_as_jupyter_and_bad_fields_are_named() -> None:
    options = parse_options({"code": "1"})
    assert options == Options(code="1", silent=False, store_history=True, user_expressions={}, allow_stdin=True,
                              stop_on_error=True, timeout=None)
    assert parse_options({"code": "", "timeout": 2, "silent": True}).timeout == 2.0
    for body, field in (({}, "code"), ({"code": None}, "code"), ({"code": "1", "timeout": 0}, "timeout"),
                        ({"code": "1", "timeout": "5"}, "timeout"), ({"code": "1", "store_history": 1}, "store_history"),
                        ({"code": "1", "user_expressions": {"a": 1}}, "user_expressions")):
        with pytest.raises(errors.Invalid) as info:
            parse_options(body)
        assert field in info.value.message and info.value.reason == f"bad field: {field}"
    with pytest.raises(errors.Invalid):
        parse_options(None)


def test_outputs_merge_streams_and_follow_clear_and_update_display() -> None:
    execution = Execution("k", Options(code=""))
    execution.add_output("stream", {"name": "stdout", "text": "a"})
    execution.add_output("stream", {"name": "stdout", "text": "b\n"})
    execution.add_output("stream", {"name": "stderr", "text": "oops\n"})
    execution.add_output("stream", {"name": "stdout", "text": "c\n"})
    assert [(o["name"], o["text"]) for o in execution.outputs] == [("stdout", "ab\n"), ("stderr", "oops\n"),
                                                                     ("stdout", "c\n")]
    # Each piece was an event of its own, unmerged.
    assert [p["text"] for n, p in execution.events if n == "output"] == ["a", "b\n", "oops\n", "c\n"]
    execution.add_output("clear_output", {"wait": True})
    assert len(execution.outputs) == 3  # cleared only when the next output comes
    execution.add_output("display_data", {"data": {"text/plain": "v1"}, "metadata": {},
                                          "transient": {"display_id": "d"}})
    assert execution.outputs == [{"output_type": "display_data", "data": {"text/plain": "v1"}, "metadata": {}}]
    # The event says which display it is; the record's nbformat view does not.
    assert execution.events[-1][1]["transient"] == {"display_id": "d"}
    assert execution.display_outputs() == [{**execution.outputs[0], "transient": {"display_id": "d"}}]
    execution.add_output("update_display_data", {"data": {"text/plain": "v2"}, "metadata": {},
                                                 "transient": {"display_id": "d"}})
    assert execution.outputs[0]["data"] == {"text/plain": "v2"}
    execution.add_output("execute_result", {"data": {"text/plain": "3"}, "metadata": {}, "execution_count": 4})
    assert execution.outputs[-1]["execution_count"] == 4
    execution.add_output("clear_output", {"wait": False})
    assert execution.outputs == []
    execution.finish("ok")
    execution.finish("error")  # a finished record does not change
    assert execution.status == "ok" and execution.events[-1][0] == "done" and execution.events[0][0] == "accepted"
    assert [n for n, _ in execution.events].count("done") == 1


def test_a_stream_ends_after_done() -> None:
    execution = Execution("k", Options(code=""))
    execution.add_output("stream", {"name": "stdout", "text": "x"})
    execution.finish("ok")
    assert [item[1] for item in execution.stream(1) if item is not None] == ["output", "done"]


def test_a_record_changes_only_through_transitions_from_the_right_status() -> None:
    execution = Execution("k", Options(code=""))
    with pytest.raises(errors.Conflict):
        execution.resume()  # queued: not waiting for input
    execution.start()
    assert execution.status == "running" and execution.started is not None
    with pytest.raises(RuntimeError):
        execution.start()  # sent once
    assert execution.ask_input("name? ", False)
    assert execution.record()["input_request"] == {"prompt": "name? ", "password": False}
    execution.resume()
    assert execution.status == "running" and execution.input_request is None
    execution.finish("timeout", reply={"execution_count": 3, "user_expressions": {"x": {}}})
    assert (execution.status, execution.execution_count, execution.user_expressions) == ("timeout", 3, {"x": {}})
    # A finished record is final: late messages of the kernel change nothing.
    assert not execution.ask_input("again? ", False)
    execution.set_execution_count(4)
    execution.add_output("stream", {"name": "stdout", "text": "late"})
    execution.finish("ok", reply={"execution_count": 5})
    assert (execution.status, execution.execution_count, execution.outputs) == ("timeout", 3, [])
    assert [name for name, _ in execution.events] == ["accepted", "input_required", "done"]
    with pytest.raises(RuntimeError):
        Execution("k", Options(code="")).finish("running")  # not a final status


class NoScan(dict[str, Any]):
    """A dict that fails the test when anything walks through all of it."""

    def __iter__(self) -> Any:
        raise AssertionError("a read walked through every record")

    keys = values = items = __iter__  # type: ignore[assignment]


def test_finished_records_expire_in_finish_order_without_a_scan_per_read() -> None:
    now = [0.0]
    records = Records(ttl=100, limit=10_000, clock=lambda: now[0])
    pending = Execution("k0", Options(code=""))
    executions = [Execution(f"k{n % 3}", Options(code="")) for n in range(1000)]
    for execution in [pending, *executions]:
        records.add(execution)
    finish_order = executions[:]
    random.Random(18).shuffle(finish_order)  # not the order they were submitted in
    for execution in finish_order:
        now[0] += 1
        execution.finish("ok")  # at 1, 2, ..., 1000
    records._by_id = NoScan(records._by_id)  # reads look at the front of the finish queue only
    now[0] = 100.5
    assert all(records.get(e.id) is e for e in executions) and len(records) == 1001  # none expired yet
    for n, execution in enumerate(finish_order):
        now[0] = 100 + n + 1  # the n-th to finish (and no other) is now older than the ttl
        assert records.get(execution.id) is None
        assert len(records) == 1001 - (n + 1)
        if n + 1 < len(finish_order):
            assert records.get(finish_order[n + 1].id) is finish_order[n + 1]
    assert records.get(pending.id) is pending and records.of_kernel("k0") == [pending]  # pending ones stay


def test_past_the_limit_the_first_finished_records_go_first() -> None:
    records = Records(ttl=3600, limit=3)
    executions = [Execution("k", Options(code="")) for _ in range(5)]
    for execution in executions:
        records.add(execution)
    for index in (4, 2, 0):
        executions[index].finish("ok")
    assert [e.id for e in records.of_kernel("k")] == [executions[i].id for i in (0, 1, 3)]  # 4 and 2 went


def test_a_kernel_without_a_relay_is_refused() -> None:
    kernel = Kernel("k", "python3", None, "/")  # type: ignore[arg-type]  # no process: never started
    with pytest.raises(errors.Conflict) as conflict:
        check_usable(kernel)
    assert conflict.value.reason == "kernel dead"


def test_pool_sizes_and_handout_code() -> None:
    assert parse_sizes({"Python3": 2}) == {"python3": 2}
    assert parse_sizes("python3=2, r=1") == {"python3": 2, "r": 1}
    for bad in ("python3", "python3=x", "=1", 3):
        with pytest.raises(ValueError):
            parse_sizes(bad)
    code = handout_code("/srv/it's here", {"JPY_SESSION_NAME": "/srv/nb.ipynb"})
    compile(code, "handout", "exec")
    assert "chdir(\"/srv/it's here\")" in code and "__session__ = '/srv/nb.ipynb'" in code
