// The Help menu: the keyboard shortcuts dialog, links to documentation, and the kernel's own
// help links (its kernel_info_reply's `help_links`: ipykernel gives Python, IPython, NumPy...).
// Links open in a new tab, without access back to this page (rel=noopener).

import { apiUrl } from "../../js/api.js";
import { el } from "../../js/dialogs.js";
import { SHORTCUTS } from "./keyboard.js";

/** The Help menu's fixed links: [label, url]. */
export function docLinks() {
  return [
    ["flask-notebook REST API (OpenAPI)", apiUrl("spec.yaml")],
    ["Jupyter Notebook documentation", "https://jupyter-notebook.readthedocs.io/en/stable/"],
    ["Jupyter Notebook shortcuts", "https://jupyter-notebook.readthedocs.io/en/stable/notebook.html#keyboard-shortcuts"],
    ["Markdown in notebooks", "https://jupyter-notebook.readthedocs.io/en/stable/examples/Notebook/Working%20With%20Markdown%20Cells.html"],
  ];
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/**
 * Keep the Help menu's kernel section in step with `kernel.info`: its help links under a
 * "<language> kernel" separator. Call again whenever the kernel may have changed.
 */
export function showKernelHelp(kernel) {
  const popup = document.querySelector('.nb-menubar [role=menu][aria-label="Help"]');
  if (!popup) return;
  const links = (kernel && kernel.info && Array.isArray(kernel.info.help_links)) ? kernel.info.help_links : [];
  const key = JSON.stringify(links);
  if (popup.dataset.kernelLinks === key) return;
  popup.dataset.kernelLinks = key;
  for (const node of popup.querySelectorAll(".nb-kernel-help")) node.remove();
  const usable = links.map((link) => [String(link.text || link.url || ""), safeUrl(link.url)]).filter(([text, url]) => text && url);
  if (!usable.length) return;
  popup.append(el("div", { role: "separator", className: "nb-menu-sep nb-kernel-help" }));
  const button = popup.parentElement.querySelector(".nb-menu-button");
  for (const [text, url] of usable) {
    const link = el("a", {
      role: "menuitem", tabIndex: -1, className: "nb-kernel-help", href: url, target: "_blank", rel: "noopener",
      dataset: { action: "kernel-help" },
    }, el("span", {}, text));
    link.addEventListener("click", () => { if (!popup.hidden && button) button.click(); }); // the menu closes
    popup.append(link);
  }
}

/** The keyboard shortcuts dialog: one table per mode, keys in a column; it scrolls inside
 *  and is never taller than the window. `onClose` runs after it closes. */
export function showShortcuts(onClose) {
  const sections = Object.entries(SHORTCUTS).map(([title, rows]) =>
    el("section", {},
      el("h3", {}, title),
      el("table", { className: "nb-shortcuts" },
        el("tbody", {}, ...rows.map(([keys, what]) => el("tr", {}, el("th", { scope: "row" }, el("kbd", {}, keys)), el("td", {}, what)))))));
  const close = el("button", { type: "submit", className: "nb-primary" }, "Close");
  const dialog = el("dialog", { className: "nb-dialog nb-help", "aria-labelledby": "nb-help-title" },
    el("form", { method: "dialog", className: "nb-help-form" },
      el("h2", { id: "nb-help-title" }, "Keyboard shortcuts"),
      el("div", { className: "nb-help-body", tabIndex: 0, role: "region", "aria-label": "Shortcuts" }, ...sections),
      el("div", { className: "nb-dialog-buttons" }, close)));
  document.body.append(dialog);
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (onClose) onClose();
  });
  dialog.showModal();
  close.focus();
}
