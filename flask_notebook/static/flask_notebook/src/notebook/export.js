// File → "Download as …": the notebook converted by nbconvert on the server
// (GET /nbconvert/<format>/<path>?download=true), as Notebook 7's "Save and Export Notebook As".
//
// The menu offers the formats that make sense as a download; which ones this server has
// (webpdf needs chromium there) is asked of /api/nbconvert the first time the File menu
// opens, never at page load, and the others are hidden. A download saves unsaved changes
// first, so the file is what the person sees, then fetches the conversion (errors are shown,
// not saved as a file) and hands it to the browser under the server's file name.

import { ApiError, apiUrl, encodePath, getJson, pageConfig } from "../../js/api.js";
import { el, toast } from "../../js/dialogs.js";

/** [nbconvert exporter, menu label], in menu order. */
export const EXPORT_FORMATS = [
  ["html", "HTML (.html)"],
  ["webpdf", "PDF (.pdf)"],
  ["script", "Executable Script"],
  ["markdown", "Markdown (.md)"],
  ["rst", "reStructuredText (.rst)"],
  ["latex", "LaTeX (.tex)"],
  ["asciidoc", "AsciiDoc (.asciidoc)"],
  ["slides", "Reveal.js Slides (.html)"],
  ["notebook", "Notebook (.ipynb)"],
];

/** "Executable Script (.py)": the extension nbconvert's script exporter gives the file, the
 *  one of the notebook's language (metadata.language_info.file_extension, which the kernel
 *  reports and the page saves); none while that is unknown. */
export function scriptLabel(metadata) {
  const info = metadata && metadata.language_info;
  const extension = info && typeof info.file_extension === "string" ? info.file_extension.trim() : "";
  return /^\.[\w.+-]{1,16}$/.test(extension) ? `Executable Script (${extension})` : "Executable Script";
}

/** The script item's label (File menu, and so the palette) follows the notebook's language. */
export function showScriptLabel(root, metadata) {
  const label = root.querySelector('.nb-menubar [data-action="export-script"] span');
  if (label) label.textContent = `Download as ${scriptLabel(metadata)}`;
}

/** The File menu's "Download as" items; `downloadAs(format)` runs one. */
export function exportItems(downloadAs) {
  return EXPORT_FORMATS.map(([format, label]) => ({
    id: `export-${format}`, label: `Download as ${label}`, run: () => downloadAs(format),
  }));
}

let available = null;

/** On the File menu's first opening: hide the formats this server does not have. */
export function trimExportItems(popup) {
  available ||= getJson(apiUrl("nbconvert")).then(
    (formats) => new Set(Object.keys(formats)),
    () => {
      available = null; // asked again at the next opening
      return null;
    },
  );
  return available.then((formats) => {
    if (!formats) return;
    for (const [format] of EXPORT_FORMATS) {
      const item = popup.querySelector(`[data-action="export-${format}"]`);
      if (item) item.hidden = !formats.has(format);
    }
  });
}

/** The file name of a Content-Disposition: attachment; filename*=utf-8''… header. */
function fileName(disposition) {
  const match = /filename\*=utf-8''([^;]+)/i.exec(disposition || "");
  return match ? decodeURIComponent(match[1]) : null;
}

/** Save `app`'s notebook if it has unsaved changes, then download it converted to `format`. */
export async function downloadAs(app, format) {
  if (!(await app.saveForRun())) throw new Error("the notebook could not be saved first");
  const url = `${pageConfig().baseUrl}nbconvert/${encodeURIComponent(format)}/${encodePath(app.path)}?download=true`;
  const label = format === "script" ? scriptLabel(app.notebook.metadata)
    : (EXPORT_FORMATS.find(([name]) => name === format) || [format, format])[1];
  toast(`Converting to ${label}…`);
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, `Cannot reach the server (${error.message})`);
  }
  if (!response.ok) {
    let body = null;
    try {
      body = JSON.parse(await response.text());
    } catch {
      body = null;
    }
    throw new ApiError(response.status, (body && body.message) || `${response.status} ${response.statusText}`,
      body && body.reason);
  }
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const link = el("a", { href, download: fileName(response.headers.get("Content-Disposition")) || "" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000); // the browser has long taken its copy
}
