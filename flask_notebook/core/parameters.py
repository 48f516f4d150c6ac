"""Parameters of a run, injected into the notebook as papermill does (``papermill/parameterize.py``).

The first cell tagged ``parameters`` holds the notebook's defaults; a new code cell tagged
``injected-parameters`` is put right after it, assigning the values given, so they override
the defaults. A cell tagged ``injected-parameters`` from an earlier run is replaced (in its
place) instead; with no ``parameters`` cell the new cell goes at the top. As in papermill
the cell assigns only the values given, and begins with a ``# Parameters`` comment.

Values are JSON's (str, int, float, bool, None, list, dict), written as Python literals
(``repr``), so only kernels whose language is Python have a translator here.
"""

from __future__ import annotations

import keyword
from typing import Any

from . import errors

#: Kernel languages whose literals we can write.
LANGUAGES = frozenset({"python"})
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


def check(parameters: Any, language: str | None) -> dict[str, Any]:
    """`parameters`, if they can be injected into a notebook run by a kernel of `language`.

    :raises errors.Invalid: not an object; a name that is not a Python identifier (or is a
        keyword); or a kernel language without a translator (the message names it).
    """
    if not isinstance(parameters, dict):
        raise errors.Invalid("'parameters' must be an object of names to values", reason="bad field: parameters")
    if not parameters:
        return {}
    if (language or "").lower() not in LANGUAGES:
        raise errors.Invalid(f"Parameters cannot be injected for a kernel whose language is {language or 'unknown'!r}: "
                             f"only {', '.join(sorted(LANGUAGES))} kernels have a translator",
                             reason="bad field: parameters")
    for name in parameters:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise errors.Invalid(f"Parameter name {name!r} is not a Python identifier", reason="bad field: parameters")
    return dict(parameters)


def python_source(parameters: dict[str, Any]) -> str:
    """The injected cell's code: one assignment per parameter, in the order given."""
    return "\n".join(["# Parameters", *(f"{name} = {value!r}" for name, value in parameters.items())]) + "\n"


def inject(nb: dict[str, Any], parameters: dict[str, Any], *, cell_id: str) -> dict[str, Any]:
    """Put the ``injected-parameters`` cell (id `cell_id`) into `nb`, in place; returns it."""
    cell: dict[str, Any] = {"cell_type": "code", "id": cell_id, "metadata": {"tags": [INJECTED_TAG]},
                            "execution_count": None, "outputs": [], "source": python_source(parameters)}
    cells: list[Any] = nb.setdefault("cells", [])
    injected, defaults = _first_tagged(cells, INJECTED_TAG), _first_tagged(cells, PARAMETERS_TAG)
    if injected is not None:
        cells[injected] = cell
    elif defaults is not None:
        cells.insert(defaults + 1, cell)
    else:
        cells.insert(0, cell)
    return cell


def _first_tagged(cells: list[Any], tag: str) -> int | None:
    for index, cell in enumerate(cells):
        metadata = cell.get("metadata") if isinstance(cell, dict) else None
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
        if isinstance(tags, list) and tag in tags:
            return index
    return None
