// Uploads through the contents API, and the page's panel of uploads in progress. Small notebooks go up as notebooks (so the server
// validates them and makes a checkpoint); everything else as base64 files. Files larger than
// one chunk go up in chunks, as JupyterLab sends them: "chunk": 1 for the first, 2, 3, ...
// for the middle ones and -1 for the last, so the server appends as they arrive and the
// progress is real.

import { contentsUrl, joinPath, pageConfig, request } from "./api.js";
import { confirmDialog, el, showError } from "./dialogs.js";

/** Bytes per chunk; a page may set `uploadChunkSize` in its config. */
export function chunkSize() {
  return pageConfig().uploadChunkSize || 1024 * 1024;
}

/** The base64 text of a Blob (without the data: URL's prefix). */
export function blobToBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).slice(String(reader.result).indexOf(",") + 1));
    reader.onerror = () => reject(reader.error || new Error("cannot read the file"));
    reader.readAsDataURL(blob);
  });
}

/**
 * Upload `file` as `apiPath`. Calls onProgress(bytesSent, totalBytes) after each request;
 * `signal` aborts between (and during) requests. Resolves to the server's model.
 */
export async function uploadFile(file, apiPath, { onProgress = () => {}, signal } = {}) {
  const url = contentsUrl(apiPath);
  const size = chunkSize();
  onProgress(0, file.size);
  if (file.size <= size) {
    let model = null;
    if (apiPath.endsWith(".ipynb")) {
      try {
        model = { type: "notebook", format: "json", content: JSON.parse(await file.text()) };
      } catch {
        model = null; // not JSON: keep the bytes as they are
      }
    }
    model = model || { type: "file", format: "base64", content: await blobToBase64(file) };
    const { data } = await request("PUT", url, { body: model, signal });
    onProgress(file.size, file.size);
    return data;
  }
  const count = Math.ceil(file.size / size);
  let data = null;
  let started = false;
  try {
    for (let index = 0; index < count; index += 1) {
      signal?.throwIfAborted();
      const start = index * size;
      const end = Math.min(file.size, start + size);
      const content = await blobToBase64(file.slice(start, end));
      const chunk = index === count - 1 ? -1 : index + 1;
      started = true;
      ({ data } = await request("PUT", url, { body: { type: "file", format: "base64", chunk, content }, signal }));
      onProgress(end, file.size);
    }
  } catch (problem) {
    // A cancelled upload must not hold its name on the server until it expires (two
    // minutes): ask the server to drop it (ours; the file it was replacing stays).
    if (started && problem.name === "AbortError") {
      request("DELETE", url, { query: { upload: 1 } }).catch(() => {});
    }
    throw problem;
  }
  return data;
}

// -- the panel of uploads in progress ----------------------------------------------------------

/**
 * The uploads region of a page: one row per file with a progress bar and Cancel (then
 * Dismiss). Files go up one at a time, so a big batch does not swamp the server.
 *   existingNames(dir): the names already in `dir`, to ask before replacing them
 *   finished(path, ok): called after each upload, successful or not
 */
export class UploadPanel {
  constructor(area, { existingNames, finished }) {
    Object.assign(this, { area, existingNames, finished });
    this.queue = Promise.resolve();
  }

  /** Queue `files` for upload into the folder `dir`. */
  async upload(files, dir) {
    if (!files.length) return;
    const existing = this.existingNames(dir);
    const clashes = files.filter((file) => existing.has(file.name));
    let replace = true;
    if (clashes.length) {
      const one = clashes.length === 1;
      replace = await confirmDialog({
        title: "Replace files?",
        message: `${clashes.map((file) => `"${file.name}"`).join(", ")} already ${one ? "exists" : "exist"} in this folder. Replace ${one ? "it" : "them"}?`,
        confirmLabel: "Replace",
        danger: true,
      });
    }
    for (const row of this.area.querySelectorAll('.nb-upload[data-state="done"]')) row.remove();
    this.area.hidden = false;
    for (const file of files) {
      if (!replace && existing.has(file.name)) continue;
      const row = this.row(file);
      this.area.append(row.element);
      this.queue = this.queue.then(() => this.run(file, joinPath(dir, file.name), row));
    }
  }

  row(file) {
    const controller = new AbortController();
    const progress = el("progress", { max: file.size || 1, value: 0, "aria-label": `Uploading ${file.name}` });
    const status = el("span", { className: "nb-upload-state" }, "Waiting");
    const cancel = el("button", { type: "button", "aria-label": `Cancel uploading ${file.name}` }, "Cancel");
    const element = el("div", { className: "nb-upload", dataset: { state: "waiting", name: file.name } },
      el("span", { className: "nb-upload-name", title: file.name }, file.name), progress, status, cancel);
    cancel.addEventListener("click", () => {
      if (element.dataset.state === "done" || element.dataset.state === "failed") {
        element.remove();
        if (!this.area.children.length) this.area.hidden = true;
      } else {
        controller.abort();
      }
    });
    return { element, progress, status, cancel, controller };
  }

  async run(file, path, row) {
    if (row.controller.signal.aborted) {
      this.finish(row, "failed", "Cancelled");
      return;
    }
    row.element.dataset.state = "uploading";
    try {
      await uploadFile(file, path, {
        signal: row.controller.signal,
        onProgress: (sent, total) => {
          row.progress.max = total || 1;
          row.progress.value = total ? sent : 1;
          row.status.textContent = total ? `${Math.floor((100 * sent) / total)}%` : "";
        },
      });
      this.finish(row, "done", "Uploaded");
      await this.finished(path, true);
    } catch (problem) {
      const cancelled = problem.name === "AbortError";
      this.finish(row, "failed", cancelled ? "Cancelled" : "Failed");
      if (!cancelled) showError(`Uploading ${file.name}`, problem);
      await this.finished(path, false);
    }
  }

  finish(row, outcome, text) {
    row.element.dataset.state = outcome;
    row.status.textContent = text;
    row.cancel.textContent = "Dismiss";
    row.cancel.setAttribute("aria-label", `Dismiss ${row.element.dataset.name}`);
  }
}

function hasFiles(event) {
  return event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
}

/** Make `target` take dropped files: onDrop(files, event). It is outlined while files hover it. */
export function acceptDrops(target, onDrop) {
  // A file dropped beside the target must not replace the page with the file.
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => {
      if (hasFiles(event) && !event.defaultPrevented) event.preventDefault();
    });
  }
  let depth = 0;
  target.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth += 1;
    target.classList.add("nb-dropping");
  });
  target.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  target.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) target.classList.remove("nb-dropping");
  });
  target.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    target.classList.remove("nb-dropping");
    onDrop(Array.from(event.dataTransfer?.files || []), event);
  });
}
