// Modal dialogs on the native <dialog> element (focus is trapped by showModal, Esc cancels),
// and toasts for short messages. Text always goes in with textContent.

/** Build an element: el("button", { className: "x", type: "button" }, "text", child...). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

let dialogCount = 0;

/**
 * Remove a dialog once closed (from its "close" event), and put the focus back on `previous`
 * (where it was when the dialog opened) unless it has gone somewhere else since. The event
 * comes a task after the dialog closed, and the browser may run a key pressed in between
 * first: Enter on the cell the focus went back to, which starts editing it. Taking the focus
 * back then would lose that keystroke.
 */
export function removeDialog(dialog, previous) {
  const active = document.activeElement;
  const moved = active && active !== document.body && !dialog.contains(active) && active !== previous;
  dialog.remove();
  if (!moved && previous && previous.isConnected && typeof previous.focus === "function") previous.focus();
}

/**
 * Show a modal dialog and resolve to what `onSubmit` returns, or null when cancelled
 * (exported for dialogs with fields of their own, like the notebook's Run with parameters).
 * `body` is an array of nodes; `onSubmit` may throw (or return a rejected promise) with a
 * message to show inside the dialog and keep it open.
 */
export function openDialog({ title, body, confirmLabel, confirmClass = "nb-primary", onSubmit, initialFocus, className = "" }) {
  const previous = document.activeElement;
  const id = `nb-dialog-${++dialogCount}`;
  const error = el("p", { className: "nb-dialog-error", role: "alert" });
  const confirm = el("button", { type: "submit", className: confirmClass }, confirmLabel);
  const cancel = el("button", { type: "button", value: "cancel" }, "Cancel");
  const form = el("form", { method: "dialog" },
    el("h2", { id: `${id}-title` }, title),
    ...body,
    error,
    el("div", { className: "nb-dialog-buttons" }, cancel, confirm));
  const dialog = el("dialog", { className: `nb-dialog ${className}`.trim(), "aria-labelledby": `${id}-title` }, form);
  document.body.append(dialog);
  return new Promise((resolve) => {
    let result = null;
    const finish = () => {
      removeDialog(dialog, previous);
      resolve(result);
    };
    dialog.addEventListener("close", finish, { once: true });
    cancel.addEventListener("click", () => dialog.close());
    submitOnEnterInSelects(form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      confirm.disabled = true;
      error.textContent = "";
      try {
        result = await onSubmit();
        dialog.close();
      } catch (problem) {
        error.textContent = problem && problem.message ? problem.message : String(problem);
        confirm.disabled = false;
      }
    });
    dialog.showModal();
    (initialFocus || confirm).focus();
  });
}

/** Enter in a <select> of `form` submits it, as Enter in a text field does (browsers do not):
 *  a dialog whose choice is a list is confirmed from the keyboard. */
export function submitOnEnterInSelects(form) {
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target instanceof HTMLSelectElement && !event.isComposing) {
      event.preventDefault();
      // Through the form's submit button: a method="dialog" form returns its value.
      form.requestSubmit(form.querySelector('button[type="submit"]'));
    }
  });
}

/** Ask a yes/no question; resolves to true when confirmed. */
export async function confirmDialog({ title, message, confirmLabel = "OK", danger = false }) {
  const result = await openDialog({
    title,
    body: [el("p", {}, message)],
    confirmLabel,
    confirmClass: danger ? "nb-danger" : "nb-primary",
    onSubmit: () => true,
  });
  return result === true;
}

/**
 * Ask for a line of text. `select` is [start, end] of the initial selection (e.g. the name
 * without its extension). `submit(value)` does the work and may throw to keep the dialog open;
 * resolves to its result, or null when cancelled.
 */
export function promptDialog({ title, label, value = "", select, confirmLabel = "OK", submit }) {
  const id = `nb-input-${dialogCount + 1}`;
  const input = el("input", { type: "text", id, value, autocomplete: "off", spellcheck: "false", required: true });
  const promise = openDialog({
    title,
    body: [el("label", { htmlFor: id }, label), input],
    confirmLabel,
    initialFocus: input,
    onSubmit: () => submit(input.value.trim()),
  });
  const [start, end] = select || [0, value.length];
  input.setSelectionRange(start, end);
  return promise;
}

/** Show `message` for a while in the toast area (errors stay until dismissed). */
export function toast(message, { error = false, timeout = 5000 } = {}) {
  const area = document.getElementById("nb-toasts");
  if (!area) return;
  const close = el("button", { type: "button", "aria-label": "Dismiss message" }, "×");
  const item = el("div", { className: `nb-toast${error ? " nb-toast-error" : ""}`, role: error ? "alert" : null },
    el("span", {}, message), close);
  close.addEventListener("click", () => item.remove());
  area.append(item);
  if (!error) setTimeout(() => item.remove(), timeout);
}

/** Report a failed action to the person: "Rename failed: File already exists: b.txt". */
export function showError(action, problem) {
  const detail = problem && problem.message ? problem.message : String(problem);
  toast(`${action} failed: ${detail}`, { error: true });
}
