"""What an in-place run writes into a notebook its user may be editing: the merge (issue 20).

While a run executes a notebook in place, two parties change the one file: the run (the
outputs, execution count and timing of the cells it executes) and the user (everything
else: sources, cell order, metadata, new and deleted cells). The file is always
``overlay(base, owned)``: `base` is the newest notebook the user saved (at first, the
notebook as the run read it), `owned` what the run has produced for each cell it executed
or is executing, by cell id. A run's save and a user's save compute the same thing from
their side, so neither loses the other's part, and a cell the user deleted is simply no
longer in `base`: the run's outputs for it are never written again.

Pure functions on plain nbformat v4 dicts; nothing here reads or writes files.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: The cell metadata key the run's timing lives under: ``metadata.flask_notebook.execution``.
METADATA_KEY = "flask_notebook"


@dataclass
class CellResult:
    """What a run owns of one cell it executed or is executing: the file shows these, not
    what the user's copy says, however often the user saves."""

    outputs: list[dict[str, Any]] = field(default_factory=list)
    execution_count: int | None = None
    #: ``metadata.flask_notebook.execution``: start, end, duration, status, run_id.
    execution: dict[str, Any] = field(default_factory=dict)


def overlay(base: dict[str, Any], owned: Mapping[str, CellResult]) -> dict[str, Any]:
    """The notebook to write: `base`, with the run's part of every code cell whose id is in
    `owned` (its outputs, ``execution_count`` and ``metadata.flask_notebook.execution``).

    Everything else is `base`'s: the user's sources, order, metadata (other keys under
    ``metadata.flask_notebook`` included) and cells the run never saw. A cell the user turned
    into markdown keeps no outputs (a markdown cell cannot hold them); an owned id `base`
    lacks is left out. Neither argument is modified; cells that are not owned are shared
    with `base`, and each owned one is a new dict with new output dicts (a save normalises
    what it writes in place).
    """
    cells: list[Any] = []
    for cell in base.get("cells", []):
        cell_id = cell.get("id") if isinstance(cell, dict) else None
        result = owned.get(cell_id) if isinstance(cell_id, str) else None
        if result is None or cell.get("cell_type") != "code":
            cells.append(cell)
            continue
        metadata = dict(cell.get("metadata") or {})
        ours = metadata.get(METADATA_KEY)
        metadata[METADATA_KEY] = {**(ours if isinstance(ours, dict) else {}), "execution": dict(result.execution)}
        cells.append({**cell, "metadata": metadata, "execution_count": result.execution_count,
                      "outputs": [dict(output) for output in result.outputs]})
    return {**base, "cells": cells}


def adopt_ids(user: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """`user`'s notebook with the cell ids the run knows, where only their position tells.

    A notebook without cell ids gets them when a run reads it; an editor that had it open
    made up its own. When the user's copy shares no cell id with `base` but has the same
    cell types in the same order, its cells are `base`'s, one for one: they take `base`'s
    ids. Otherwise cells without an id get a new one (nbformat 4.5 requires ids, and the
    file is written as 4.5 once any cell has one). Returns `user` itself when nothing changes.
    """
    user_cells = [cell for cell in user.get("cells", []) if isinstance(cell, dict)]
    base_cells = [cell for cell in base.get("cells", []) if isinstance(cell, dict)]
    base_ids = {cell.get("id") for cell in base_cells}
    shared = any(cell.get("id") in base_ids for cell in user_cells if isinstance(cell.get("id"), str))
    same_shape = len(user_cells) == len(user.get("cells", [])) and [c.get("cell_type") for c in user_cells] == [
        c.get("cell_type") for c in base_cells]
    if not shared and same_shape and base_cells and all(isinstance(c.get("id"), str) for c in base_cells):
        cells = [{**cell, "id": known["id"]} for cell, known in zip(user_cells, base_cells)]
    elif all(isinstance(cell.get("id"), str) for cell in user_cells):
        return user
    else:
        taken = {cell.get("id") for cell in user_cells} | base_ids
        cells = [cell if isinstance(cell.get("id"), str) else {**cell, "id": _new_id(taken)} for cell in user_cells]
    minor = user.get("nbformat_minor")
    return {**user, "cells": cells, "nbformat_minor": max(minor if isinstance(minor, int) else 0, 5)}


def deleted_cells(base: dict[str, Any], owned: Mapping[str, CellResult]) -> set[str]:
    """The owned cell ids `base` no longer has (as a code cell): the user deleted them (or
    made them markdown). The run goes on executing them; their outputs are not written."""
    present = {cell.get("id") for cell in base.get("cells", [])
               if isinstance(cell, dict) and cell.get("cell_type") == "code"}
    return {cell_id for cell_id in owned if cell_id not in present}


def _new_id(taken: set[Any]) -> str:
    while True:
        cell_id = uuid.uuid4().hex[:8]
        if cell_id not in taken:
            taken.add(cell_id)
            return cell_id
