// The notebook: its cells, the selected cells, command and edit mode, and every cell operation
// the toolbar, the menus and the keyboard share (insert, delete, move, copy, run...).
//
// Selection, as Notebook 7: the active cell (`active`, the one with focus) and an anchor cell;
// the selection is every cell from the anchor to the active one. select() moves both,
// select(i, {extend: true}) moves the active end only (Shift-J/K, Shift-click).

import { Cell } from "./cells.js";
import { installDragAndDrop, mergeCells, splitCell } from "./cellops.js";
import { Displays } from "./outputs.js";

export class Notebook extends EventTarget {
  /** `container` gets the cells; `kernel` and `runner` (runs cells) are set later (main.js). */
  constructor(container, { resolveImage }) {
    super();
    this.container = container;
    this.cells = [];
    this.active = 0;
    /** The cell the selection started from (a Cell, so it survives inserts and moves). */
    this.anchor = null;
    /** Cells shown as selected now. */
    this.painted = new Set();
    /** New and loaded cells show line numbers when true (showLineNumbers() without cells). */
    this.lineNumbersDefault = false;
    this.mode = "command";
    this.kernel = null;
    this.runner = null;
    /** Changes made inside quietly() are not the person's: they do not make the page dirty. */
    this.quiet = 0;
    /** Cells loaded without an id got one here: the file needs a save before a run names them. */
    this.unsavedIds = false;
    this.clipboard = [];
    /** Undo stack of deletions: {items: [{index, model}]}, one entry per deletion (Z pops). */
    this.deleted = [];
    this.displays = new Displays();
    this.resolveImage = resolveImage;
    this.metadata = {};
    this.nbformatMinor = 5;
    this.env = {
      cellKeys: (cell) => this.cellKeys(cell),
      changed: () => this.changed(),
      focused: (cell) => this.focusedEditor(cell),
      edit: (cell) => this.editCell(cell),
      displays: this.displays,
      resolveImage: (src, cell) => this.resolveImage(src, cell),
      lineNumbers: () => this.lineNumbersDefault,
      kernel: () => this.kernel,
    };
    container.addEventListener("mousedown", (event) => {
      const element = event.target.closest(".nb-cell");
      if (!element || !element.cell || event.target.closest(".cm-editor, input, .nb-widget")) return;
      // Pressing the drag handle of a selected cell keeps the selection: it is what moves.
      if (event.target.closest(".nb-drag-handle") && this.selectedCells.includes(element.cell)) return;
      if (event.shiftKey) event.preventDefault(); // extend the cell selection, not a text one
      this.select(this.cells.indexOf(element.cell), { extend: event.shiftKey });
    });
    // Shift-click in another cell's editor extends the cell selection too (in the active
    // cell's own editor it selects text); seen before CodeMirror, which would start editing.
    container.addEventListener("mousedown", (event) => {
      const element = event.shiftKey && event.button === 0 && event.target.closest(".nb-cell");
      if (!element || !element.cell || element.cell === this.activeCell || !event.target.closest(".cm-editor")) return;
      event.preventDefault();
      event.stopPropagation();
      this.select(this.cells.indexOf(element.cell), { extend: true });
    }, { capture: true });
    installDragAndDrop(this);
    container.addEventListener("focusin", (event) => {
      const element = event.target.closest(".nb-cell");
      if (element && element.cell && event.target === element) this.commandMode();
    });
  }

  /** Hook for the keyboard module: the keymap of a cell's editor (set by keyboard.js). */
  cellKeys() {
    return [];
  }

  load(content) {
    for (const cell of this.cells) cell.destroy();
    this.container.replaceChildren();
    this.metadata = content.metadata || {};
    this.nbformatMinor = Math.max(content.nbformat_minor || 5, 5);
    this.cells = [];
    this.painted = new Set();
    this.anchor = null;
    this.deleted = []; // deletions from what was shown before do not come back into this
    const cells = content.cells && content.cells.length ? content.cells : [{ cell_type: "code", source: "" }];
    this.unsavedIds = cells.some((cell) => !cell.id);
    for (const model of cells) this.insertModel(this.cells.length, model, false);
    this.renumber();
    this.select(0, { focus: false });
  }

  get trusted() {
    return this.cells.every((cell) => cell.type !== "code" || cell.trusted);
  }

  toJSON() {
    return {
      cells: this.cells.map((cell) => cell.toJSON()),
      metadata: this.metadata,
      nbformat: 4,
      nbformat_minor: this.nbformatMinor,
    };
  }

  changed() {
    if (this.quiet) return;
    this.changes = (this.changes || 0) + 1;
    this.dispatchEvent(new Event("change"));
  }

  /** Apply what the server did (a run's outputs, which it saves itself) without marking the
   *  page as changed. */
  quietly(fn) {
    this.quiet += 1;
    try {
      return fn();
    } finally {
      this.quiet -= 1;
    }
  }

  get activeCell() {
    return this.cells[this.active];
  }

  renumber() {
    this.cells.forEach((cell, i) => cell.setIndex(i));
  }

