"""Reading, validating, signing and writing notebooks, fast and byte-compatible with nbformat.

nbformat's own path (``reads``/``writes``) builds ``NotebookNode`` trees, deep-copies the
notebook on every write and serialises with the pure-Python JSON encoder (``indent=1``
disables CPython's C encoder). For a 5 MB notebook that is most of a save's time. Here the
same steps run on plain dicts, JSON goes through orjson, and the schema is checked with
nbformat's fastjsonschema validator. The bytes written are those ``nbformat.write`` would
write (a test compares them), so files round-trip with Jupyter without diff noise.

Everything in this module except ``Notary``'s store is safe to run in a worker thread.
"""

from __future__ import annotations

import json
import os
import re
import uuid
import functools
from collections.abc import Callable, Iterator
from typing import Any

import fastjsonschema
import nbformat
import orjson
from nbformat import validator as nb_validator
from nbformat.sign import NotebookNotary

from . import errors

_HUGE = 2.0**63
# Stands in for the cells while the rest of a notebook is serialised; cells are spliced in.
_CELLS_SENTINEL = f"flask-notebook-cells-{uuid.uuid4().hex}"
# Numbers with a fraction or exponent, alone on their line: orjson formats some of them
# differently from Python's repr (1e-7 against 1e-07). Strings never match: they are quoted.
_FLOAT_LINE = re.compile(rb"(?m)(^ *|: )(-?\d+(?:\.\d+)?[eE][-+]?\d+|-?\d+\.\d+)(,?)$")
_NON_TEXT_SPLIT_MIMES = frozenset({"application/javascript", "image/svg+xml"})


# -- reading ---------------------------------------------------------------------------


def parse_notebook(raw: bytes, *, api_path: str) -> dict[str, Any]:
    """Parse notebook bytes into an nbformat v4 dict with joined multi-line strings.

    Older formats are upgraded through nbformat. Schema problems are not raised here:
    see ``validation_message``.

    :raises errors.Invalid: the bytes are not a notebook at all.
    """
    try:
        nb = loads(raw)
    except ValueError as exc:
        raise errors.Invalid(f"Unreadable Notebook: {api_path} {exc!r}") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells", []), list):
        raise errors.Invalid(f"Unreadable Notebook: {api_path} not a notebook document")
    if nb.get("nbformat") != 4:
        nb = _upgrade(raw, api_path)
    normalize(nb)
    return nb  # type: ignore[no-any-return]


def loads(raw: bytes | str) -> Any:
    """Parse JSON exactly as the json module does, but fast.

    orjson reads integers beyond 64 bits as floats and refuses NaN and Infinity, which
    Python's json accepts; such documents (rare) take the json module's path. A float of
    2**63 or more is the trace a big integer leaves, and sends the document there too.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
    if any(abs(number) >= _HUGE for number in _floats(parsed)):
        return json.loads(data)
    return parsed


def _floats(obj: Any) -> Iterator[float]:
    """Every float in a parsed JSON document (iterative: notebooks nest deeply)."""
    stack = [obj]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            extend(item.values())
        elif kind is list:
            extend(item)
        elif kind is float:
            yield item


def normalize(nb: dict[str, Any]) -> None:
    """Bring `nb` to its in-memory form, in place: joined multi-line strings, no transient keys.

    Signatures are computed over this form, whether the notebook came from disk or a client.
    """
    _rejoin_lines(nb)
    _strip_transient(nb)


def _upgrade(raw: bytes, api_path: str) -> dict[str, Any]:
    try:
        node = nbformat.reads(raw.decode("utf-8"), as_version=4, capture_validation_error={})  # type: ignore[no-untyped-call]
    except Exception as exc:  # nbformat raises many types for unreadable old formats
        raise errors.Invalid(f"Unreadable Notebook: {api_path} {exc!r}") from exc
    return _plain(node)  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    """NotebookNode (a dict subclass) to plain dicts and lists."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _rejoin_lines(nb: dict[str, Any]) -> None:
    for cell in _cells(nb):
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        for attachment in _dict(cell.get("attachments")).values():
            _join_bundle(attachment)
        if cell.get("cell_type") == "code":
            for output in _list(cell.get("outputs")):
                if not isinstance(output, dict):
                    continue
                if output.get("output_type") in ("execute_result", "display_data"):
                    _join_bundle(output.get("data"))
                elif isinstance(output.get("text"), list):
                    output["text"] = "".join(output["text"])


