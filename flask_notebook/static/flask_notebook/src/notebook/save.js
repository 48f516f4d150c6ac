// Saving: PUT with If-Match (the server answers 409 when the file changed on disk since we
// read or last wrote it), a checkpoint on explicit saves, autosave, the dirty marker in the
// title, and the warning before leaving with unsaved changes.
//
// While a run of this page writes the file (runs.js), the file changes under us by design:
// the server merges a save made during an in-place run by cell id, and the page reads the
// file's new ETag when the run ends. A 409 in that window is the run's own writing, not
// somebody else's, so the save is made again over the file's current version (merged by the
// server) instead of asking "changed on disk".

import { contentsUrl, request } from "../../js/api.js";
import { confirmDialog } from "../../js/dialogs.js";
import { AutosaveClock } from "../../js/autosave.js";

export class Saver extends EventTarget {
  /** `runWriting()` says whether a run of this page is writing the file (see above). */
  constructor(notebook, { path, etag, autosaveSeconds, runWriting = () => false, beforeSave = async () => {} }) {
    super();
    /** Called before each save: brings state kept outside the cells (widgets) into metadata. */
    this.beforeSave = beforeSave;
    this.notebook = notebook;
    this.runWriting = runWriting;
    this.path = path;
    this.etag = etag;
    this.dirty = false;
    this.saving = null;
    this.status = "saved";
    notebook.addEventListener("change", () => this.markDirty());
    window.addEventListener("beforeunload", (event) => {
      if (this.dirty) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    this.autosave = new AutosaveClock(() => {
      if (this.dirty && !this.saving) this.save({ checkpoint: false, auto: true });
    });
    this.autosave.set(autosaveSeconds);
  }

  /** Autosave every `seconds` (0: never); the Settings menu changes it while the page is open. */
  setAutosave(seconds) {
    this.autosave.set(seconds);
  }

  /** Seconds between autosaves (0: none). */
  get autosaveSeconds() {
    return this.autosave.seconds;
  }

  markDirty() {
    if (!this.dirty) {
      this.dirty = true;
      this.setStatus("unsaved");
    }
  }

  setStatus(status, message = null) {
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: { status, message } }));
  }

  /** Save (and checkpoint unless `checkpoint` is false). Resolves to true when saved. */
  async save({ checkpoint = true, auto = false, force = false } = {}) {
    if (this.saving) {
      await this.saving;
      if (!this.dirty && !checkpoint) return true;
    }
    this.saving = this.doSave({ checkpoint, auto, force });
    try {
      return await this.saving;
    } finally {
      this.saving = null;
    }
  }

  /** Resolves when no save is on its way. */
  async settled() {
    while (this.saving) await this.saving.catch(() => {});
  }

  /** The file on disk, as this page shows it, now has `etag` (a run wrote it, runs.js). */
  adoptEtag(etag) {
    if (etag) this.etag = etag;
  }

  async doSave({ checkpoint, auto, force, again = false }) {
    this.setStatus("saving");
    const wasDirtyAt = this.changeCount();
    const headers = {};
    if (this.etag && !force) headers["If-Match"] = this.etag;
    try {
      await this.beforeSave();
      await request("PUT", contentsUrl(this.path), {
        body: { type: "notebook", format: "json", content: this.notebook.toJSON() },
        headers,
      });
      await this.refreshEtag();
      if (checkpoint) await request("POST", `${contentsUrl(this.path)}/checkpoints`);
    } catch (error) {
      if (error.status === 409 && !again && this.runWriting()) {
        await this.refreshEtag();
        return this.doSave({ checkpoint, auto, force, again: true });
      }
      if (error.status === 409 && !auto) return this.conflict();
      this.setStatus("error", error.message);
      return false;
    }
    this.notebook.unsavedIds = false; // the ids the page gave cells are in the file now
    if (this.changeCount() === wasDirtyAt) this.dirty = false;
    this.setStatus(this.dirty ? "unsaved" : "saved", checkpoint ? "checkpoint" : null);
    return true;
  }

  /** Edits made while a save was on its way keep the notebook dirty. */
  changeCount() {
    return this.notebook.changes || 0;
  }

  async refreshEtag() {
    const { data } = await request("GET", contentsUrl(this.path), { query: { content: 0, hash: 1 } });
    this.etag = data.hash ? `"${data.hash}"` : null;
  }

  /** The file changed on disk: overwrite it, or keep ours unsaved (reloading is a menu item). */
  async conflict() {
    this.setStatus("conflict", "The file changed on disk");
    const overwrite = await confirmDialog({
      title: "Notebook changed on disk",
      message: `${this.path} was changed by someone or something else since it was opened or last saved. `
        + "Overwrite it with this version? (Cancel keeps your version unsaved; File > Reload from disk shows the other.)",
      confirmLabel: "Overwrite",
      danger: true,
    });
    if (!overwrite) {
      this.setStatus("unsaved", "not saved: the file changed on disk");
      return false;
    }
    return this.doSave({ checkpoint: true, auto: false, force: true });
  }

  /** Put the checkpoint back on disk, then reload the page to show it. */
  async revert() {
    const { data } = await request("GET", `${contentsUrl(this.path)}/checkpoints`);
    if (!data.length) {
      await confirmDialog({ title: "No checkpoint", message: "This notebook has no checkpoint yet.", confirmLabel: "OK" });
      return;
    }
    const when = new Date(data[0].last_modified).toLocaleString();
    const ok = await confirmDialog({
      title: "Revert to checkpoint",
      message: `Revert ${this.path} to its checkpoint of ${when}? Changes since then are lost.`,
      confirmLabel: "Revert",
      danger: true,
    });
    if (!ok) return;
    await request("POST", `${contentsUrl(this.path)}/checkpoints/${encodeURIComponent(data[0].id)}`);
    this.dirty = false;
    location.reload();
  }

  reloadFromDisk() {
    this.dirty = false;
    location.reload();
  }
}

