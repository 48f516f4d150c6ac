"""One executing cell's outputs as a run saves them: valid, and bounded (issue 20).

The live stream of a run carries every output; the notebook file keeps at most
``NOTEBOOK_RUN_MAX_OUTPUT_BYTES`` of each cell's outputs (bytes of their compact JSON), then
a visible notice. Sizes are counted as outputs arrive: each output (or each piece of a
stream) is measured once, so a save costs nothing for the bytes already counted, and a cell
that prints 30 MiB never holds more than the limit here.

The kernel's messages are merged as Jupyter frontends merge them: consecutive pieces of
one stream join into one output, ``clear_output(wait=True)`` clears at the next output,
``update_display_data`` rewrites the outputs of that display id. Whatever a kernel sends,
what ``saved()`` returns passes nbformat's schema (``valid_output``).
"""

from __future__ import annotations

from typing import Any

import orjson

_KIB = 1024
_MIB = 1024 * 1024
_JSON_MIME_SUFFIX = "json"


def notice_text(limit: int, left_out: int) -> str:
    """The truncation notice (RUNS_API.md, "On disk")."""
    return (f"[output truncated: {_human(limit)} limit (NOTEBOOK_RUN_MAX_OUTPUT_BYTES) reached; "
            f"{left_out} bytes left out]\n")


def _human(size: int) -> str:
    if size >= _MIB and size % _MIB == 0:
        return f"{size // _MIB} MiB"
    if size >= _KIB and size % _KIB == 0:
        return f"{size // _KIB} KiB"
    return f"{size} bytes"


class BoundedOutputs:
    """The outputs of one cell for the file, cut at `limit` bytes of JSON.

    Outputs are kept in order while they fit; the first that does not is cut (a stream
    keeps the text that fits, anything else is left out whole) and later ones are left out,
    counted in ``left_out``, except errors: a traceback is what a failed run's reader
    needs most, so it is always kept (after the notice if there is one). ``clear`` starts over with the whole limit.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 0)
        self._outputs: list[dict[str, Any]] = []
        self._sizes: list[int] = []
        self._used = 0
        self._streamed_left_out = 0
        #: Where the notice goes (the index in ``_outputs``), once something was cut.
        self._cut_at: int | None = None
        self._clear_on_next = False
        #: display id -> the kept outputs that show it (indexes into ``_outputs``).
        self._displays: dict[str, list[int]] = {}
        #: Bytes of a display output blanked by an update that did not fit, by index.
        self._blanked: dict[int, int] = {}
        #: The text of each kept stream output, in pieces: joining as pieces arrive would copy
        #: the text so far for each one (quadratic for a cell that prints a lot).
        self._pieces: dict[int, list[str]] = {}

    @property
    def left_out(self) -> int:
        return self._streamed_left_out + sum(self._blanked.values())

    @property
    def truncated(self) -> bool:
        return self._cut_at is not None or bool(self._blanked)

    def saved(self) -> list[dict[str, Any]]:
        """The outputs to write: those kept, with the notice where the cut is. New list,
        shared output dicts (``runmerge.overlay`` copies them)."""
        for index, pieces in self._pieces.items():
            if len(pieces) > 1:
                pieces[:] = ["".join(pieces)]
            text = pieces[0] if pieces else ""
            if self._outputs[index]["text"] is not text:
                self._outputs[index] = {**self._outputs[index], "text": text}
        if not self.truncated:
            return list(self._outputs)
        at = len(self._outputs) if self._cut_at is None else self._cut_at
        notice = {"output_type": "stream", "name": "stderr", "text": notice_text(self.limit, self.left_out)}
        return [*self._outputs[:at], notice, *self._outputs[at:]]

    def has_display(self, display_id: str) -> bool:
        return display_id in self._displays

    # -- what the kernel sends ---------------------------------------------------------------

    def add(self, output: dict[str, Any], *, display_id: str | None = None) -> None:
        """An output (nbformat v4 form, as ``execute.to_output`` makes it); `display_id`
        from the message's ``transient``, for a later ``update_display``."""
        output = valid_output(output)
        if self._clear_on_next:
            self._clear_on_next = False
            self.clear(wait=False)
        last = self._outputs[-1] if self._outputs else None
        if output["output_type"] == "stream":
            if (last is not None and last["output_type"] == "stream" and last["name"] == output["name"]
                    and self._cut_at is None):
                self._append_text(len(self._outputs) - 1, output["text"])
                return
            empty = {**output, "text": ""}
            if self._cut_at is None and self._used + _size(empty) < self.limit:
                self._outputs.append(empty)
                self._pieces[len(self._outputs) - 1] = []
                self._sizes.append(_size(empty))
                self._used += self._sizes[-1]
                self._append_text(len(self._outputs) - 1, output["text"])
                return
        size = _size(output)
        if output["output_type"] == "error" or (self._cut_at is None and self._used + size <= self.limit):
            self._used += size
            self._outputs.append(output)
            self._sizes.append(size)
            if display_id is not None and output["output_type"] in ("display_data", "execute_result"):
                self._displays.setdefault(display_id, []).append(len(self._outputs) - 1)
            return
        # A stream's pieces would have joined the stream's text: their text is what is missing.
        self._cut(_text_size(output["text"]) if output["output_type"] == "stream" else size)

    def clear(self, *, wait: bool) -> None:
        """``clear_output``: now, or (`wait`) when the next output comes."""
        if wait:
            self._clear_on_next = True
            return
        self._outputs, self._sizes, self._used = [], [], 0
        self._streamed_left_out, self._cut_at = 0, None
        self._displays, self._blanked, self._pieces = {}, {}, {}

    def update_display(self, display_id: str, data: Any, metadata: Any) -> bool:
        """``update_display_data``: new data for the kept outputs of `display_id`. One that no
        longer fits is blanked (empty data) and counted as left out until an update fits.
        False when no kept output shows that display."""
        indexes = self._displays.get(display_id)
        if not indexes:
            return False
        for index in indexes:
            output = self._outputs[index]
            updated = valid_output({**output, "data": data, "metadata": metadata})
            size = _size(updated)
            free = self.limit - (self._used - self._sizes[index])
            if size <= free:
                self._outputs[index] = updated
                self._blanked.pop(index, None)
            else:
                updated = {**updated, "data": {}, "metadata": {}}
                self._outputs[index] = updated
                self._blanked[index] = size
                size = _size(updated)
            self._used += size - self._sizes[index]
            self._sizes[index] = size
        return True

    def _append_text(self, index: int, text: str) -> None:
        size = _text_size(text)
        free = self.limit - self._used
        if size > free:
            kept = _prefix_within(text, free)
            self._cut(size - _text_size(kept))
            text, size = kept, _text_size(kept)
        if text:
            self._pieces[index].append(text)
            self._sizes[index] += size
            self._used += size

    def _cut(self, left_out: int) -> None:
        if self._cut_at is None:
            self._cut_at = len(self._outputs)
        self._streamed_left_out += left_out