def _join_bundle(bundle: Any) -> None:
    for key, value in _dict(bundle).items():
        if isinstance(value, list) and not _is_json_mime(key) and all(isinstance(v, str) for v in value):
            bundle[key] = "".join(value)


def _is_json_mime(mime: str) -> bool:
    """JSON mime data is stored as structured JSON, never as split lines."""
    return mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))


def _is_split_mime(mime: str) -> bool:
    """Which mime data nbformat stores as a list of lines: text, and a few text-like types."""
    return mime.startswith("text/") or mime in _NON_TEXT_SPLIT_MIMES


def _strip_transient(nb: dict[str, Any]) -> None:
    metadata = _dict(nb.get("metadata"))
    for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        metadata.pop(key, None)
    for cell in _cells(nb):
        _dict(cell.get("metadata")).pop("trusted", None)


# -- validation ------------------------------------------------------------------------


def validation_message(nb: dict[str, Any]) -> str | None:
    """None if `nb` is schema-valid, else jupyter_server's "Notebook validation failed" text.

    The fast validator decides; only an invalid notebook pays for jsonschema's detailed error.
    """
    version_minor = nb.get("nbformat_minor") if isinstance(nb.get("nbformat_minor"), int) else None
    fast = nb_validator.get_validator(version=4, version_minor=version_minor, name="fastjsonschema")  # type: ignore[no-untyped-call]
    if fast is None:
        fast = nb_validator.get_validator(version=4, name="fastjsonschema")  # type: ignore[no-untyped-call]
    try:
        fast.validate(nb)
        return None
    except nb_validator.ValidationError:
        pass
    detailed = nb_validator.get_validator(version=4, version_minor=version_minor, name="jsonschema")  # type: ignore[no-untyped-call]
    error = next(iter(detailed.iter_errors(nb)), None) if detailed is not None else None
    if error is None:
        return "Notebook validation failed"
    instance = json.dumps(getattr(error, "instance", None), indent=1, default=lambda obj: "<UNKNOWN>")
    return f"Notebook validation failed: {error.message}:\n{instance}"


def check_structure(nb: Any, *, api_path: str) -> None:
    """Refuse a notebook too broken to write at all (jupyter_server answers 500 here).

    :raises errors.Invalid: `nb` is not an object with a cells list of objects with metadata.
    """
    if not isinstance(nb, dict):
        raise errors.Invalid(f"Unexpected error while saving file: {api_path} notebook content must be an object")
    if not isinstance(nb.get("cells", []), list) or not isinstance(nb.get("metadata", {}), dict):
        raise errors.Invalid(f"Unexpected error while saving file: {api_path} malformed notebook")
    for index, cell in enumerate(nb.get("cells", [])):
        if not isinstance(cell, dict) or not isinstance(cell.get("metadata"), dict):
            raise errors.Invalid(f"Unexpected error while saving file: {api_path} cell {index} has no metadata")


# -- writing ---------------------------------------------------------------------------


