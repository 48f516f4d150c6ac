// The notebook: its cells, the selected cell, command and edit mode, and every cell operation
// the toolbar, the menus and the keyboard share (insert, delete, move, copy, run...).

import { Cell } from "./cells.js";
import { Displays } from "./outputs.js";

export class Notebook extends EventTarget {
  /** `container` gets the cells; `kernel` and `runner` (runs cells) are set later (main.js). */
  constructor(container, { resolveImage }) {
    super();
    this.container = container;
    this.cells = [];
    this.active = 0;
    this.mode = "command";
    this.kernel = null;
    this.runner = null;
    /** Changes made inside quietly() are not the person's: they do not make the page dirty. */
    this.quiet = 0;
    /** Cells loaded without an id got one here: the file needs a save before a run names them. */
    this.unsavedIds = false;
    this.clipboard = [];
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
    };
    container.addEventListener("mousedown", (event) => {
      const element = event.target.closest(".nb-cell");
      if (element && element.cell && !event.target.closest(".cm-editor, input, .nb-widget")) {
        this.select(this.cells.indexOf(element.cell));
      }
    });
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

  select(index, { focus = true } = {}) {
    if (!this.cells.length) return;
    index = Math.max(0, Math.min(index, this.cells.length - 1));
    const previous = this.activeCell;
    if (previous) {
      previous.element.classList.remove("nb-selected", "nb-editing");
      previous.element.tabIndex = -1;
    }
    this.active = index;
    const cell = this.activeCell;
    cell.element.classList.add("nb-selected");
    cell.element.tabIndex = 0;
    if (focus) this.commandMode();
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
    if (index !== this.active) this.select(index, { focus: false });
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

  deleteCells() {
    if (!this.cells.length) return;
    const index = this.active;
    const [cell] = this.cells.splice(index, 1);
    this.deleted.push({ index, model: cell.toJSON() });
    cell.element.remove();
    cell.destroy();
    if (!this.cells.length) this.insertModel(0, { cell_type: "code", source: "" }, false);
    this.renumber();
    this.select(Math.min(index, this.cells.length - 1));
    this.changed();
  }

  undoDelete() {
    const entry = this.deleted.pop();
    if (!entry) return;
    const index = Math.min(entry.index, this.cells.length);
    this.insertModel(index, entry.model);
    this.select(index);
  }

  move(delta) {
    const from = this.active;
    const to = from + delta;
    if (to < 0 || to >= this.cells.length) return;
    const [cell] = this.cells.splice(from, 1);
    this.cells.splice(to, 0, cell);
    const reference = delta < 0 ? this.cells[to + 1].element : this.cells[to - 1].element.nextSibling;
    this.container.insertBefore(cell.element, reference);
    this.active = to;
    this.renumber();
    this.select(to);
    this.changed();
  }

  copy() {
    this.clipboard = [this.activeCell.toJSON()];
  }

  cut() {
    this.copy();
    this.deleteCells();
  }

  paste(where = "below") {
    if (!this.clipboard.length) return;
    let index = where === "above" ? this.active : this.active + 1;
    for (const model of this.clipboard) {
      const { id: _id, ...rest } = model; // a pasted cell is a new cell, with a new id
      this.insertModel(index, structuredClone(rest));
      index += 1;
    }
    this.select(index - 1);
  }

  changeType(type) {
    const cell = this.activeCell;
    if (cell.type === type) return;
    cell.setType(type);
    this.changed();
    this.dispatchEvent(new Event("select"));
  }

  clearOutputs(cells = [this.activeCell]) {
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

  runActive({ advance = false, insert = false } = {}) {
    this.runCells([this.activeCell]);
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
