// The notebook's header bar: its name (click to rename), the save state, the kernel's state,
// the menus (File, Edit, Run, Kernel, Help) and the toolbar. Every control has a name.

import { el } from "../../js/dialogs.js";
import { docLinks } from "./help.js";
import { exportItems, trimExportItems } from "./export.js";

/** A menu button with a popup of items; arrows move, Esc closes, focus returns to the button.
 *  `onOpen(popup)`, if given, runs at each opening (it may hide items). */
function menu(label, items, menus, onOpen = null) {
  const checkable = [];
  const button = el("button", { type: "button", className: "nb-menu-button", "aria-haspopup": "menu", "aria-expanded": "false" }, label);
  const popup = el("div", { className: "nb-menu", role: "menu", "aria-label": label, hidden: true });
  for (const item of items) {
    if (item === "-") {
      popup.append(el("div", { role: "separator", className: "nb-menu-sep" }));
      continue;
    }
    // An item with `href` is a link (opened in a new tab); the others run `run`.
    const entry = item.href
      ? el("a", { role: "menuitem", tabIndex: -1, href: item.href, target: "_blank", rel: "noopener", dataset: { action: item.id } },
        el("span", {}, item.label))
      : el("button", { type: "button", role: itemRole(item), tabIndex: -1, dataset: { action: item.id } },
        el("span", {}, item.label), item.keys ? el("kbd", { "aria-hidden": "true" }, item.keys) : null);
    // An item with a state (`checked()`: a radio among its group, or a checkbox) shows it:
    // aria-checked, and a check mark drawn by CSS.
    if (item.checked) {
      entry.classList.add("nb-menu-checkable");
      checkable.push([entry, item.checked]);
      popup.classList.add("nb-menu-checks");
    }
    entry.addEventListener("click", () => {
      close(false);
      // The focus leaves the hidden menu for the notebook first: a dialog the item opens
      // gives it back there when it closes (it went to the page's body).
      if (!item.href && menus.refocus) menus.refocus();
      if (item.run) item.run();
    });
    popup.append(entry);
  }
  const entries = () => [...popup.querySelectorAll("[role^=menuitem]:not([hidden])")];
  const sync = () => {
    for (const [entry, checked] of checkable) entry.setAttribute("aria-checked", String(Boolean(checked())));
  };
  sync();
  const close = (focusButton = true) => {
    popup.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (focusButton) button.focus();
  };
  const open = () => {
    for (const other of menus) if (other.popup !== popup) other.close(false);
    if (onOpen) onOpen(popup);
    sync();
    popup.hidden = false;
    button.setAttribute("aria-expanded", "true");
    entries()[0].focus();
  };
  button.addEventListener("click", () => (popup.hidden ? open() : close()));
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      open();
    }
  });
  popup.addEventListener("keydown", (event) => {
    const list = entries();
    const index = list.indexOf(document.activeElement);
    if (event.key === "ArrowDown") list[(index + 1) % list.length].focus();
    else if (event.key === "ArrowUp") list[(index - 1 + list.length) % list.length].focus();
    else if (event.key === "Home") list[0].focus();
    else if (event.key === "End") list[list.length - 1].focus();
    else if (event.key === "Escape" || event.key === "Tab") close(event.key === "Escape");
    else return;
    if (event.key !== "Tab") event.preventDefault();
  });
  const wrapper = el("div", { className: "nb-menu-wrapper" }, button, popup);
  const entry = { wrapper, popup, close, sync };
  menus.push(entry);
  return wrapper;
}

/** A menu item's role: "menuitemradio" with `radio`, "menuitemcheckbox" with `checked` alone. */
function itemRole(item) {
  if (!item.checked) return "menuitem";
  return item.radio ? "menuitemradio" : "menuitemcheckbox";
}

// Toolbar icons: our own 16x16 strokes in currentColor (no icon font, no emoji).
const ICONS = {
  save: '<path d="M3 2.5h8l2 2v9H3z"/><path d="M5.5 2.5v3h5v-3M5.5 13.5v-4h5v4"/>',
  plus: '<path d="M8 3v10M3 8h10"/>',
  cut: '<circle cx="4.5" cy="12" r="2"/><circle cx="11.5" cy="12" r="2"/><path d="M5.8 10.4 12 2.5M10.2 10.4 4 2.5"/>',
  copy: '<rect x="5.5" y="5.5" width="8" height="8.5" rx="1"/><path d="M3 11V3.2a1 1 0 0 1 1-1h6"/>',
  paste: '<rect x="3" y="3" width="10" height="11" rx="1"/><path d="M6 3V1.8h4V3M5.5 7.5h5M5.5 10h5"/>',
  up: '<path d="M8 13V3M4 7l4-4 4 4"/>',
  down: '<path d="M8 3v10M4 9l4 4 4-4"/>',
  run: '<path d="M4.5 3v10l8.5-5z" fill="currentColor"/>',
  stop: '<rect x="4" y="4" width="8" height="8" fill="currentColor"/>',
  restart: '<path d="M13 8a5 5 0 1 1-1.6-3.7"/><path d="M13 2.5v3h-3"/>',
  keyboard: '<rect x="1.5" y="4" width="13" height="8" rx="1"/><path d="M4 6.8h1M7 6.8h1M10 6.8h1M5 9.5h6"/>',
};