def serialize_notebook(nb: dict[str, Any]) -> bytes:
    """The bytes ``nbformat.write`` produces for `nb`: split lines, indent 1, sorted keys.

    `nb` is not modified. ``CellCache.render`` does the same faster for repeated saves.
    """
    disk = _disk_top(nb)
    disk["cells"] = [_disk_cell(cell) for cell in _cells(nb)]
    text = _dump_indent1(disk)
    if text is None:
        # Integers beyond 64 bits or lone surrogates: rare, so take the slow exact path.
        text = json.dumps(disk, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
    return text + b"\n"


class CellCache:
    """Serialise and validate notebooks, reusing the work for every cell seen before.

    A save after an edit changes a cell or two; the others are found here by their content
    (their compact JSON is the key), with their serialised form (indented for their place in
    the notebook) and whether they passed the schema. The notebook schema has no rule that
    spans cells, so checking the top level and each cell apart is the same check.
    Bounded in bytes. Worker threads share it: plain dict operations are atomic, and a lost
    size update only makes the cache clear itself a little early or late.
    """

    def __init__(self, max_bytes: int = 128 * 1024 * 1024) -> None:
        self._entries: dict[bytes, tuple[bytes, dict[int | None, bool]]] = {}
        self._bytes = 0
        self._max_bytes = max_bytes

    def render(self, nb: dict[str, Any]) -> tuple[bytes, str | None]:
        """(the bytes ``serialize_notebook`` gives, the ``validation_message``)."""
        cells = nb.get("cells")
        top = _disk_top(nb)
        top["cells"] = _CELLS_SENTINEL
        top_text = _dump_indent1(top)
        if top_text is None or not isinstance(cells, list) or not all(isinstance(cell, dict) for cell in cells):
            return serialize_notebook(nb), validation_message(nb)
        minor = nb.get("nbformat_minor") if type(nb.get("nbformat_minor")) is int else None
        check_top, check_cell = _schema_checks(minor)
        valid = _passes(check_top, {**nb, "cells": []})
        texts: list[bytes] = []
        for cell in cells:
            entry = self._entry(cell)
            if entry is None:
                return serialize_notebook(nb), validation_message(nb)
            text, verdicts = entry
            verdict = verdicts.get(minor)
            if verdict is None:
                verdict = verdicts[minor] = _passes(check_cell, cell)
            valid = valid and verdict
            texts.append(text)
        block = b"[\n" + b",\n".join(texts) + b"\n ]" if texts else b"[]"
        data = top_text.replace(b'"' + _CELLS_SENTINEL.encode() + b'"', block, 1) + b"\n"
        return data, None if valid else validation_message(nb)

    def _entry(self, cell: dict[str, Any]) -> tuple[bytes, dict[int | None, bool]] | None:
        try:
            key = orjson.dumps(cell, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            return None
        entry = self._entries.get(key)
        if entry is None:
            flat = _dump_indent1(_disk_cell(cell))
            if flat is None:
                return None
            entry = (b"  " + flat.replace(b"\n", b"\n  "), {})  # cells sit two levels deep
            if self._bytes > self._max_bytes:
                self._entries.clear()
                self._bytes = 0
            self._entries[key] = entry
            self._bytes += len(key) + len(entry[0])
        return entry


@functools.lru_cache(maxsize=8)
def _schema_checks(minor: int | None) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Compiled checks of one nbformat 4.x schema: the whole document, and a single cell."""
    schema = nb_validator._get_schema_json(nbformat.v4, version=4, version_minor=minor)  # type: ignore[no-untyped-call]
    cell_schema = {"$ref": "#/definitions/cell", "definitions": schema["definitions"]}
    return fastjsonschema.compile(schema), fastjsonschema.compile(cell_schema)


def _passes(check: Callable[[Any], Any], value: Any) -> bool:
    try:
        check(value)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _dump_indent1(obj: Any) -> bytes | None:
    """json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) as bytes, via orjson;
    None when orjson cannot encode `obj` exactly."""
    try:
        text = orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None
    text = _halve_indent(text)
    if any(orjson.dumps(number) != repr(number).encode() for number in _floats(obj)):
        text = _FLOAT_LINE.sub(_python_float, text)
    return text


def _halve_indent(text: bytes) -> bytes:
    """indent=2 to indent=1. Every line break in orjson's output is structural (strings
    escape theirs), so each line's leading spaces are indentation: drop half of them."""
    return b"\n".join([line[(len(line) - len(line.lstrip(b" "))) >> 1 :] for line in text.split(b"\n")])