  insertModel(index, model, announce = true) {
    const cell = new Cell(model, this.env);
    this.cells.splice(index, 0, cell);
    const next = this.container.children[index];
    this.container.insertBefore(cell.element, next || null);
    if (announce) {
      this.renumber();
      this.changed();
    }
    return cell;
  }

  // -- selection and modes ----------------------------------------------------------------

  /** Make cell `index` the active one; `extend` keeps the anchor (a range selection). */
  select(index, { focus = true, extend = false } = {}) {
    if (!this.cells.length) return;
    index = Math.max(0, Math.min(index, this.cells.length - 1));
    const previous = this.activeCell;
    if (previous) previous.element.classList.remove("nb-editing");
    // The one cell in the tab order: the active cell before cells were inserted or removed.
    if (this.tabStop) {
      this.tabStop.element.tabIndex = -1;
      this.tabStop.element.classList.remove("nb-editing");
    }
    if (extend && !this.cells.includes(this.anchor)) this.anchor = previous || null;
    this.active = index;
    const cell = this.activeCell;
    if (!extend || !this.anchor) this.anchor = cell;
    this.paintSelection();
    cell.element.tabIndex = 0;
    this.tabStop = cell;
    if (focus) this.commandMode();
    this.dispatchEvent(new Event("select"));
  }

  /** [first, last] indexes of the selection (inclusive). */
  selectionRange() {
    const anchor = this.cells.indexOf(this.anchor);
    if (anchor < 0) return [this.active, this.active];
    return [Math.min(anchor, this.active), Math.max(anchor, this.active)];
  }

  /** The selected cells, in notebook order. */
  get selectedCells() {
    if (!this.cells.length) return [];
    const [first, last] = this.selectionRange();
    return this.cells.slice(first, last + 1);
  }

  selectAll() {
    this.anchor = this.cells[0];
    this.select(this.cells.length - 1, { extend: true });
  }

  /** Selected cells get the class nb-selected and aria-selected="true", the others lose them. */
  paintSelection() {
    const now = new Set(this.selectedCells);
    for (const cell of this.painted) {
      if (now.has(cell)) continue;
      cell.element.classList.remove("nb-selected");
      cell.element.setAttribute("aria-selected", "false");
    }
    for (const cell of now) {
      cell.element.classList.add("nb-selected");
      cell.element.setAttribute("aria-selected", "true");
    }
    this.painted = now;
  }

  /** Command mode: the selected cell's frame has focus, single keys are commands. */
  commandMode() {
    const cell = this.activeCell;
    this.mode = "command";
    this.container.dataset.mode = "command";
    cell.element.classList.remove("nb-editing");
    if (cell.type === "markdown" && !cell.isRendered && cell.source.trim()) cell.render();
    if (document.activeElement !== cell.element) {
      cell.element.focus({ preventScroll: true });
      cell.element.scrollIntoView({ block: "nearest" });
    }
  }

  /** Edit mode: the selected cell's editor has focus. */
  editCell(cell = this.activeCell, at = "end") {
    const index = this.cells.indexOf(cell);
    if (index !== this.active) this.select(index, { focus: false });
    cell.isRendered = false;
    cell.focusEditor(at);
  }

  focusedEditor(cell) {
    const index = this.cells.indexOf(cell);
    // Editing a cell leaves only that cell selected.
    if (index !== this.active || this.anchor !== cell) this.select(index, { focus: false });
    this.mode = "edit";
    this.container.dataset.mode = "edit";
    cell.element.classList.add("nb-editing");
    cell.isRendered = false;
  }

  // -- structure ---------------------------------------------------------------------------

  insert(where, type = "code") {
    const index = where === "above" ? this.active : this.active + 1;
    this.insertModel(index, { cell_type: type, source: "" });
    this.select(index);
    return this.cells[index];
  }

  /** Delete `cells` (the selection): one step of the undo stack. */
  deleteCells(cells = this.selectedCells) {
    const indexes = cells.map((cell) => this.cells.indexOf(cell)).filter((i) => i >= 0).sort((a, b) => a - b);
    if (!indexes.length) return;
    const items = indexes.map((index) => ({ index, model: this.cells[index].toJSON() }));
    for (const index of [...indexes].reverse()) this.removeAt(index);
    this.deleted.push({ items });
    if (!this.cells.length) this.insertModel(0, { cell_type: "code", source: "" }, false);
    this.renumber();
    this.select(Math.min(indexes[0], this.cells.length - 1));
    this.changed();
  }

  /** Take cell `index` out of the notebook (no undo entry, no change event). */
  removeAt(index) {
    const [cell] = this.cells.splice(index, 1);
    cell.element.remove();
    cell.destroy();
    this.painted.delete(cell);
    return cell;
  }

  /** Restore the last deletion (all its cells, at their positions, selected); Z again
   *  restores the one before. */
  undoDelete() {
    const entry = this.deleted.pop();
    if (!entry) return;
    const placed = [];
    for (const { index, model } of entry.items) {
      const at = Math.min(index, this.cells.length);
      // A cell with this id exists again (restored through another way): this one is new.
      const { id, ...rest } = model;
      const restored = this.cells.some((cell) => cell.id === id) ? rest : model;
      placed.push(this.insertModel(at, structuredClone(restored), false));
    }
    this.renumber();
    this.anchor = placed[0];
    this.select(this.cells.indexOf(placed[placed.length - 1]), { extend: true });
    this.changed();
  }

