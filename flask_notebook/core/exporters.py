"""nbconvert's export formats, as ``GET /api/nbconvert`` lists them.

jupyter_server imports nbconvert and loads every exporter's class on each call. Here the
answer is worked out once per process, in a child Python: importing nbconvert costs about
0.6 s and 400 modules (20 MB), and, in a thread of ours, held up every other request for
0.2 s (measured). The child is the same interpreter, with the same environment, so it sees
the same packages and Jupyter configuration; ``-P`` keeps the server's working directory
(perhaps the notebook root, with anyone's ``json.py`` in it) off its import path.
Installing an exporter takes a server restart to show.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from typing import Any

import orjson

from . import errors

log = logging.getLogger(__name__)

#: jupyter_server's loop over the exporters (``services/nbconvert/handlers.py``), printed as JSON.
_LIST_EXPORTERS = """
import json
from nbconvert.exporters import base
formats = {}
for name in base.get_export_names():
    try:
        formats[name] = {"output_mimetype": base.get_exporter(name).output_mimetype}
    except ValueError:
        continue
print(json.dumps(formats))
"""
#: Seconds the child may take.
TIMEOUT = 60

_lock = threading.Lock()  # gevent's under monkey-patching: the second caller waits, cooperatively
_formats: dict[str, Any] | None = None


def export_formats() -> dict[str, Any]:
    """``{exporter name: {"output_mimetype": ...}}`` for every exporter nbconvert has.

    :raises errors.NotebookError: nbconvert cannot be imported, or its exporters listed.
    """
    global _formats
    with _lock:
        if _formats is None:
            _formats = _list_exporters()
        return _formats


def _list_exporters() -> dict[str, Any]:
    try:
        done = subprocess.run([sys.executable, "-P", "-c", _LIST_EXPORTERS], capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise errors.NotebookError("Could not list nbconvert's exporters", reason=str(exc)) from exc
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        log.error("listing nbconvert's exporters failed: %s", last)
        if "ModuleNotFoundError" in last or "ImportError" in last:
            raise errors.NotebookError(f"Could not import nbconvert: {last.partition(': ')[2] or last}")
        raise errors.NotebookError("Could not list nbconvert's exporters", reason=last)
    formats: dict[str, Any] = orjson.loads(done.stdout)
    return formats