def _python_float(match: re.Match[bytes]) -> bytes:
    return match.group(1) + repr(float(match.group(2))).encode() + match.group(3)


def _disk_top(nb: dict[str, Any]) -> dict[str, Any]:
    """A copy of `nb`'s top level in disk form (without transient metadata); cells not copied."""
    disk = dict(nb)
    metadata = dict(_dict(nb.get("metadata")))
    for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        metadata.pop(key, None)
    disk["metadata"] = metadata
    return disk


def _disk_cell(cell: dict[str, Any]) -> dict[str, Any]:
    out = dict(cell)
    out["metadata"] = {k: v for k, v in _dict(cell.get("metadata")).items() if k != "trusted"}
    if isinstance(cell.get("source"), str):
        out["source"] = cell["source"].splitlines(True)
    if isinstance(cell.get("attachments"), dict):
        out["attachments"] = {name: _split_bundle(bundle) for name, bundle in cell["attachments"].items()}
    if cell.get("cell_type") == "code" and isinstance(cell.get("outputs"), list):
        out["outputs"] = [_disk_output(output) for output in cell["outputs"]]
    return out


def _disk_output(output: Any) -> Any:
    if not isinstance(output, dict):
        return output
    kind = output.get("output_type")
    if kind in ("execute_result", "display_data") and isinstance(output.get("data"), dict):
        return {**output, "data": _split_bundle(output["data"])}
    if kind == "stream" and isinstance(output.get("text"), str):
        return {**output, "text": output["text"].splitlines(True)}
    return output


def _split_bundle(bundle: Any) -> Any:
    if not isinstance(bundle, dict):
        return bundle
    return {
        key: value.splitlines(True) if isinstance(value, str) and _is_split_mime(key) else value
        for key, value in bundle.items()
    }


# -- trust -----------------------------------------------------------------------------


class Notary:
    """nbformat's notebook signatures: an HMAC over the notebook, kept in a SQLite store.

    ``compute_signature`` is pure and may run in a worker thread. The store's SQLite
    connection belongs to the thread that made it, so ``is_signed`` and ``sign`` must be
    called from that one (the server's event loop).
    """

    def __init__(self, data_dir: str | None = None) -> None:
        kwargs: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
        self._notary = NotebookNotary(**kwargs)  # type: ignore[no-untyped-call]
        os.makedirs(self._notary.data_dir, exist_ok=True)
        # Read (or create) the secret now, once, rather than lazily in some worker thread.
        self._notary.secret  # noqa: B018

    def compute_signature(self, nb: dict[str, Any]) -> str:
        return str(self._notary.compute_signature(nb))  # type: ignore[no-untyped-call]

    def is_signed(self, signature: str) -> bool:
        return bool(self._notary.store.check_signature(signature, self._notary.algorithm))

    def sign(self, signature: str) -> None:
        self._notary.store.store_signature(signature, self._notary.algorithm)

    def close(self) -> None:
        self._notary.store.close()


def all_cells_trusted(nb: dict[str, Any]) -> bool:
    """Whether every code cell is trusted: marked so, or with no HTML/JS-capable output."""
    for cell in _cells(nb):
        if cell.get("cell_type") != "code" or _dict(cell.get("metadata")).get("trusted"):
            continue
        for output in _list(cell.get("outputs")):
            if isinstance(output, dict) and output.get("output_type") in ("execute_result", "display_data"):
                if set(output) - {"output_type", "execution_count", "metadata"}:
                    return False
    return True


def mark_cells(nb: dict[str, Any], trusted: bool) -> None:
    for cell in _cells(nb):
        if cell.get("cell_type") == "code":
            cell.setdefault("metadata", {})["trusted"] = trusted


def new_notebook() -> dict[str, Any]:
    return {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    return [cell for cell in _list(nb.get("cells")) if isinstance(cell, dict)]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