  /** Move the selected cells up (delta -1) or down (+1) as a block. */
  move(delta) {
    const [first, last] = this.selectionRange();
    if (first + delta < 0 || last + delta >= this.cells.length) return;
    this.moveSelectionTo(first + delta);
  }

  /** Move the selected cells so the first is at `to` among the others (drag and drop too). */
  moveSelectionTo(to) {
    const block = this.selectedCells;
    const active = this.activeCell;
    const rest = this.cells.filter((cell) => !block.includes(cell));
    to = Math.max(0, Math.min(to, rest.length));
    const reordered = [...rest.slice(0, to), ...block, ...rest.slice(to)];
    if (reordered.every((cell, i) => cell === this.cells[i])) return;
    this.cells = reordered;
    const reference = rest[to] ? rest[to].element : null;
    for (const cell of block) this.container.insertBefore(cell.element, reference);
    this.renumber();
    this.select(this.cells.indexOf(active), { extend: true });
    this.changed();
  }

  copy() {
    this.clipboard = this.selectedCells.map((cell) => cell.toJSON());
  }

  cut() {
    this.copy();
    this.deleteCells();
  }

  paste(where = "below") {
    if (!this.clipboard.length) return;
    const [first, last] = this.selectionRange();
    let index = where === "above" ? first : last + 1;
    for (const model of this.clipboard) {
      const { id: _id, ...rest } = model; // a pasted cell is a new cell, with a new id
      this.insertModel(index, structuredClone(rest));
      index += 1;
    }
    this.select(index - 1);
  }

  changeType(type) {
    const cells = this.selectedCells.filter((cell) => cell.type !== type);
    if (!cells.length) return;
    for (const cell of cells) cell.setType(type);
    this.changed();
    this.dispatchEvent(new Event("select"));
  }

  /** Merge the selected cells into the first (one selected: with the cell below). */
  merge() {
    mergeCells(this);
  }

  /** Merge the active cell with the one below. */
  mergeBelow() {
    mergeCells(this, [this.activeCell, this.cells[this.active + 1]]);
  }

  /** Split `cell` at its editor's cursor (or around its selected text). */
  split(cell = this.activeCell) {
    splitCell(this, cell);
  }

  /** Line numbers on or off in `cells`; without cells, in all, and for new cells too (the
   *  per-user "line numbers by default" setting calls this). */
  showLineNumbers(on, cells = null) {
    if (!cells) {
      this.lineNumbersDefault = on;
      cells = this.cells;
    }
    for (const cell of cells) cell.setLineNumbers(on);
  }

  /** L: the selected cells' line numbers; Shift-L (all): every cell's, as Notebook 7. */
  toggleLineNumbers({ all = false } = {}) {
    const on = !this.activeCell.lineNumbers;
    this.showLineNumbers(on, all ? null : this.selectedCells);
  }

  clearOutputs(cells = this.selectedCells) {
    for (const cell of cells) {
      if (cell.type !== "code") continue;
      cell.outputs.clear();
      cell.executionCount = null;
      cell.updatePrompt();
    }
    this.changed();
  }

  // -- running -----------------------------------------------------------------------------

  /**
   * Run cells: Markdown renders here; code cells with source go to `this.runner` (main.js:
   * a run on the server, runs.js) in one run; an empty code cell just loses its outputs.
   */
  runCells(cells) {
    const code = [];
    for (const cell of cells) {
      if (cell.type === "markdown") cell.render();
      if (cell.type !== "code") continue;
      if (cell.source.trim()) {
        code.push(cell);
      } else if (cell.outputs.outputs.length || cell.executionCount !== null) {
        cell.outputs.clear();
        cell.executionCount = null;
        cell.updatePrompt();
        this.changed();
      }
    }
    if (code.length && this.runner) this.runner(code);
  }

  /** Run the selected cells (Shift-Enter, Ctrl-Enter, Alt-Enter). */
  runActive({ advance = false, insert = false } = {}) {
    const cells = this.selectedCells;
    this.runCells(cells);
    if (advance || insert) this.select(this.cells.indexOf(cells[cells.length - 1]), { focus: false });
    if (insert) {
      this.insert("below");
      this.editCell(this.activeCell);
    } else if (advance) {
      if (this.active === this.cells.length - 1) {
        this.insert("below");
        this.editCell(this.activeCell);
      } else {
        this.select(this.active + 1);
      }
    } else {
      this.commandMode();
    }
  }

  runRange(start, end) {
    this.runCells(this.cells.slice(start, end));
  }

  runAll() {
    this.runRange(0, this.cells.length);
  }

  runAbove() {
    this.runRange(0, this.active);
  }

  runBelow() {
    this.runRange(this.active, this.cells.length);
  }

  /** After a restart, nothing is running any more. */
  resetRunning() {
    for (const cell of this.cells) {
      if (cell.running || cell.queued) {
        cell.running = cell.queued = false;
        cell.updatePrompt();
      }
    }
  }
}
