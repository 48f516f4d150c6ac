// Saving a text file, as src/notebook/save.js saves notebooks: PUT with If-Match (the server
// answers 409 when the file changed on disk since we read or last wrote it), autosave, and the
// warning before leaving with unsaved changes. A 409 puts the saver in the "conflict" state:
// the text stays in the editor, unsaved, until the person chooses to overwrite the file or to
// reload it from disk; autosave waits for that choice. A failed save keeps the text and says so.

import { contentsUrl, request } from "../../js/api.js";
import { AutosaveClock } from "../../js/autosave.js";

export class FileSaver extends EventTarget {
  /** `text()` gives the editor's current text. */
  constructor({ path, etag, autosaveSeconds, text }) {
    super();
    this.path = path;
    this.etag = etag;
    this.text = text;
    this.dirty = false;
    this.changes = 0; // edits so far: an edit made while a save is on its way keeps us dirty
    this.saving = null;
    this.status = "saved";
    window.addEventListener("beforeunload", (event) => {
      if (this.dirty) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    this.autosave = new AutosaveClock(() => {
      if (this.dirty && !this.saving && this.status !== "conflict") this.save({ auto: true });
    });
    this.autosave.set(autosaveSeconds);
  }

  /** Autosave every `seconds` (0: never); the person's setting, changed while the page is open. */
  setAutosave(seconds) {
    this.autosave.set(seconds);
  }

  /** Seconds between autosaves (0: none). */
  get autosaveSeconds() {
    return this.autosave.seconds;
  }

  markDirty() {
    this.changes += 1;
    if (!this.dirty) {
      this.dirty = true;
      if (this.status !== "conflict") this.setStatus("unsaved");
    }
  }

  setStatus(status, message = null) {
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: { status, message } }));
  }

  /** Save the editor's text; `force` overwrites whatever is on disk. Resolves to true when saved. */
  async save({ auto = false, force = false } = {}) {
    while (this.saving) await this.saving;
    if (auto && (!this.dirty || this.status === "conflict")) return true;
    this.saving = this.doSave({ force });
    try {
      return await this.saving;
    } finally {
      this.saving = null;
    }
  }

  async doSave({ force }) {
    this.setStatus("saving");
    const changesAt = this.changes;
    const headers = {};
    if (this.etag && !force) headers["If-Match"] = this.etag;
    try {
      await request("PUT", contentsUrl(this.path), {
        body: { type: "file", format: "text", content: this.text() },
        headers,
      });
      await this.refreshEtag();
    } catch (error) {
      if (error.status === 409) this.setStatus("conflict", "The file changed on disk since it was opened or last saved");
      else this.setStatus("error", error.message);
      return false;
    }
    if (this.changes === changesAt) this.dirty = false;
    this.setStatus(this.dirty ? "unsaved" : "saved");
    return true;
  }

  async refreshEtag() {
    const { data } = await request("GET", contentsUrl(this.path), { query: { content: 0, hash: 1 } });
    this.etag = data.hash ? `"${data.hash}"` : null;
  }

  /** The file as it is on disk now: { content, etag }. Rejects with the API's error. */
  async read() {
    const { data, response } = await request("GET", contentsUrl(this.path), { query: { type: "file", format: "text" } });
    return { content: data.content, etag: response.headers.get("ETag") };
  }

  /** The editor now shows the file as read with `etag`: nothing is unsaved. */
  loaded(etag) {
    this.etag = etag;
    this.dirty = false;
    this.setStatus("saved");
  }
}
