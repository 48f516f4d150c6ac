// What the page learns from its kernel beyond the status line: a notice when the kernel dies
// (it stays until dismissed, with the cause the server gives and a Restart button), and the
// kernel's language_info, saved into the notebook's metadata as Jupyter does.

import { el } from "../../js/dialogs.js";

/** JSON with sorted keys: two language_info objects are the same whatever their key order. */
function stable(value) {
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stable(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** metadata.language_info = the reply's whole language_info. Replacing a different one is a
 *  change (the notebook becomes unsaved); filling in a missing one is not, so opening a
 *  notebook does not make it "unsaved" (it goes in with the next save: an edit, a run's,
 *  Ctrl-S); the same one again changes nothing. */
export function adoptLanguageInfo(notebook, info) {
  const languageInfo = info && info.language_info;
  if (!languageInfo || typeof languageInfo !== "object") return;
  const current = notebook.metadata.language_info;
  if (stable(current) === stable(languageInfo)) return;
  // Filling in what the notebook already said (the file browser writes `{name}` into a new
  // notebook) is no change of the person's: it goes with the next save. A different value is.
  const fillsIn = !current || (typeof current === "object"
    && Object.entries(current).every(([key, value]) => stable(value) === stable(languageInfo[key])));
  notebook.metadata.language_info = structuredClone(languageInfo);
  if (!fillsIn) notebook.changed();
}

/**
 * The kernel-died notice, placed after `after` (in the header). `restart()` restarts (or replaces) the kernel;
 * `done()` is called when it is dismissed (focus goes back to the notebook).
 */
export class KernelNotice {
  constructor(after, { restart, done }) {
    this.message = el("p", { className: "nb-kernel-notice-text" });
    const title = el("strong", { id: "nb-kernel-notice-title" }, "The kernel died");
    this.restartButton = el("button", { type: "button", className: "nb-primary", onclick: () => this.dismiss(restart) }, "Restart kernel");
    const dismiss = el("button", { type: "button", onclick: () => this.dismiss(done) }, "Dismiss");
    this.element = el("div", { className: "nb-kernel-notice", role: "alert", "aria-labelledby": "nb-kernel-notice-title", hidden: true },
      title, this.message, el("div", { className: "nb-kernel-notice-buttons" }, this.restartButton, dismiss));
    after.after(this.element);
  }

  /** Kernel status changes: "dead", or "restarting" with a reason (the server restarted a kernel
   *  that died; a restart someone asked for has none). */
  status(status, reason) {
    if (status === "dead") this.show(reason || "The kernel died and could not be restarted.");
    else if (status === "restarting" && reason) this.show(reason);
  }

  show(reason) {
    this.message.textContent = /[.!]$/.test(reason) ? reason : `${reason}.`;
    this.element.hidden = false;
  }

  get shown() {
    return !this.element.hidden;
  }

  dismiss(then) {
    this.element.hidden = true;
    if (then) then();
  }
}
