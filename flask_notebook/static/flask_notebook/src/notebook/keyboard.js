// Jupyter's keyboard model. Edit mode: the keys below go to CodeMirror first. Command mode:
// single keys act on the selected cell. `SHORTCUTS` is also what the help dialog lists.

import { cursorAtEdge } from "./editor.js";

export const SHORTCUTS = {
  "Both modes": [
    ["Shift-Enter", "run the cell and select the next one"],
    ["Ctrl-Enter", "run the cell"],
    ["Alt-Enter", "run the cell and insert a new one below"],
    ["Ctrl-S", "save and checkpoint"],
  ],
  "Command mode (Esc)": [
    ["Enter", "edit the selected cell"],
    ["Up / K", "select the cell above"],
    ["Down / J", "select the cell below"],
    ["A", "insert a cell above"],
    ["B", "insert a cell below"],
    ["D, D", "delete the selected cells"],
    ["Z", "undo the last cell deletion (again: the one before)"],
    ["X", "cut the cell"],
    ["C", "copy the cell"],
    ["V", "paste below"],
    ["Shift-V", "paste above"],
    ["Y", "change to code"],
    ["M", "change to Markdown"],
    ["R", "change to raw"],
    ["Ctrl-Shift-Up / Ctrl-Shift-Down", "move the cell up or down"],
    ["O", "hide or show the cell's output"],
    ["I, I", "interrupt the kernel"],
    ["0, 0", "restart the kernel (asks first)"],
    ["H", "show these shortcuts"],
    ["Shift-Up / Shift-K", "extend the selection up (or shrink it)"],
    ["Shift-Down / Shift-J", "extend the selection down (or shrink it)"],
    ["Shift-click", "extend the selection to the cell clicked"],
    ["Ctrl-A", "select all cells"],
    ["Shift-M", "merge the selected cells (one selected: with the cell below)"],
    ["L", "toggle line numbers of the selected cells"],
    ["Shift-L", "toggle line numbers of all cells"],
  ],
  "Edit mode (Enter)": [
    ["Esc", "leave the editor for command mode"],
    ["Tab", "complete from the kernel; indent at a line's start or a selection"],
    ["Enter / Tab, Esc", "accept a completion, close the list"],
    ["Shift-Tab", "help for the name at the cursor (twice: in the pager); dedent at a line's start"],
    ["Up on the first line / Down on the last", "move to the cell above or below"],
    ["Ctrl-Z / Ctrl-Shift-Z", "undo / redo in the cell"],
    ["Ctrl-Shift-minus", "split the cell at the cursor (or around the selected text)"],
  ],
};

const DOUBLE_PRESS_MS = 800;

/**
 * Wire the keys. `actions` are the app's commands that are more than cell operations:
 * save(), interrupt(), restart(), help().
 */
export function installKeyboard(notebook, actions) {
  notebook.cellKeys = (cell) => [
    { key: "Shift-Enter", run: () => (notebook.runActive({ advance: true }), true) },
    { key: "Mod-Enter", run: () => (notebook.runActive(), true) },
    { key: "Alt-Enter", run: () => (notebook.runActive({ insert: true }), true) },
    { key: "Escape", run: () => (notebook.commandMode(), true) },
    { key: "Mod-Shift--", run: () => (notebook.split(cell), true) },
    {
      key: "ArrowUp",
      run: (view) => {
        const index = notebook.cells.indexOf(cell);
        if (index <= 0 || !cursorAtEdge(view, "top")) return false;
        notebook.editCell(notebook.cells[index - 1], "end");
        return true;
      },
    },
    {
      key: "ArrowDown",
      run: (view) => {
        const index = notebook.cells.indexOf(cell);
        if (index >= notebook.cells.length - 1 || !cursorAtEdge(view, "bottom")) return false;
        notebook.editCell(notebook.cells[index + 1], "start");
        return true;
      },
    },
  ];

  let lastKey = null;
  let lastTime = 0;
  const pressedTwice = (key) => {
    const now = Date.now();
    const twice = lastKey === key && now - lastTime < DOUBLE_PRESS_MS;
    lastKey = twice ? null : key;
    lastTime = now;
    return twice;
  };

  // Command mode: the selected cell's frame has focus.
  notebook.container.addEventListener("keydown", (event) => {
    const target = event.target;
    if (!target.classList || !target.classList.contains("nb-cell") || event.isComposing) return;
    const mod = event.ctrlKey || event.metaKey;
    const key = event.key;
    let handled = true;
    if (key === "Enter" && event.shiftKey) notebook.runActive({ advance: true });
    else if (key === "Enter" && mod) notebook.runActive();
    else if (key === "Enter" && event.altKey) notebook.runActive({ insert: true });
    else if (key === "Enter") notebook.editCell();
    else if (mod && event.shiftKey && key === "ArrowUp") notebook.move(-1);
    else if (mod && event.shiftKey && key === "ArrowDown") notebook.move(1);
    // Selection and the operations on several cells (cellops.js).
    else if (mod && !event.shiftKey && key.toLowerCase() === "a") notebook.selectAll();
    else if (mod || event.altKey) handled = false;
    else if (event.shiftKey && (key === "ArrowUp" || key === "K")) notebook.select(notebook.active - 1, { extend: true });
    else if (event.shiftKey && (key === "ArrowDown" || key === "J")) notebook.select(notebook.active + 1, { extend: true });
    else if (key === "M") notebook.merge();
    else if (key === "l") notebook.toggleLineNumbers();
    else if (key === "L") notebook.toggleLineNumbers({ all: true });
    else if (key === "ArrowUp" || key === "k") notebook.select(notebook.active - 1);
    else if (key === "ArrowDown" || key === "j") notebook.select(notebook.active + 1);
    else if (key === "a") notebook.insert("above");
    else if (key === "b") notebook.insert("below");
    else if (key === "d") { if (pressedTwice("d")) notebook.deleteCells(); }
    else if (key === "z") notebook.undoDelete();
    else if (key === "x") notebook.cut();
    else if (key === "c") notebook.copy();
    else if (key === "v") notebook.paste("below");
    else if (key === "V") notebook.paste("above");
    else if (key === "y") notebook.changeType("code");
    else if (key === "m") notebook.changeType("markdown");
    else if (key === "r") notebook.changeType("raw");
    else if (key === "o") notebook.activeCell.toggleOutputs();
    else if (key === "i") { if (pressedTwice("i")) actions.interrupt(); }
    else if (key === "0") { if (pressedTwice("0")) actions.restart(); }
    else if (key === "h") actions.help();
    else handled = false;
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  });

  // Ctrl-S anywhere on the page saves, never the browser's "Save page as".
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
      event.preventDefault();
      actions.save();
    }
  });
}
