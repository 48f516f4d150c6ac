// What the page learns from its kernel beyond the status line: a notice when the kernel dies
// (it stays until dismissed, with the cause the server gives, and a Restart button when the kernel
// stays dead), and the
// kernel's language_info, saved into the notebook's metadata as Jupyter does.

import { el } from "../../js/dialogs.js";
import { SHUT_DOWN } from "./kernel.js";

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
 * `done()` is called when it is dismissed (focus goes back to the notebook). One notice says it
 * all: when the server restarted the kernel it only tells (Dismiss); a Restart button is offered
 * only while the kernel is dead and nothing restarts it.
 */
export class KernelNotice {
  constructor(after, { restart, done }) {
    this.message = el("p", { className: "nb-kernel-notice-text" });
    this.title = el("strong", { id: "nb-kernel-notice-title" }, "The kernel died");
    this.restartButton = el("button", { type: "button", className: "nb-primary", onclick: () => this.dismiss(restart) }, "Restart kernel");
    const dismiss = el("button", { type: "button", onclick: () => this.dismiss(done) }, "Dismiss");
    this.element = el("div", { className: "nb-kernel-notice", role: "alert", "aria-labelledby": "nb-kernel-notice-title", hidden: true },
      this.title, this.message, el("div", { className: "nb-kernel-notice-buttons" }, this.restartButton, dismiss));
    after.after(this.element);
  }

  /** Kernel status changes: "dead", or "restarting" with a reason (the server restarted a kernel
   *  that died; a restart someone asked for has none). */
  status(status, reason) {
    if (status === "dead" && reason === SHUT_DOWN) this.show("Restart it to run code again", { dead: true, title: "The kernel was shut down" });
    else if (status === "dead") this.show(reason || "The kernel died and could not be restarted.", { dead: true });
    else if (status === "restarting" && reason) this.show(reason, { dead: false });
  }

  /** A run ended because its kernel died or restarted (`reason`, the run's DeadKernelError):
   *  the notice says it, once; `dead` is whether the kernel is dead now. Shown already (the
   *  kernel's own status came first): kept as it is; a status coming later refines it. */
  lost(reason, { dead }) {
    if (this.shown || reason === this.reason) return; // said already (and maybe dismissed)
    this.show(reason, { dead, title: dead ? null : "The run's kernel stopped" });
  }

  show(reason, { dead, title = null }) {
    this.reason = reason;
    this.message.textContent = /[.!]$/.test(reason) ? reason : `${reason}.`;
    this.title.textContent = title || (dead ? "The kernel died" : "The kernel died and was restarted");
    this.restartButton.hidden = !dead;
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
