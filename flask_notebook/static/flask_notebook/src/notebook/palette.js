// The command palette (Ctrl-Shift-C, Edit > Command palette…): every menu action by name, with
// its shortcut, filtered as you type; arrows choose, Enter runs, Esc closes. It is built from
// the menus themselves (the menubar's [role^=menuitem] entries, their labels and <kbd>s) and
// runs an action by clicking its menu item, so whatever the menus offer, it offers.
// Small (3 KB minified), so part of the page's bundle: a chunk loaded on Ctrl-Shift-C would
// let the keys typed meanwhile reach the cell that had focus.

import { el, removeDialog } from "../../js/dialogs.js";

/** The menus' items: { menu, label, keys, item } in menu order. */
export function menuCommands(root = document) {
  const commands = [];
  for (const item of root.querySelectorAll(".nb-menubar [role=menu] [role^=menuitem]:not([hidden])")) {
    const menu = item.closest("[role=menu]").getAttribute("aria-label") || "";
    const labelNode = item.querySelector("span") || item;
    const label = labelNode.textContent.trim();
    const kbd = item.querySelector("kbd");
    if (label && item.dataset.action !== "palette") commands.push({ menu, label, keys: kbd ? kbd.textContent.trim() : "", item });
  }
  return commands;
}

/** How well `text` matches `query`: a substring scores best (earlier is better), then the
 *  query's characters in order (fuzzy); null when it does not match at all. */
export function score(text, query) {
  const haystack = text.toLowerCase();
  const needle = query.toLowerCase().trim();
  if (!needle) return 0;
  const at = haystack.indexOf(needle);
  if (at >= 0) return at;
  let position = 0;
  let gaps = 0;
  for (const char of needle) {
    if (char === " ") continue;
    const found = haystack.indexOf(char, position);
    if (found < 0) return null;
    gaps += found - position;
    position = found + 1;
  }
  return 1000 + gaps;
}

let counter = 0;

/** Open the palette. Resolves when it closes (after the chosen action started). */
export function openPalette() {
  const previous = document.activeElement;
  const id = `nb-palette-${++counter}`;
  const commands = menuCommands();
  const input = el("input", {
    type: "text", className: "nb-palette-filter", role: "combobox", "aria-label": "Command",
    "aria-expanded": "true", "aria-controls": `${id}-list`, "aria-autocomplete": "list",
    placeholder: "Type a command", autocomplete: "off", spellcheck: false,
  });
  const list = el("ul", { className: "nb-palette-list", role: "listbox", id: `${id}-list`, "aria-label": "Commands" });
  const empty = el("p", { className: "nb-palette-empty", hidden: true }, "No command matches.");
  const dialog = el("dialog", { className: "nb-dialog nb-palette", "aria-label": "Command palette" }, input, list, empty);
  document.body.append(dialog);

  let shown = [];
  let active = 0;
  const options = commands.map((command, i) => {
    const option = el("li", { role: "option", id: `${id}-${i}`, className: "nb-palette-option", "aria-selected": "false" },
      el("span", { className: "nb-palette-menu" }, command.menu),
      el("span", { className: "nb-palette-label" }, command.label),
      command.keys ? el("kbd", {}, command.keys) : null);
    option.addEventListener("mousedown", (event) => event.preventDefault()); // keep focus in the field
    option.addEventListener("click", () => run(command));
    return option;
  });

  const highlight = (index) => {
    if (!shown.length) {
      input.removeAttribute("aria-activedescendant");
      return;
    }
    active = (index + shown.length) % shown.length;
    shown.forEach(({ option }, i) => option.setAttribute("aria-selected", String(i === active)));
    input.setAttribute("aria-activedescendant", shown[active].option.id);
    shown[active].option.scrollIntoView({ block: "nearest" });
  };

  const filter = () => {
    const query = input.value;
    // The label's own match first ("run" finds "Run all cells" before "Restart and run all").
    const rank = (command) => {
      const own = score(command.label, query);
      if (own !== null && own < 1000) return own;
      const withMenu = score(`${command.menu} ${command.label}`, query);
      if (withMenu !== null && withMenu < 1000) return 500 + withMenu;
      return own ?? withMenu;
    };
    shown = commands
      .map((command, i) => ({ command, option: options[i], score: rank(command) }))
      .filter(({ score: s }) => s !== null)
      .sort((a, b) => a.score - b.score);
    list.replaceChildren(...shown.map(({ option }) => option));
    empty.hidden = shown.length > 0;
    highlight(0);
  };

  let chosen = null;
  const run = (command) => {
    chosen = command;
    dialog.close();
  };

  input.addEventListener("input", filter);
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") highlight(active + 1);
    else if (event.key === "ArrowUp") highlight(active - 1);
    else if (event.key === "PageDown") highlight(Math.min(active + 8, shown.length - 1));
    else if (event.key === "PageUp") highlight(Math.max(active - 8, 0));
    else if (event.key === "Enter") {
      if (shown[active]) run(shown[active].command);
    } else return;
    event.preventDefault();
  });

  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      removeDialog(dialog, previous);
      // Run it as its menu item would be: the item's own click (after focus is back).
      if (chosen) chosen.item.click();
      resolve(chosen ? chosen.label : null);
    }, { once: true });
    filter();
    dialog.showModal();
    input.focus();
  });
}
