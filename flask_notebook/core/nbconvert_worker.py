"""One nbconvert conversion, in a child Python (``core.exporters.convert`` runs this file).

Run as a script (``python -P nbconvert_worker.py``), never imported by the server: it imports
nbconvert (0.6 s, 400 modules) and perhaps playwright and chromium, which have no business in
the server's process, and a conversion of a big notebook runs here at full speed without
holding gevent's hub. It imports nothing of flask_notebook.

stdin: a JSON request ``{"format", "name", "notebook", "resources", "sanitize_html", "chromium"}``.
stdout: one JSON line ``{"mimetype", "extension", "zip"}``, then the body's bytes; or, on
failure, one JSON line ``{"error": "construct" | "convert", "message"}`` and exit status 1.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from typing import Any


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    try:
        exporter = make_exporter(request["format"], request.get("chromium"))
        if request["format"] == "html" and request.get("sanitize_html") is not None:
            exporter.sanitize_html = bool(request["sanitize_html"])
    except Exception as exc:  # noqa: BLE001 - reported to the client as jupyter_server does
        return fail("construct", f"Could not construct Exporter: {exc}")
    try:
        import nbformat

        notebook = nbformat.from_dict(request["notebook"])  # type: ignore[no-untyped-call]
        output, resources = exporter.from_notebook_node(notebook, resources=request["resources"])
    except Exception as exc:  # noqa: BLE001
        return fail("convert", f"nbconvert failed: {exc}")
    body = output if isinstance(output, bytes) else output.encode("utf-8")
    extension = str(resources.get("output_extension") or "")
    header = {"mimetype": exporter.output_mimetype or delegated_mimetype(notebook), "extension": extension, "zip": False}
    files: dict[str, bytes] = resources.get("outputs") or {}
    if files:  # jupyter_server's respond_zip: the output and its extracted images, zipped
        buffer = io.BytesIO()
        stem = os.path.splitext(request["name"])[0]
        with zipfile.ZipFile(buffer, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(stem + extension, body)
            for filename, data in files.items():
                archive.writestr(os.path.basename(filename), data)
        body, header["zip"] = buffer.getvalue(), True
    out = sys.stdout.buffer
    out.write(json.dumps(header).encode() + b"\n")
    out.write(body)
    out.flush()
    return 0


def fail(kind: str, message: str) -> int:
    sys.stdout.buffer.write(json.dumps({"error": kind, "message": message}).encode() + b"\n")
    sys.stdout.flush()
    return 1


def delegated_mimetype(notebook: Any) -> str | None:
    """The type of a ``script`` export that nbconvert's ScriptExporter handed to the exporter the
    notebook's ``language_info.nbconvert_exporter`` names (ipykernel's notebooks say "python"):
    that exporter's class type. The ScriptExporter keeps none of its own then. None when unknown.
    The server decides what it may be served as (``exporters.served_mimetype``)."""
    from nbconvert.exporters.base import get_exporter

    name = notebook.metadata.get("language_info", {}).get("nbconvert_exporter")
    if not isinstance(name, str) or not name or name == "script":
        return None
    try:
        mimetype = get_exporter(name).output_mimetype  # type: ignore[no-untyped-call]
    except ValueError:
        return None
    return str(mimetype) or None


def make_exporter(name: str, chromium: str | None) -> Any:
    from nbconvert.exporters.base import get_exporter

    if name == "webpdf":
        return chromium_pdf_exporter(chromium)()
    return get_exporter(name)()  # type: ignore[no-untyped-call]


def chromium_pdf_exporter(chromium: str | None) -> Any:
    """nbconvert's WebPDFExporter, printing with the given chromium (Debian's, not one
    Playwright downloads), with no network and, as root, without chromium's sandbox (which
    refuses to run as root).

    ``run_playwright`` is WebPDFExporter's public step from HTML to PDF bytes; nbconvert 7.17
    has no option for the browser's executable, so it is overridden here.
    """
    from nbconvert.exporters.webpdf import WebPDFExporter

    class ChromiumPDFExporter(WebPDFExporter):
        output_mimetype = "application/pdf"  # WebPDFExporter inherits HTML's "text/html"

        def run_playwright(self, html: str) -> bytes:
            from playwright.sync_api import Route, sync_playwright

            def refuse(route: Route) -> None:
                route.abort()  # the notebook's scripts reach nothing: no CDN, no server of ours

            args = list(self.browser_args)
            if os.geteuid() == 0:
                args.append("--no-sandbox")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=args, handle_sigint=False,
                                                     handle_sigterm=False, handle_sighup=False)
                try:
                    page = browser.new_page()
                    page.route("**/*", refuse)
                    page.emulate_media(media="print")
                    page.set_content(html, wait_until="load")
                    page.wait_for_timeout(self.page_render_timeout)
                    pdf: bytes = page.pdf(print_background=True)
                finally:
                    browser.close()
            return pdf

    return ChromiumPDFExporter


if __name__ == "__main__":
    sys.exit(main())
