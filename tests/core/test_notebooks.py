"""Notebook bytes: parsed like nbformat.reads, written exactly like nbformat.write."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import nbformat
import pytest
from nbformat import v3, v4

from flask_notebook.core import errors, notebooks

PNG = base64.b64encode(bytes(range(256)) * 4).decode("ascii")
SVG = '<svg xmlns="http://www.w3.org/2000/svg">\n  <circle r="4"/>\n</svg>\n'


def nb_empty() -> nbformat.NotebookNode:
    return v4.new_notebook()


def nb_unicode() -> nbformat.NotebookNode:
    return v4.new_notebook(
        cells=[
            v4.new_markdown_cell("# Grüße, 世界 🌍\n\nλ → ∞, \u2028line sep, \u00a0nbsp, tab\there"),
            v4.new_code_cell("s = 'ünïcödé'\nprint(s)  # 😀\n", outputs=[
                v4.new_output("stream", name="stdout", text="ünïcödé\n😀\n"),
            ]),
            v4.new_raw_cell("raw <b>\\n</b> \"quoted\" \x7f \x00 \x1f"),
        ],
        metadata={"title": "Ünïcode ✓", "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                                       "language": "python"}},
    )


def nb_empty_cells() -> nbformat.NotebookNode:
    return v4.new_notebook(cells=[
        v4.new_code_cell(""),
        v4.new_markdown_cell(""),
        v4.new_raw_cell(""),
        v4.new_code_cell("\n"),
        v4.new_code_cell("no newline at end"),
        v4.new_code_cell("ends with newline\n"),
        v4.new_code_cell("windows\r\nline\r\nends\r\n"),
        v4.new_code_cell("old mac\rends"),
        v4.new_code_cell("\n\n\n"),
    ])


def nb_attachments() -> nbformat.NotebookNode:
    cell = v4.new_markdown_cell("![a](attachment:a.png) ![b](attachment:b.svg)")
    cell["attachments"] = {
        "a.png": {"image/png": PNG},
        "b.svg": {"image/svg+xml": SVG},
        "c.txt": {"text/plain": "first\nsecond\n"},
    }
    return v4.new_notebook(cells=[cell])


def nb_rich_outputs() -> nbformat.NotebookNode:
    outputs = [
        v4.new_output("execute_result", execution_count=1, data={
            "text/plain": "<DataFrame>\n   a\n0  1",
            "text/html": "<table>\n<tr><td>1</td></tr>\n</table>\n",
            "application/json": {"a": [1, 2.5, None, True], "nested": {"b": "multi\nline"}},
            "application/vnd.custom+json": {"x": ["not", "split\n"]},
            "image/svg+xml": SVG,
            "image/png": PNG,
            "application/javascript": "console.log(1);\nconsole.log(2);",
            "text/latex": "$$\nx^2\n$$",
            "text/markdown": "**bold**\n- item",
        }, metadata={"image/png": {"width": 10, "height": 20}}),
        v4.new_output("display_data", data={"text/plain": "shown"}, metadata={}),
        v4.new_output("stream", name="stdout", text="line 1\nline 2\npartial"),
        v4.new_output("stream", name="stderr", text="warn\n"),
        v4.new_output("error", ename="ValueError", evalue="bad\nvalue",
                      traceback=["\x1b[31mTraceback\x1b[0m", "line\nwith newline"]),
    ]
    return v4.new_notebook(cells=[v4.new_code_cell("df", execution_count=1, outputs=outputs)])


def nb_nested_metadata() -> nbformat.NotebookNode:
    metadata = {
        "z_last": 1,
        "a_first": {"deep": {"deeper": {"deepest": [1, [2, [3, {"k": "v"}]]]}}},
        "floats": [0.1, 1.5, -2.25, 0.0001, 1e16, 1e21, 1e-10, 3.0, 123456789.125, -0.0, 1.2345678901234568e20],
        "ints": [0, -1, 2**53, -(2**63), 2**64 - 1],
        "empty": {"list": [], "dict": {}, "str": ""},
        "bools": [True, False, None],
        "Upper": "sorted by code point", "lower": 1, "_under": 2, "ü": 3, "😀": 4, "\uffff": 5,
        "escapes": "quote \" backslash \\ slash / tab \t cr \r nl \n bell \x07",
        "tags": ["a", "b"],
    }
    cell = v4.new_code_cell("x = 1", metadata={"tags": ["hide"], "collapsed": False, "scrolled": "auto",
                                                "jupyter": {"source_hidden": True}, "custom": metadata})
    return v4.new_notebook(cells=[cell], metadata={"custom": metadata, "language_info": {"name": "python"}})


def nb_small_floats() -> nbformat.NotebookNode:
    """Python writes `1e-07` where orjson writes `1e-7`: common in plotly or vega JSON outputs."""
    data = {"application/vnd.plotly.v1+json": {"data": [{"y": [1e-5, 2.5e-7, 1e-9]}]}, "text/plain": "<Figure>"}
    cell = v4.new_code_cell("fig", outputs=[v4.new_output("display_data", data=data)])
    return v4.new_notebook(cells=[cell], metadata={"learning_rate": 1e-05})


def nb_big_ints() -> nbformat.NotebookNode:
    """Beyond 64 bits: orjson refuses, so serialize_notebook takes its exact slow path."""
    return v4.new_notebook(cells=[v4.new_code_cell("big")], metadata={"big": 2**70, "neg": -(2**65)})


NOTEBOOKS: dict[str, Callable[[], nbformat.NotebookNode]] = {
    "empty": nb_empty,
    "unicode": nb_unicode,
    "empty_cells": nb_empty_cells,
    "attachments": nb_attachments,
    "rich_outputs": nb_rich_outputs,
    "nested_metadata": nb_nested_metadata,
    "small_floats": nb_small_floats,
    "big_ints": nb_big_ints,
}


@pytest.mark.parametrize("make", list(NOTEBOOKS.values()), ids=list(NOTEBOOKS.keys()))
def test_serialize_matches_nbformat_byte_for_byte(make: Callable[[], nbformat.NotebookNode]) -> None:
    node = make()
    expected = (nbformat.writes(node) + "\n").encode("utf-8")
    nb = notebooks.parse_notebook(nbformat.writes(node).encode("utf-8"), api_path="t.ipynb")
    assert notebooks.serialize_notebook(nb) == expected
    # and it round-trips: what we write parses back to the same in-memory form
    assert notebooks.parse_notebook(notebooks.serialize_notebook(nb), api_path="t.ipynb") == nb


@pytest.mark.parametrize("make", list(NOTEBOOKS.values()), ids=list(NOTEBOOKS.keys()))
def test_cell_cache_gives_the_same_bytes_cold_and_warm(make: Callable[[], nbformat.NotebookNode]) -> None:
    node = make()
    expected = (nbformat.writes(node) + "\n").encode("utf-8")
    nb = notebooks.parse_notebook(nbformat.writes(node).encode("utf-8"), api_path="t.ipynb")
    cache = notebooks.CellCache()
    assert cache.render(nb) == (expected, None)  # cold: every cell serialised and checked
    assert cache.render(nb) == (expected, None)  # warm: every cell from the cache


def test_cell_cache_reserialises_only_changed_cells() -> None:
    node = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x = {i}") for i in range(3)])
    nb = notebooks.parse_notebook(nbformat.writes(node).encode("utf-8"), api_path="t.ipynb")
    cache = notebooks.CellCache()
    cache.render(nb)
    nb["cells"][1]["source"] = "x = 'changed'\ny = 2"
    node.cells[1].source = "x = 'changed'\ny = 2"
    assert cache.render(nb) == ((nbformat.writes(node) + "\n").encode("utf-8"), None)
    assert len(cache._entries) == 4  # three cells, then one new version of the changed one


def test_cell_cache_stays_within_its_byte_budget() -> None:
    cache = notebooks.CellCache(max_bytes=10_000)
    for i in range(200):
        cache._entry({"cell_type": "markdown", "id": f"c{i}", "metadata": {}, "source": "x" * 500})
    assert cache._bytes <= 10_000 + 2_000


def test_empty_notebook_serialises_like_nbformat() -> None:
    node = nbformat.v4.new_notebook()
    nb = notebooks.parse_notebook(nbformat.writes(node).encode("utf-8"), api_path="t.ipynb")
    assert notebooks.CellCache().render(nb) == ((nbformat.writes(node) + "\n").encode(), None)


@pytest.mark.parametrize("damage", [
    lambda nb: nb["cells"][1].pop("source"),                       # a cell breaks the schema
    lambda nb: nb["cells"][0]["outputs"].append({"output_type": "nope"}),
    lambda nb: nb.update(nbformat="four"),                         # the top level breaks it
    lambda nb: nb["metadata"].update(kernelspec={"name": 1}),
])
def test_cell_cache_reports_what_full_validation_reports(damage: Callable[[dict[str, Any]], Any]) -> None:
    node = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1"), nbformat.v4.new_markdown_cell("m")])
    nb = notebooks.parse_notebook(nbformat.writes(node).encode("utf-8"), api_path="t.ipynb")
    cache = notebooks.CellCache()
    assert cache.render(nb)[1] is None
    damage(nb)
    expected = notebooks.validation_message(nb)
    assert expected is not None and expected.startswith("Notebook validation failed")
    assert cache.render(nb)[1] == expected


def test_serialize_writes_integers_beyond_64_bits_exactly() -> None:
    """orjson cannot; serialize_notebook falls back to the json module for them."""
    node = nb_big_ints()
    nb = json.loads(nbformat.writes(node))
    notebooks.normalize(nb)
    assert notebooks.serialize_notebook(nb) == (nbformat.writes(node) + "\n").encode("utf-8")


@pytest.mark.parametrize("make", NOTEBOOKS.values(), ids=NOTEBOOKS.keys())
def test_serialize_does_not_modify_its_argument(make: Callable[[], nbformat.NotebookNode]) -> None:
    nb = notebooks.parse_notebook(nbformat.writes(make()).encode("utf-8"), api_path="t.ipynb")
    before = json.dumps(nb, sort_keys=True)
    notebooks.serialize_notebook(nb)
    assert json.dumps(nb, sort_keys=True) == before


def test_serialize_drops_transient_keys_like_nbformat() -> None:
    node = nb_rich_outputs()
    nb = notebooks.parse_notebook(nbformat.writes(node).encode("utf-8"), api_path="t.ipynb")
    nb["metadata"]["signature"] = "sha256:deadbeef"
    nb["metadata"]["orig_nbformat"] = 3
    notebooks.mark_cells(nb, True)
    assert notebooks.serialize_notebook(nb) == (nbformat.writes(node) + "\n").encode("utf-8")


def test_parse_joins_multiline_strings() -> None:
    raw = nbformat.writes(nb_rich_outputs()).encode("utf-8")
    assert b'"line 1\\n",' in raw  # on disk: split into lines
    nb = notebooks.parse_notebook(raw, api_path="t.ipynb")
    cell = nb["cells"][0]
    assert cell["outputs"][0]["data"]["text/html"] == "<table>\n<tr><td>1</td></tr>\n</table>\n"
    assert cell["outputs"][0]["data"]["image/svg+xml"] == SVG
    assert cell["outputs"][0]["data"]["application/json"]["nested"]["b"] == "multi\nline"
    assert cell["outputs"][0]["data"]["application/vnd.custom+json"] == {"x": ["not", "split\n"]}
    assert cell["outputs"][2]["text"] == "line 1\nline 2\npartial"
    assert cell["outputs"][4]["traceback"] == ["\x1b[31mTraceback\x1b[0m", "line\nwith newline"]
    assert nb == nbformat.reads(raw, as_version=4)  # the same as nbformat's in-memory form


def test_parse_upgrades_a_v3_notebook() -> None:
    old = v3.new_notebook(worksheets=[v3.new_worksheet(cells=[
        v3.new_code_cell(input="print('hi')", prompt_number=1, outputs=[
            v3.new_output("stream", output_text="hi\n", stream="stdout"),
        ]),
        v3.new_text_cell("markdown", source="# Title"),
        v3.new_heading_cell("Heading", level=2),
    ])], metadata=v3.new_metadata(name="old"))
    raw = v3.writes_json(old).encode("utf-8")
    assert json.loads(raw)["nbformat"] == 3
    nb = notebooks.parse_notebook(raw, api_path="old.ipynb")
    assert nb["nbformat"] == 4
    assert [cell["cell_type"] for cell in nb["cells"]] == ["code", "markdown", "markdown"]
    assert nb["cells"][0]["source"] == "print('hi')"
    assert nb["cells"][0]["outputs"][0]["text"] == "hi\n"
    assert nb["cells"][2]["source"] == "## Heading"
    assert "orig_nbformat" not in nb["metadata"]
    assert type(nb) is dict and type(nb["cells"][0]) is dict  # plain values, not NotebookNode
    assert notebooks.validation_message(nb) is None
    # and it is written as v4 from then on
    assert json.loads(notebooks.serialize_notebook(nb))["nbformat"] == 4


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"{",
        b"[]",
        b"42",
        b'"a string"',
        b"null",
        b'{"cells": 5, "nbformat": 4}',
        b'{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        b'{"nbformat": 3}',
        b'{"nbformat": 2, "worksheets": "nope"}',
        b'{"nbformat": "four"}',
        b'{"nbformat": 99, "nbformat_minor": 0, "cells": []}',
    ],
)
def test_parse_garbage_is_invalid(raw: bytes) -> None:
    with pytest.raises(errors.Invalid, match="Unreadable Notebook: bad.ipynb"):
        notebooks.parse_notebook(raw, api_path="bad.ipynb")


def test_validation_message_is_none_when_valid() -> None:
    for make in NOTEBOOKS.values():
        nb = notebooks.parse_notebook(nbformat.writes(make()).encode("utf-8"), api_path="t.ipynb")
        assert notebooks.validation_message(nb) is None
    assert notebooks.validation_message(notebooks.new_notebook()) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda nb: nb["cells"][0].pop("source"),
        lambda nb: nb["cells"][0].update(cell_type="spreadsheet"),
        lambda nb: nb["cells"][0].update(outputs=[{"output_type": "nonsense"}]),
        lambda nb: nb.update(nbformat_minor="five"),
        lambda nb: nb.update(unexpected_key=1),
        lambda nb: nb["cells"][0].update(execution_count="one"),
    ],
)
def test_validation_message_describes_an_invalid_notebook(damage: Callable[[dict[str, Any]], Any]) -> None:
    nb = notebooks.parse_notebook(nbformat.writes(v4.new_notebook(cells=[v4.new_code_cell("x")])).encode(),
                                  api_path="t.ipynb")
    damage(nb)
    message = notebooks.validation_message(nb)
    assert message is not None and message.startswith("Notebook validation failed")


def test_bytes_that_are_not_utf8_are_a_bad_format() -> None:
    # As jupyter_server: "<path> is not UTF-8 encoded", reason "bad format" (the json module
    # would have guessed UTF-16 here, and read it).
    with pytest.raises(errors.Invalid, match="^bad.ipynb is not UTF-8 encoded$") as info:
        notebooks.parse_notebook(b"\xff\xfe{\x00}\x00", api_path="bad.ipynb")
    assert info.value.reason == "bad format"


def test_an_invalid_but_parsable_notebook_still_parses() -> None:
    # A cell with metadata but no source: nbformat reads it, and so does jupyter_server (200,
    # with a validation message). Without metadata it is unreadable (test_parse_garbage...).
    raw = b'{"cells": [{"cell_type": "code", "metadata": {}}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    nb = notebooks.parse_notebook(raw, api_path="t.ipynb")
    assert notebooks.validation_message(nb).startswith("Notebook validation failed")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "content",
    [None, [], "nb", {"cells": "x"}, {"cells": [], "metadata": []}, {"cells": [1]}, {"cells": [{"source": ""}]}],
)
def test_save_problem_names_what_cannot_be_written(content: Any) -> None:
    assert notebooks.save_problem(content)


def test_notary_signs_and_checks(tmp_path: Any) -> None:
    notary = notebooks.Notary(str(tmp_path / "data"))
    try:
        nb = notebooks.parse_notebook(nbformat.writes(nb_rich_outputs()).encode(), api_path="t.ipynb")
        signature = notary.compute_signature(nb)
        assert not notary.is_signed(signature)
        notary.sign(signature)
        assert notary.is_signed(signature)
        notebooks.mark_cells(nb, True)
        notebooks.normalize(nb)  # signatures are over the normal form, without trusted flags
        assert notary.compute_signature(nb) == signature
        nb["cells"][0]["source"] = "changed"
        assert not notary.is_signed(notary.compute_signature(nb))
    finally:
        notary.close()


def test_all_cells_trusted() -> None:
    plain = notebooks.parse_notebook(nbformat.writes(nb_empty_cells()).encode(), api_path="t.ipynb")
    assert notebooks.all_cells_trusted(plain)
    rich = notebooks.parse_notebook(nbformat.writes(nb_rich_outputs()).encode(), api_path="t.ipynb")
    assert not notebooks.all_cells_trusted(rich)
    notebooks.mark_cells(rich, True)
    assert notebooks.all_cells_trusted(rich)


@pytest.mark.parametrize("raw, refused", [
    (b"[" * notebooks.MAX_DEPTH + b"]" * notebooks.MAX_DEPTH, False),
    (b"[" * (notebooks.MAX_DEPTH + 1) + b"]" * (notebooks.MAX_DEPTH + 1), True),
    (b'{"a": NaN, "b": ' + b"[" * notebooks.MAX_DEPTH + b"]" * notebooks.MAX_DEPTH + b"}", True),  # json's path
    (b"[" * 5000 + b"]" * 5000, True),  # past orjson's 1024 and the json module's recursion
    (b'{"x": "\\ud800"}', True),
    (b'{"\\udc00": 1}', True),
    (b'"\\ud83d\\ude00"', False),  # a surrogate pair is text (an emoji)
    (b'{"x": 1180591620717411303424, "y": "\\udfff"}', True),
])
def test_loads_refuses_what_is_too_deep_or_not_text(raw: bytes, refused: bool) -> None:
    if refused:
        with pytest.raises(notebooks.Refused):
            notebooks.loads(raw)
    else:
        notebooks.loads(raw)


@pytest.mark.parametrize("raw", ['{"a": "b"}'.encode("utf-16"), b'{"a": "\xed\xa0\x80"}'])
def test_loads_takes_only_utf8_bytes(raw: bytes) -> None:
    """The json module took these: it guessed UTF-16, and decoded a surrogate's bytes."""
    with pytest.raises(UnicodeDecodeError):
        notebooks.loads(raw)
