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
from importlib import resources
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


#: How deep a JSON document may nest: bodies and notebooks alike. orjson stops at 1024
#: levels and the json module (its fallback) recursed until Python's limit (RecursionError,
#: a 500); but long before that, what walks a document recursively runs out of Python's
#: 1000 frames: nbformat's signature, the json module's encoder (orjson writes only 254
#: levels), ``repr``. jupyter_server reads notebooks nested some 450 levels deep (checked
#: with 2.21.1: 450 read, 500 "Unreadable Notebook"); no real notebook comes near.
MAX_DEPTH = 400


class Refused(ValueError):
    """Well-formed JSON that is not taken: nested past ``MAX_DEPTH``, or holding a lone
    surrogate (``"\\ud800"``), which is no Unicode text: it cannot be written as UTF-8."""


def parse_notebook(raw: bytes, *, api_path: str) -> dict[str, Any]:
    """Parse notebook bytes into an nbformat v4 dict with joined multi-line strings.

    Older formats are upgraded through nbformat. Schema problems are not raised here:
    see ``validation_message``; a notebook nbformat could not read is (``read_problem``).

    :raises errors.Invalid: the bytes are not UTF-8 ("bad format"), or not a notebook that
        can be read ("Unreadable Notebook", as jupyter_server says it).
    """
    try:
        parsed = loads(raw)
    except UnicodeDecodeError as exc:
        raise errors.Invalid(f"{api_path} is not UTF-8 encoded", reason="bad format") from exc
    except Refused as exc:
        raise errors.Invalid(f"Unreadable Notebook: {api_path} {exc}") from exc
    except ValueError as exc:
        raise errors.Invalid(f"Unreadable Notebook: {api_path} {exc!r}") from exc
    if not isinstance(parsed, dict):
        raise errors.Invalid(f"Unreadable Notebook: {api_path} not a notebook document")
    nb: dict[str, Any] = parsed if _is_v4(parsed) else _upgrade(raw, api_path)
    problem = read_problem(nb)
    if problem:
        raise errors.Invalid(f"Unreadable Notebook: {api_path} {problem}")
    normalize(nb)
    return nb


