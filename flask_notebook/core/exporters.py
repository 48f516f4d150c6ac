"""nbconvert's export formats, as ``GET /api/nbconvert`` lists them, and conversions
(``GET /nbconvert/<format>/<path>``), each in a child Python (``nbconvert_worker.py``).

jupyter_server imports nbconvert and loads every exporter's class on each call. Here the
answer is worked out once per process, in a child Python: importing nbconvert costs about
0.6 s and 400 modules (20 MB), and, in a thread of ours, held up every other request for
0.2 s (measured). The child is the same interpreter, with the same environment, so it sees
the same packages and Jupyter configuration; ``-P`` keeps the server's working directory
(perhaps the notebook root, with anyone's ``json.py`` in it) off its import path.
Installing an exporter takes a server restart to show.

``webpdf`` prints with chromium through playwright: it is listed only when both are there
(chromium: ``$CHROMIUM``, else ``chromium`` or ``google-chrome`` on the PATH).

What a conversion is served as (``served_mimetype``): HTML (confined by the response's CSP
sandbox) or PDF only for a format whose exporter class makes pages or PDFs (html, slides,
webpdf, pdf); every other format's output is code or text and is served as a text type, never
one a browser renders or runs. ``script`` takes its type from the notebook's metadata
(``language_info``), which the notebook's author controls: a ``mimetype`` of ``text/html``
there, or an ``nbconvert_exporter`` of ``html``, still gives ``text/plain``. (jupyter_server
serves whatever ``output_mimetype`` the ScriptExporter has, and tornado's ``text/html`` when it
has none, which is the case for every notebook ipykernel wrote: it delegates to PythonExporter.)
An exporter with no type of its own (``script``, ``custom``) is listed as ``text/plain``.

A conversion runs in a child Python too, at most ``MAX_CONVERSIONS`` at once (a third waits,
cooperatively) and each for at most ``TIMEOUT`` seconds: nbconvert's work for a big notebook
never holds the server's hub, and a notebook that makes it hang costs one child, which is
killed.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
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
#: Seconds the child may take (a listing or a conversion).
TIMEOUT = 120
#: Conversions running at once; more wait their turn.
MAX_CONVERSIONS = 2
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nbconvert_worker.py")

#: The types of pages and PDFs, served only for a format whose exporter class declares one.
_DOCUMENT_TYPES = frozenset({"text/html", "application/pdf"})
#: A type a browser shows as text: text/* or JSON ...
_TEXT_TYPE = re.compile(r"(?:text/[a-z0-9][a-z0-9.+-]*|application/(?:[a-z0-9.-]+\+)?json)", re.IGNORECASE)
#: ... but not one it renders or runs (HTML, XML and so XHTML and SVG, XSL, script).
_ACTIVE = re.compile(r"html|xml|xsl|svg|script", re.IGNORECASE)
#: What output of no known, safe type is served as.
PLAIN = "text/plain"

_lock = threading.Lock()  # gevent's under monkey-patching: the second caller waits, cooperatively
_formats: dict[str, Any] | None = None
_conversions = threading.BoundedSemaphore(MAX_CONVERSIONS)


def export_formats() -> dict[str, Any]:
    """``{exporter name: {"output_mimetype": ...}}`` for every exporter nbconvert has.

    :raises errors.NotebookError: nbconvert cannot be imported, or its exporters listed.
    """
    global _formats
    with _lock:
        if _formats is None:
            _formats = {name: {**info, "output_mimetype": info.get("output_mimetype") or PLAIN}
                        for name, info in _list_exporters().items()}
            if "webpdf" in _formats and webpdf_unavailable() is not None:
                del _formats["webpdf"]
        return _formats


def chromium() -> str | None:
    """The chromium that ``webpdf`` prints with: ``$CHROMIUM``, else one on the PATH."""
    given = os.environ.get("CHROMIUM")
    if given:
        return given if os.access(given, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def webpdf_unavailable() -> str | None:
    """Why ``webpdf`` cannot convert here, or None when it can."""
    if importlib.util.find_spec("playwright") is None:
        return "webpdf needs the playwright package (pip install 'flask-notebook[webpdf]')"
    if chromium() is None:
        return "webpdf needs chromium: none found ($CHROMIUM, or chromium on the PATH)"
    return None


@dataclass(frozen=True)
class Converted:
    """A conversion's answer: its bytes, the MIME type to serve them as (``served_mimetype``;
    "application/zip" for a zip), the extension of the file they make, and whether they are a zip of the output
    with its extracted images (as jupyter_server answers then)."""

    body: bytes
    mimetype: str
    extension: str
    zip: bool


def check_format(name: str) -> None:
    """:raises errors.NotFound: no exporter `name` (jupyter_server's 404), or webpdf without
        chromium (why, in the reason).
    :raises errors.NotebookError: nbconvert's exporters cannot be listed."""
    if name in export_formats():
        return
    raise errors.NotFound(f"No exporter for format: {name}",
                          reason=webpdf_unavailable() if name == "webpdf" else None)


def convert(name: str, notebook: dict[str, Any], *, notebook_name: str, resources: dict[str, Any],
            sanitize_html: bool | None = None) -> Converted:
    """Convert `notebook` (nbformat v4 JSON) with exporter `name`, in a child Python.

    :raises errors.NotFound: no such exporter (``check_format``).
    :raises errors.NotebookError: the exporter could not be made, the conversion failed or
        took longer than ``TIMEOUT``; its message says which, as jupyter_server's does.
    """
    check_format(name)
    request = orjson.dumps({"format": name, "name": notebook_name, "notebook": notebook, "resources": resources,
                           "sanitize_html": sanitize_html, "chromium": chromium()})
    with _conversions:
        try:
            done = subprocess.run([sys.executable, "-P", WORKER], input=request, capture_output=True,
                                  timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            raise errors.NotebookError(f"nbconvert failed: took longer than {TIMEOUT} s") from exc
        except (OSError, subprocess.SubprocessError) as exc:
            raise errors.NotebookError("nbconvert failed", reason=str(exc)) from exc
    head, _, body = done.stdout.partition(b"\n")
    try:
        header: dict[str, Any] = orjson.loads(head)
    except orjson.JSONDecodeError:
        header = {}
    if done.returncode != 0 or "error" in header or not header:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        log.warning("nbconvert %s of %s failed (status %s): %s", name, notebook_name, done.returncode, last)
        raise errors.NotebookError(str(header.get("message") or f"nbconvert failed: {last}"))
    zipped = bool(header.get("zip"))
    mimetype = "application/zip" if zipped else served_mimetype(name, header.get("mimetype"))
    return Converted(body, mimetype, str(header.get("extension") or ""), zipped)


def served_mimetype(name: str, mimetype: object) -> str:
    """The type to serve format `name`'s output as, given the type the conversion reported
    (`mimetype`, perhaps from the notebook's metadata): a page or PDF type only when the
    format's exporter class declares one; otherwise `mimetype` if a browser shows it as text
    (text/x-python, text/markdown, application/json...), else ``text/plain``."""
    if not isinstance(mimetype, str):
        return PLAIN
    mimetype = mimetype.strip().lower()
    listed = export_formats().get(name, {}).get("output_mimetype")
    if mimetype in _DOCUMENT_TYPES:
        return mimetype if listed in _DOCUMENT_TYPES else PLAIN
    if _TEXT_TYPE.fullmatch(mimetype) and not _ACTIVE.search(mimetype):
        return mimetype
    return PLAIN


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