def valid_output(output: Any) -> dict[str, Any]:
    """`output` as an nbformat v4 output that passes the schema, whatever a kernel sent:
    unknown keys (``transient``) dropped, wrong types made right (a non-JSON mimetype's
    value that is not text becomes its JSON text; a traceback line that is not a string, its
    ``str``). An output of no known type becomes a ``stream`` to stderr saying so."""
    if not isinstance(output, dict):
        return _stderr(f"[unreadable output: {type(output).__name__}]\n")
    kind = output.get("output_type")
    if kind == "stream":
        text = output.get("text", "")
        name = output.get("name")
        return {"output_type": "stream", "name": name if isinstance(name, str) else "stdout", "text": _text(text)}
    if kind == "error":
        traceback = output.get("traceback")
        lines = [line if isinstance(line, str) else str(line) for line in traceback] if isinstance(traceback, list) else []
        return {"output_type": "error", "ename": _str(output.get("ename")), "evalue": _str(output.get("evalue")),
                "traceback": lines}
    if kind in ("display_data", "execute_result"):
        metadata = output.get("metadata")
        result: dict[str, Any] = {"output_type": kind, "data": _bundle(output.get("data")),
                                  "metadata": metadata if isinstance(metadata, dict) else {}}
        if kind == "execute_result":
            count = output.get("execution_count")
            result["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None
        return result
    return _stderr(f"[unknown output type: {_str(kind)[:40]}]\n")


def _stderr(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stderr", "text": text}


def _bundle(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    return {str(mime): value if _is_json_mime(str(mime)) else _text(value) for mime, value in data.items()}


def _is_json_mime(mime: str) -> bool:
    """nbformat's ``^application/(.*\\+)?json$``: such a value may be any JSON."""
    return mime.startswith("application/") and (mime == "application/json" or mime.endswith("+json"))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return str(value)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _size(output: dict[str, Any]) -> int:
    try:
        return len(orjson.dumps(output))
    except (TypeError, orjson.JSONEncodeError):  # a lone surrogate, an integer past 64 bits
        return len(repr(output).encode("utf-8", "surrogatepass"))


def _text_size(text: str) -> int:
    """Bytes `text` adds to its output's JSON (the quotes are counted with the output)."""
    try:
        return len(orjson.dumps(text)) - 2
    except orjson.JSONEncodeError:  # a lone surrogate
        return len(text.encode("utf-8", "surrogatepass"))


def _prefix_within(text: str, budget: int) -> str:
    """The longest-ish start of `text` whose JSON takes at most `budget` bytes. Every
    character takes at least one byte, so `budget` characters are an upper bound; each step
    cuts the excess (in characters, at least one each), so it ends in a few steps."""
    if budget <= 0:
        return ""
    prefix = text[:budget]
    while prefix and (excess := _text_size(prefix) - budget) > 0:
        prefix = prefix[: len(prefix) - max(excess // 6, 1)] if excess > 6 else prefix[:-excess]
    return prefix