def loads(raw: bytes | str) -> Any:
    """Parse JSON as the json module does, but fast; refuse what the server could not handle.

    orjson reads integers beyond 64 bits as floats and refuses NaN and Infinity, which
    Python's json accepts; such documents (rare) take the json module's path. A float of
    2**63 or more is the trace a big integer leaves, and sends the document there too.
    Lone surrogates only pass the json module (orjson refuses them), so only that path
    looks for them. Bytes must be UTF-8 (the json module would guess UTF-16 or 32).

    :raises Refused: nested deeper than ``MAX_DEPTH``, or a lone surrogate.
    :raises ValueError: not JSON (``UnicodeDecodeError``: bytes that are not UTF-8).
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        parsed = _json_loads(raw if isinstance(raw, str) else raw.decode("utf-8"))
        _scan(parsed, text=True)
        return parsed
    if _scan(parsed, text=False):
        return _json_loads(data.decode("utf-8"))
    return parsed


def _json_loads(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise Refused(f"nested deeper than {MAX_DEPTH} levels") from None


def _scan(doc: Any, *, text: bool) -> bool:
    """Whether `doc` holds a float of 2**63 or more (see ``loads``). Iterative: it is what
    finds a document too deep to walk recursively.

    :param text: also look for lone surrogates, in strings and keys.
    :raises Refused: nested deeper than ``MAX_DEPTH``, or (`text`) a lone surrogate.
    """
    huge = False
    stack = [(doc, 1)] if type(doc) in (dict, list) else []
    if text and type(doc) is str:
        _check_text(doc)
    push, pop = stack.append, stack.pop
    while stack:
        container, depth = pop()
        if type(container) is dict:
            if text:
                for key in container:
                    _check_text(key)
            values = container.values()
        else:
            values = container
        for value in values:
            kind = type(value)
            if kind is dict or kind is list:
                if depth >= MAX_DEPTH:
                    raise Refused(f"nested deeper than {MAX_DEPTH} levels")
                push((value, depth + 1))
            elif kind is float:
                huge = huge or not -_HUGE < value < _HUGE
            elif text and kind is str:
                _check_text(value)
    return huge


def _check_text(value: str) -> None:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Refused(f"a lone surrogate ({value[exc.start]!r}) is not text") from None


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


def _is_v4(nb: dict[str, Any]) -> bool:
    return type(nb.get("nbformat")) is int and nb["nbformat"] == 4


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
        if isinstance(cell.get("source"), list) and _lines_or_other(cell["source"]):
            cell["source"] = "".join(cell["source"])
        for attachment in _dict(cell.get("attachments")).values():
            _join_bundle(attachment)
        if cell.get("cell_type") == "code":
            for output in _list(cell.get("outputs")):
                if not isinstance(output, dict):
                    continue
                if output.get("output_type") in ("execute_result", "display_data"):
                    _join_bundle(output.get("data"))
                elif isinstance(output.get("text"), list) and _lines_or_other(output["text"]):
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


def read_problem(nb: dict[str, Any]) -> str | None:
    """What would stop nbformat from reading this nbformat 4 document, in words; None if
    nothing would. A notebook on disk with such a problem is "Unreadable Notebook" (400),
    as in jupyter_server, whose nbformat fails on it (checked with 2.21.1, one case each):
    ``nbformat_minor`` that is not an integer, ``metadata`` or ``cells`` missing or of the
    wrong type, a cell that is not an object or has no ``metadata`` object, a ``cell_type``
    that is not a string, ``source`` or stream ``text`` lines that are not all strings,
    ``attachments`` that are not an object of objects, ``outputs`` that are not a list of
    objects, ``data`` that is not an object. Any other departure from the schema is only
    invalid: the notebook is read, with a ``validation_message``.

    Differences, where the reference's own outcome was an accident: ``"cells": {}`` (it
    iterates the empty object and reads it; we refuse any non-list) and a cell without a
    ``cell_type`` (it answers 500 when marking trust; we read it, invalid).
    """
    minor = nb.get("nbformat_minor", 0)
    if not isinstance(minor, int):
        return f"nbformat_minor must be an integer, not {_describe(minor)}"
    for key, kind, name in (("metadata", dict, "an object"), ("cells", list, "a list")):
        if key not in nb:
            return f"has no {key}"
        if not isinstance(nb[key], kind):
            return f"{key} must be {name}, not {_describe(nb[key])}"
    for index, cell in enumerate(nb["cells"]):
        problem = _cell_problem(cell)
        if problem:
            return f"cell {index}: {problem}"
    return None


def _cell_problem(cell: Any) -> str | None:
    if not isinstance(cell, dict):
        return f"not an object but {_describe(cell)}"
    if not isinstance(cell.get("metadata"), dict):
        return "has no metadata object"
    if "cell_type" in cell and not isinstance(cell["cell_type"], str):
        return f"cell_type must be a string, not {_describe(cell['cell_type'])}"
    if not _lines_or_other(cell.get("source")):
        return "source lines must all be strings"
    attachments = cell.get("attachments", {})
    if not isinstance(attachments, dict) or not all(isinstance(bundle, dict) for bundle in attachments.values()):
        return "attachments must be an object of objects"
    if cell.get("cell_type") != "code" or "outputs" not in cell:
        return None
    outputs = cell["outputs"]
    if not isinstance(outputs, list):
        return f"outputs must be a list, not {_describe(outputs)}"
    for number, output in enumerate(outputs):
        if not isinstance(output, dict):
            return f"output {number} is not an object but {_describe(output)}"
        if output.get("output_type") in ("execute_result", "display_data"):
            if not isinstance(output.get("data", {}), dict):
                return f"output {number}: data must be an object, not {_describe(output['data'])}"
        elif not _lines_or_other(output.get("text")):
            return f"output {number}: text lines must all be strings"
    return None


def _lines_or_other(value: Any) -> bool:
    """False for a list that is not all strings: nbformat joins a list of lines."""
    return not isinstance(value, list) or all(isinstance(line, str) for line in value)


def _describe(value: Any) -> str:
    """A client's value in an error message, shortly: it may be megabytes, or deep."""
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def save_problem(nb: Any) -> str | None:
    """Why a notebook a client sent cannot be saved; None if it can (maybe schema-invalid).

    What could not be read back (``read_problem``) is never written, nor anything but an
    nbformat 4 document: jupyter_server's writer fails on those (500); it is the request
    that is wrong.
    """
    if not isinstance(nb, dict):
        return "notebook content must be an object"
    if not _is_v4(nb):
        return f"nbformat must be 4, not {_describe(nb.get('nbformat'))}" if "nbformat" in nb else "has no nbformat"
    return read_problem(nb)


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


def _schema_json(minor: int | None) -> dict[str, Any]:
    """nbformat's own schema for 4.`minor` (its newest for a minor newer than it knows), the file
    ``nbformat.validator.get_validator`` would read: named in nbformat's public table
    ``nbformat.v4.nbformat_schema``, read from the package's data. (The validator keeps the
    parsed schema in a private attribute, and ``_get_schema_json`` is private.)

    :raises AttributeError: no schema for that minor version, as nbformat's validator says.
    """
    names: dict[tuple[int | None, int | None], str] = nbformat.v4.nbformat_schema
    if (4, minor) in names:
        name = names[(4, minor)]
    elif minor is not None and minor > nbformat.v4.nbformat_minor:
        name = names[(None, None)]
    else:
        raise AttributeError("Cannot find appropriate nbformat schema file.")
    return json.loads(resources.files(nbformat.v4).joinpath(name).read_text(encoding="utf8"))  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=8)
def _schema_checks(minor: int | None) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Compiled checks of one nbformat 4.x schema: the whole document, and a single cell."""
    schema = _schema_json(minor)
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
        if data_dir:
            # Before the notary: it opens its SQLite store as it is made, and in a folder that
            # is not there yet, nbformat quietly keeps the signatures in memory instead.
            os.makedirs(data_dir, mode=0o700, exist_ok=True)
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
