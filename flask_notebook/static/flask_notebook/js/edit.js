// The plain text editor of /edit/<path>: load the file as UTF-8 text, save it with Save or
// Ctrl-S. Saves carry If-Match with the hash of what was read, so a file changed on disk in
// the meantime is not overwritten without asking.

import { ApiError, contentsUrl, pageConfig, request } from "./api.js";
import { confirmDialog, showError } from "./dialogs.js";

const $ = (id) => document.getElementById(id);
const path = pageConfig().path;
const name = path.slice(path.lastIndexOf("/") + 1);
const text = $("nb-editor-text");
const saveButton = $("nb-save");
const status = $("nb-editor-status");
let etag = null; // the ETag (sha256) of the bytes on disk as last read or written
let dirty = false;

function setDirty(value) {
  dirty = value;
  saveButton.disabled = !value;
  status.textContent = value ? "Unsaved changes" : "Saved";
  document.title = `${value ? "● " : ""}${name} · flask-notebook`;
}

async function load() {
  try {
    const { data, response } = await request("GET", contentsUrl(path), { query: { type: "file", format: "text" } });
    etag = response.headers.get("ETag");
    text.value = data.content;
    text.readOnly = false;
    setDirty(false);
    status.textContent = "";
    text.setSelectionRange(0, 0);
    text.focus({ preventScroll: true });
    text.scrollTop = 0;
  } catch (problem) {
    const problemArea = $("nb-editor-problem");
    problemArea.hidden = false;
    problemArea.textContent = problem instanceof ApiError && problem.reason === "bad format"
      ? "This file is not UTF-8 text, so it cannot be edited here. Download it instead."
      : `The file cannot be opened: ${problem.message}`;
  }
}

async function refreshEtag() {
  const { data } = await request("GET", contentsUrl(path), { query: { content: 0, hash: 1 } });
  etag = data.hash ? `"${data.hash}"` : null;
}

async function save({ force = false } = {}) {
  if (text.readOnly) return;
  const content = text.value;
  saveButton.disabled = true;
  status.textContent = "Saving…";
  const headers = etag && !force ? { "If-Match": etag } : {};
  try {
    await request("PUT", contentsUrl(path), { body: { type: "file", format: "text", content }, headers });
    await refreshEtag();
    setDirty(text.value !== content);
  } catch (problem) {
    if (problem instanceof ApiError && problem.status === 409 && !force) {
      const overwrite = await confirmDialog({
        title: "File changed on disk",
        message: `"${name}" changed on disk since it was opened. Overwrite it with your version?`,
        confirmLabel: "Overwrite",
        danger: true,
      });
      if (overwrite) return save({ force: true });
    } else {
      showError(`Saving ${name}`, problem);
    }
    setDirty(true);
  }
  return undefined;
}

text.addEventListener("input", () => {
  if (!dirty) setDirty(true);
});
saveButton.addEventListener("click", () => save());
document.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
    event.preventDefault();
    save();
  }
});
window.addEventListener("beforeunload", (event) => {
  if (dirty) event.preventDefault();
});
load().then(() => {
  document.documentElement.dataset.nbReady = "true";
});