function icon(name) {
  const span = el("span", { className: "nb-icon", "aria-hidden": "true" });
  span.innerHTML = `<svg viewBox="0 0 16 16" width="16" height="16" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linecap="round" stroke-linejoin="round">${ICONS[name]}</svg>`;
  return span;
}

function toolButton(label, iconName, run, { keys } = {}) {
  const button = el("button", { type: "button", className: "nb-tool", "aria-label": label, title: keys ? `${label} (${keys})` : label },
    icon(iconName));
  button.addEventListener("click", run);
  return button;
}

/** Build the header into `host`; `a` are the app's actions. Returns handles to update. */
export function buildHeader(host, a) {
  const menus = [];
  menus.refocus = a.focusNotebook;
  document.addEventListener("mousedown", (event) => {
    if (!event.target.closest(".nb-menu-wrapper")) for (const m of menus) if (!m.popup.hidden) m.close(false);
  });

  const name = el("button", { type: "button", className: "nb-notebook-name", "aria-label": "Rename notebook", title: "Rename notebook" });
  name.addEventListener("click", a.rename);
  const saveState = el("span", { className: "nb-save-state", role: "status", "aria-live": "polite" });
  const kernelState = el("span", { className: "nb-kernel-state", role: "status", "aria-live": "polite", dataset: { status: "connecting" } });
  const kernelName = el("span", { className: "nb-kernel-name" });
  const titleRow = el("div", { className: "nb-title-row" },
    name, saveState, el("span", { className: "nb-spacer" }),
    el("span", { className: "nb-kernel" }, kernelName, kernelState));

  const menubar = el("div", { className: "nb-menubar", role: "group", "aria-label": "Menus" },
    menu("File", [
      { id: "new", label: "New Notebook", run: a.newNotebook },
      { id: "save", label: "Save and checkpoint", keys: "Ctrl-S", run: a.save },
      { id: "rename", label: "Rename…", run: a.rename },
      { id: "download", label: "Download .ipynb", run: a.download },
      ...exportItems(a.downloadAs), // "Download as" each nbconvert format (export.js)
      { id: "run-parameters", label: "Run with parameters…", run: a.runWithParameters },
      { id: "trust", label: "Trust notebook…", run: a.trust },
      "-",
      { id: "revert", label: "Revert to checkpoint…", run: a.revert },
      { id: "reload", label: "Reload from disk", run: a.reloadFromDisk },
    ], menus, trimExportItems),
    menu("Edit", [
      { id: "cut", label: "Cut cell", keys: "X", run: a.cut },
      { id: "copy", label: "Copy cell", keys: "C", run: a.copy },
      { id: "paste-below", label: "Paste cell below", keys: "V", run: a.pasteBelow },
      { id: "paste-above", label: "Paste cell above", keys: "Shift-V", run: a.pasteAbove },
      { id: "delete", label: "Delete cell", keys: "D, D", run: a.deleteCell },
      { id: "undo-delete", label: "Undo cell deletion", keys: "Z", run: a.undoDelete },
      "-",
      { id: "insert-above", label: "Insert cell above", keys: "A", run: a.insertAbove },
      { id: "insert-below", label: "Insert cell below", keys: "B", run: a.insertBelow },
      { id: "move-up", label: "Move cell up", keys: "Ctrl-Shift-Up", run: a.moveUp },
      { id: "move-down", label: "Move cell down", keys: "Ctrl-Shift-Down", run: a.moveDown },
      "-",
      { id: "select-all", label: "Select all cells", keys: "Ctrl-A", run: a.selectAll },
      { id: "merge", label: "Merge selected cells", keys: "Shift-M", run: a.mergeCells },
      { id: "merge-below", label: "Merge cell with below", run: a.mergeBelow },
      { id: "split", label: "Split cell at cursor", keys: "Ctrl-Shift-minus", run: a.splitCell },
      { id: "line-numbers", label: "Toggle line numbers", keys: "L", run: a.toggleLineNumbers },
      { id: "all-line-numbers", label: "Toggle all line numbers", keys: "Shift-L", run: a.toggleAllLineNumbers },
      "-",
      { id: "to-code", label: "Change to code", keys: "Y", run: () => a.changeType("code") },
      { id: "to-markdown", label: "Change to Markdown", keys: "M", run: () => a.changeType("markdown") },
      { id: "to-raw", label: "Change to raw", keys: "R", run: () => a.changeType("raw") },
      "-",
      { id: "find", label: "Find and replace…", keys: "Ctrl-F", run: a.find },
      { id: "palette", label: "Command palette…", keys: "Ctrl-Shift-C", run: a.palette },
    ], menus),
    menu("Cell", [
      { id: "run", label: "Run selected cell", keys: "Shift-Enter", run: a.run },
      { id: "run-all", label: "Run all cells", run: a.runAll },
      { id: "run-above", label: "Run all above", run: a.runAbove },
      { id: "run-below", label: "Run selected and below", run: a.runBelow },
      "-",
      { id: "clear", label: "Clear cell output", run: a.clearOutput },
      { id: "clear-all", label: "Clear all outputs", run: a.clearAllOutputs },
      "-",
      { id: "run-history", label: "Run history…", run: a.runHistory },
    ], menus),
    menu("Kernel", [
      { id: "interrupt", label: "Interrupt kernel", keys: "I, I", run: a.interrupt },
      { id: "restart", label: "Restart kernel…", keys: "0, 0", run: a.restart },
      { id: "restart-clear", label: "Restart and clear outputs…", run: a.restartClear },
      { id: "restart-run", label: "Restart and run all…", run: a.restartRunAll },
      "-",
      { id: "change-kernel", label: "Change kernel…", run: a.changeKernel },
    ], menus),
    menu("Settings", [
      // The current theme and line-numbers setting are checked (refreshMenus at each change).
      { id: "theme-light", label: "Light theme", radio: true, checked: () => a.settingIs("theme", "light"), run: () => a.setTheme("light") },
      { id: "theme-dark", label: "Dark theme", radio: true, checked: () => a.settingIs("theme", "dark"), run: () => a.setTheme("dark") },
      { id: "theme-system", label: "Theme of the system", radio: true, checked: () => a.settingIs("theme", "system"),
        run: () => a.setTheme("system") },
      "-",
      { id: "line-numbers-default", label: "Line numbers by default", checked: () => a.settingIs("lineNumbers", true),
        run: a.toggleLineNumbersSetting },
      { id: "settings", label: "Settings…", run: a.settings },
    ], menus),
    menu("Help", [
      { id: "shortcuts", label: "Keyboard shortcuts", keys: "H", run: a.help },
      "-",
      ...docLinks().map(([label, href], i) => ({ id: `docs-${i}`, label, href })),
    ], menus));

  const typeSelect = el("select", { className: "nb-cell-type", "aria-label": "Cell type" },
    el("option", { value: "code" }, "Code"),
    el("option", { value: "markdown" }, "Markdown"),
    el("option", { value: "raw" }, "Raw"));
  typeSelect.addEventListener("change", () => a.changeType(typeSelect.value));

  const toolbar = el("div", { className: "nb-toolbar nb-notebook-toolbar", role: "toolbar", "aria-label": "Notebook actions" },
    toolButton("Save", "save", a.save, { keys: "Ctrl-S" }),
    toolButton("Insert cell below", "plus", a.insertBelow, { keys: "B" }),
    el("span", { className: "nb-toolbar-sep", "aria-hidden": "true" }),
    toolButton("Cut cell", "cut", a.cut, { keys: "X" }),
    toolButton("Copy cell", "copy", a.copy, { keys: "C" }),
    toolButton("Paste cell below", "paste", a.pasteBelow, { keys: "V" }),
    el("span", { className: "nb-toolbar-sep", "aria-hidden": "true" }),
    toolButton("Move cell up", "up", a.moveUp, { keys: "Ctrl-Shift-Up" }),
    toolButton("Move cell down", "down", a.moveDown, { keys: "Ctrl-Shift-Down" }),
    el("span", { className: "nb-toolbar-sep", "aria-hidden": "true" }),
    toolButton("Run", "run", a.run, { keys: "Shift-Enter" }),
    toolButton("Interrupt", "stop", a.interrupt, { keys: "I, I" }),
    toolButton("Restart", "restart", a.restart, { keys: "0, 0" }),
    el("span", { className: "nb-toolbar-sep", "aria-hidden": "true" }),
    typeSelect,
    el("span", { className: "nb-toolbar-sep", "aria-hidden": "true" }),
    toolButton("Keyboard shortcuts", "keyboard", a.help, { keys: "H" }));

  // Why the kernel WebSocket cannot connect, when it cannot (main.js fills it in).
  const connectionProblem = el("div", { className: "nb-connection-problem", role: "alert", hidden: true });

  host.append(titleRow, connectionProblem, menubar, toolbar);
  // refreshMenus(): the menus' checked items follow the settings now (settings.js calls it).
  const refreshMenus = () => menus.forEach((m) => m.sync());
  return { name, saveState, kernelState, kernelName, typeSelect, connectionProblem, refreshMenus };
}
