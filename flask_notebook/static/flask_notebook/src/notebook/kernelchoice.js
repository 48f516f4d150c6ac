// A notebook whose kernel is not installed here (POST /api/sessions answered 501): ask which
// kernel to start, as Notebook 7 does, rather than start the default one unasked. The
// installed kernelspecs are offered (the server's default first chosen) and "No kernel",
// which leaves the notebook without one (it can be edited and saved; its kernelspec stays).

import { el, removeDialog, submitOnEnterInSelects } from "../../js/dialogs.js";

let counter = 0;

/**
 * Ask for a kernel in place of `missing` ({name, display_name} of the notebook's kernelspec).
 * `kernelspecs` is /api/kernelspecs' answer. Resolves to a kernelspec name, or null for
 * "No kernel" (also Esc). Focus goes back where it was.
 */
export function chooseKernel(missing, kernelspecs) {
  const previous = document.activeElement;
  const id = `nb-kernel-choice-${++counter}`;
  const specs = Object.entries((kernelspecs && kernelspecs.kernelspecs) || {})
    .sort(([, a], [, b]) => a.spec.display_name.localeCompare(b.spec.display_name));
  const fallback = kernelspecs && kernelspecs.default;
  const wanted = (missing && (missing.display_name || missing.name)) || "unknown";
  const select = el("select", { id: `${id}-select` },
    ...specs.map(([name, spec]) => el("option", { value: name, selected: name === fallback }, spec.spec.display_name)),
    el("option", { value: "" }, "No kernel"));
  const dialog = el("dialog", { className: "nb-dialog nb-kernel-choice", "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-text` });
  const noKernel = el("button", { type: "button", onclick: () => dialog.close("") }, "No kernel");
  const form = el("form", { method: "dialog" },
    el("h2", { id: `${id}-title` }, "Select a kernel"),
    el("p", { id: `${id}-text` }, `This notebook's kernel \u201c${wanted}\u201d is not available here. `
      + "Choose the kernel to start, or work without one."),
    el("label", { htmlFor: select.id }, "Kernel"), select,
    el("div", { className: "nb-dialog-buttons" },
      noKernel,
      el("button", { type: "submit", className: "nb-primary", value: "select" }, "Select")));
  submitOnEnterInSelects(form);
  dialog.append(form);
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const choice = dialog.returnValue === "select" && select.value ? select.value : null;
      removeDialog(dialog, previous);
      resolve(choice);
    }, { once: true });
    dialog.showModal();
    select.focus();
  });
}
