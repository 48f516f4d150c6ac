"""The merge of a user's save with an in-place run's outputs, and the per-cell output bound."""

from __future__ import annotations

import copy
from typing import Any

import nbformat
import orjson
import pytest

from flask_notebook.core import notebooks
from flask_notebook.core.runmerge import CellResult, adopt_ids, deleted_cells, overlay
from flask_notebook.core.runoutputs import BoundedOutputs, notice_text, valid_output


def code(cell_id: str, source: str, **extra: Any) -> dict[str, Any]:
    return {"id": cell_id, "cell_type": "code", "metadata": extra.pop("metadata", {}), "source": source,
            "outputs": extra.pop("outputs", []), "execution_count": extra.pop("execution_count", None)}


def markdown(cell_id: str, source: str) -> dict[str, Any]:
    return {"id": cell_id, "cell_type": "markdown", "metadata": {}, "source": source}


def notebook(*cells: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"cells": list(cells), "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def stdout(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def result(text: str, count: int = 1, status: str = "ok") -> CellResult:
    return CellResult(outputs=[stdout(text)], execution_count=count,
                      execution={"start": "2024-01-01T00:00:00Z", "end": None, "duration": None,
                                 "status": status, "run_id": "r" * 32})


def assert_valid(nb: dict[str, Any]) -> None:
    disk = notebooks.serialize_notebook(nb)
    nbformat.validate(nbformat.reads(disk.decode(), as_version=4))
    assert notebooks.validation_message(notebooks.parse_notebook(disk, api_path="x.ipynb")) is None


# -- overlay ---------------------------------------------------------------------------------


def test_overlay_puts_run_outputs_count_and_timing_into_owned_cells_only() -> None:
    base = notebook(code("a", "print(1)"), markdown("m", "# hi"), code("b", "x", outputs=[stdout("old\n")],
                                                                     execution_count=7))
    merged = overlay(base, {"a": result("1\n", 3)})
    a, m, b = merged["cells"]
    assert a["outputs"] == [stdout("1\n")] and a["execution_count"] == 3
    assert a["metadata"]["flask_notebook"]["execution"]["status"] == "ok"
    assert m is base["cells"][1]
    assert b["outputs"] == [stdout("old\n")] and b["execution_count"] == 7  # not the run's: the user's
    assert_valid(merged)


def test_overlay_modifies_neither_argument() -> None:
    base = notebook(code("a", "print(1)", metadata={"tags": ["t"]}))
    owned = {"a": result("1\n")}
    before_base, before_owned = copy.deepcopy(base), copy.deepcopy(owned)
    merged = overlay(base, owned)
    merged["cells"][0]["outputs"][0]["text"] = "changed"
    merged["cells"][0]["metadata"]["tags"].append  # noqa: B018 - shared values are fine, dicts are new
    assert base == before_base and owned == before_owned


def test_user_reordered_cells_keep_their_outputs_by_id() -> None:
    owned = {"a": result("A\n", 1), "b": result("B\n", 2)}
    user = notebook(code("b", "print('B')"), code("a", "print('A')"))
    merged = overlay(user, owned)
    assert [c["id"] for c in merged["cells"]] == ["b", "a"]
    assert merged["cells"][0]["outputs"] == [stdout("B\n")] and merged["cells"][0]["execution_count"] == 2
    assert merged["cells"][1]["outputs"] == [stdout("A\n")]


def test_a_cell_the_user_deleted_is_no_longer_written() -> None:
    owned = {"a": result("A\n"), "b": result("B\n")}
    user = notebook(code("a", "print('A')"))
    merged = overlay(user, owned)
    assert [c["id"] for c in merged["cells"]] == ["a"]
    assert deleted_cells(user, owned) == {"b"}
    assert_valid(merged)


def test_a_new_cell_of_the_user_is_kept_with_its_own_outputs() -> None:
    owned = {"a": result("A\n")}
    user = notebook(code("new", "2+2", outputs=[{"output_type": "execute_result", "execution_count": 9,
                                                 "data": {"text/plain": "4"}, "metadata": {}}],
                         execution_count=9), code("a", "print('A')"))
    merged = overlay(user, owned)
    assert merged["cells"][0] == user["cells"][0]
    assert merged["cells"][1]["outputs"] == [stdout("A\n")]
    assert_valid(merged)


def test_edited_source_of_a_running_cell_is_the_users_and_outputs_the_runs() -> None:
    owned = {"a": result("partial\n", 4, status="running")}
    user = notebook(code("a", "print('edited')", outputs=[stdout("stale browser output\n")], execution_count=1))
    merged = overlay(user, owned)
    cell = merged["cells"][0]
    assert cell["source"] == "print('edited')"
    assert cell["outputs"] == [stdout("partial\n")] and cell["execution_count"] == 4
    assert cell["metadata"]["flask_notebook"]["execution"]["status"] == "running"


def test_metadata_is_the_users_except_the_runs_execution_timing() -> None:
    stale = {"execution": {"status": "ok", "run_id": "old"}, "pinned": True}
    owned = {"a": result("x\n", status="running")}
    user = notebook(code("a", "x", metadata={"tags": ["keep"], "collapsed": True, "flask_notebook": stale}),
                    code("b", "y", metadata={"flask_notebook": stale}), kernelspec={"name": "python3"})
    merged = overlay(user, owned)
    a, b = merged["cells"]
    assert a["metadata"]["tags"] == ["keep"] and a["metadata"]["collapsed"] is True
    assert a["metadata"]["flask_notebook"] == {"pinned": True, "execution": owned["a"].execution}
    assert b["metadata"]["flask_notebook"] == stale  # not executed by this run: the user's
    assert merged["metadata"] == {"kernelspec": {"name": "python3"}}


def test_a_cell_made_markdown_by_the_user_gets_no_outputs() -> None:
    owned = {"a": result("A\n")}
    user = notebook(markdown("a", "now prose"))
    merged = overlay(user, owned)
    assert merged["cells"] == user["cells"]
    assert deleted_cells(user, owned) == {"a"}
    assert_valid(merged)


def test_adopt_ids_matches_an_id_less_copy_by_position() -> None:
    base = notebook(code("a", "1"), markdown("m", "t"), code("b", "2"))
    user = {**notebook(code("x1", "1 edited"), markdown("x2", "t"), code("x3", "2")), "nbformat_minor": 5}
    adopted = adopt_ids(user, base)
    assert [c["id"] for c in adopted["cells"]] == ["a", "m", "b"]
    assert adopted["cells"][0]["source"] == "1 edited"
    no_ids = {"cells": [{k: v for k, v in c.items() if k != "id"} for c in user["cells"]], "metadata": {},
              "nbformat": 4, "nbformat_minor": 4}
    adopted = adopt_ids(no_ids, base)
    assert [c["id"] for c in adopted["cells"]] == ["a", "m", "b"] and adopted["nbformat_minor"] == 5


def test_adopt_ids_leaves_a_copy_that_shares_ids_alone_and_names_cells_without_one() -> None:
    base = notebook(code("a", "1"), code("b", "2"))
    user = notebook(code("b", "2"), code("new", "3"))
    assert adopt_ids(user, base) is user
    partial = notebook(code("a", "1"), {"cell_type": "code", "metadata": {}, "source": "n", "outputs": [],
                                        "execution_count": None})
    adopted = adopt_ids(partial, base)
    assert adopted["cells"][0]["id"] == "a" and isinstance(adopted["cells"][1]["id"], str)
    assert adopted["cells"][1]["id"] not in ("a", "b")
    assert_valid(adopted)


def test_adopt_ids_does_not_guess_when_the_shapes_differ() -> None:
    base = notebook(code("a", "1"), code("b", "2"))
    user = notebook(code("x", "1"), markdown("y", "new"), code("z", "2"))
    assert adopt_ids(user, base) is user


# -- the bound -------------------------------------------------------------------------------


def json_size(outputs: list[dict[str, Any]]) -> int:
    return sum(len(orjson.dumps(output)) for output in outputs)


def test_outputs_within_the_limit_are_kept_as_they_came() -> None:
    bound = BoundedOutputs(1000)
    bound.add(stdout("a\n"))
    bound.add(stdout("b\n"))
    bound.add({"output_type": "stream", "name": "stderr", "text": "warn\n"})
    bound.add({"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": {}})
    assert bound.saved() == [stdout("a\nb\n"), {"output_type": "stream", "name": "stderr", "text": "warn\n"},
                             {"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": {}}]
    assert not bound.truncated and bound.left_out == 0


def test_a_long_stream_is_cut_at_the_limit_with_a_notice_counting_what_was_left_out() -> None:
    limit = 64 * 1024
    bound = BoundedOutputs(limit)
    chunk = "0123456789abcdef" * 64 + "\n"
    for _ in range(200):
        bound.add(stdout(chunk))
    saved = bound.saved()
    assert len(saved) == 2
    kept, notice = saved
    assert chunk.startswith(kept["text"][: len(chunk)]) and kept["text"] == (chunk * 200)[: len(kept["text"])]
    assert json_size([kept]) <= limit
    assert json_size([kept]) >= limit - 2  # cut where the limit is, not before
    left_out = len(orjson.dumps(chunk * 200)) - len(orjson.dumps(kept["text"]))  # JSON bytes: "\n" takes 2
    assert notice == {"output_type": "stream", "name": "stderr", "text": notice_text(limit, left_out)}
    assert notice["text"] == (f"[output truncated: 64 KiB limit (NOTEBOOK_RUN_MAX_OUTPUT_BYTES) reached; "
                              f"{left_out} bytes left out]\n")


def test_the_cut_counts_json_bytes_of_escaped_and_wide_characters() -> None:
    bound = BoundedOutputs(1000)
    bound.add(stdout("\x01é😀\r" * 500))
    kept = bound.saved()[0]
    assert json_size([kept]) <= 1000
    assert json_size([kept]) > 1000 - 20


def test_outputs_after_the_cut_are_left_out_but_an_error_is_kept_after_the_notice() -> None:
    bound = BoundedOutputs(200)
    bound.add(stdout("x" * 300))
    image = {"output_type": "display_data", "data": {"image/png": "A" * 50}, "metadata": {}}
    bound.add(image)
    error = {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["line 1", "line 2"]}
    bound.add(error)
    kept, notice, last = bound.saved()
    assert kept["output_type"] == "stream" and notice["name"] == "stderr" and last == error
    assert str(len(orjson.dumps(image)) + 300 - len(kept["text"])) in notice["text"]


def test_an_output_too_big_to_fit_is_left_out_whole() -> None:
    bound = BoundedOutputs(500)
    bound.add(stdout("small\n"))
    bound.add({"output_type": "display_data", "data": {"image/png": "A" * 1000}, "metadata": {}})
    bound.add(stdout("after\n"))
    saved = bound.saved()
    assert saved[0] == stdout("small\n") and len(saved) == 2 and "left out" in saved[1]["text"]


def test_clear_output_frees_the_whole_limit_and_wait_clears_at_the_next_output() -> None:
    bound = BoundedOutputs(100)
    bound.add(stdout("x" * 500))
    assert bound.truncated
    bound.clear(wait=True)
    assert bound.truncated  # nothing cleared yet
    bound.add(stdout("fresh\n"))
    assert bound.saved() == [stdout("fresh\n")] and not bound.truncated
    bound.clear(wait=False)
    assert bound.saved() == []


def test_update_display_rewrites_the_display_and_blanks_one_that_no_longer_fits() -> None:
    bound = BoundedOutputs(400)
    bound.add({"output_type": "display_data", "data": {"text/plain": "0%"}, "metadata": {},
               "transient": {"display_id": "p"}}, display_id="p")
    assert bound.has_display("p") and not bound.has_display("q")
    assert bound.update_display("p", {"text/plain": "50%"}, {})
    assert bound.saved() == [{"output_type": "display_data", "data": {"text/plain": "50%"}, "metadata": {}}]
    assert bound.update_display("p", {"text/plain": "x" * 1000}, {})
    blank, notice = bound.saved()
    assert blank["data"] == {} and "left out" in notice["text"]
    assert bound.update_display("p", {"text/plain": "100%"}, {})
    assert bound.saved() == [{"output_type": "display_data", "data": {"text/plain": "100%"}, "metadata": {}}]
    assert not bound.update_display("q", {}, {})


@pytest.mark.parametrize("output", [
    {"output_type": "display_data", "data": {"text/plain": "x", "text/html": ["<b>", "x</b>"],
                                             "application/json": {"a": [1, 2]}, "application/vnd.x+json": [1],
                                             "text/x-odd": {"not": "text"}, "image/png": "iVBOR"},
     "metadata": {"image/png": {"width": 3}}, "transient": {"display_id": "d"}},
    {"output_type": "execute_result", "data": {"text/plain": "1"}, "metadata": None, "execution_count": -1},
    {"output_type": "execute_result", "data": None, "execution_count": True},
    {"output_type": "error", "ename": None, "evalue": 3, "traceback": ["a", 1]},
    {"output_type": "stream", "name": None, "text": ["a\r", "b\n"]},
    {"output_type": "stream", "name": "stdout", "text": "progress 1\rprogress 2\r\n\x1b[31mred\x1b[0m"},
    {"output_type": "update_display_data", "data": {}},
    "not an output",
])
def test_valid_output_makes_anything_a_kernel_sends_schema_valid(output: Any) -> None:
    nb = notebook(code("a", "x", outputs=[valid_output(output)]))
    assert_valid(nb)
