// Cell operations beyond one cell at a time, as Notebook 7 has them: merge (Shift-M), split
// at the cursor (Ctrl-Shift-minus) and drag-and-drop reordering of the selected cells by the
// handle in each cell's gutter. notebook.js calls these; they change the notebook only through
// its own methods (insertModel, removeAt, select, moveSelectionTo) and end with changed(), so
// saving sees every change and runs still find their cells by id.

const DRAG_TYPE = "application/x-flask-notebook-cells";

function clearOutputs(cell) {
  if (cell.type !== "code") return;
  cell.outputs.clear();
  cell.executionCount = null;
  cell.updatePrompt();
}

/**
 * Merge `cells` (default: the selection; one selected cell merges with the cell below) into
 * the first of them: its type and id stay, sources are joined with a blank line between, a
 * code cell's outputs are cleared, Markdown attachments are kept.
 */
export function mergeCells(nb, cells = nb.selectedCells) {
  cells = cells.filter(Boolean);
  if (cells.length === 1) {
    const below = nb.cells[nb.cells.indexOf(cells[0]) + 1];
    if (!below) return;
    cells = [cells[0], below];
  }
  if (cells.length < 2) return;
  const [first, ...rest] = cells;
  const source = cells.map((cell) => cell.source).join("\n\n");
  const attachments = Object.assign({}, ...cells.map((cell) => cell.attachments || {}));
  for (const cell of rest) nb.removeAt(nb.cells.indexOf(cell));
  first.source = source;
  if (first.type !== "code" && Object.keys(attachments).length) first.attachments = attachments;
  clearOutputs(first);
  first.isRendered = false;
  nb.renumber();
  nb.select(nb.cells.indexOf(first));
  nb.changed();
}

/** Text without the newlines at its start and end (what a split leaves at the cut). */
function trimNewlines(text) {
  return text.replace(/^\n+/, "").replace(/\n+$/, "");
}

/**
 * Split `cell` at its editor's cursor into two cells, or around its selected text into three
 * (before, selection, after), all of its type; the first keeps the cell's id. Outputs are
 * cleared (the code they came from is no longer one cell). The edit goes on in the second.
 */
export function splitCell(nb, cell) {
  const index = nb.cells.indexOf(cell);
  if (index < 0) return;
  const { state } = cell.editor.view;
  const text = state.doc.toString();
  const { from, to } = state.selection.main;
  const cuts = from === to ? [0, from, text.length] : [0, from, to, text.length];
  const pieces = cuts.slice(0, -1).map((start, i) => trimNewlines(text.slice(start, cuts[i + 1])));
  cell.source = pieces[0];
  clearOutputs(cell);
  const added = pieces.slice(1).map((source, i) =>
    nb.insertModel(index + 1 + i, { cell_type: cell.type, source, metadata: {} }, false));
  nb.renumber();
  nb.changed();
  nb.editCell(added[0], "start");
}

/** Where a drop at `y` would put the dragged cells: an index into nb.cells (before it). */
function dropIndex(nb, y) {
  for (let i = 0; i < nb.cells.length; i += 1) {
    const box = nb.cells[i].element.getBoundingClientRect();
    if (y < box.top + box.height / 2) return i;
  }
  return nb.cells.length;
}

/** Drag a cell's handle (the selected cells when it is one of them) to move it. */
export function installDragAndDrop(nb) {
  const container = nb.container;
  let dragged = null;
  let marked = null;
  const mark = (cell, where) => {
    if (marked) marked.element.classList.remove("nb-drop-before", "nb-drop-after");
    marked = cell;
    if (cell) cell.element.classList.add(where === "after" ? "nb-drop-after" : "nb-drop-before");
  };
  const finish = () => {
    mark(null);
    if (dragged) for (const cell of dragged) cell.element.classList.remove("nb-dragging");
    dragged = null;
  };

  container.addEventListener("dragstart", (event) => {
    const handle = event.target.closest && event.target.closest(".nb-drag-handle");
    const element = handle && handle.closest(".nb-cell");
    if (!element || !element.cell) return;
    const cell = element.cell;
    if (!nb.selectedCells.includes(cell)) nb.select(nb.cells.indexOf(cell));
    dragged = nb.selectedCells;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData(DRAG_TYPE, dragged.map((c) => c.id).join(" "));
    event.dataTransfer.setDragImage(element, 8, 8);
    for (const c of dragged) c.element.classList.add("nb-dragging");
  });
  container.addEventListener("dragover", (event) => {
    if (!dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    const index = dropIndex(nb, event.clientY);
    if (index < nb.cells.length) mark(nb.cells[index], "before");
    else mark(nb.cells[nb.cells.length - 1], "after");
  });
  container.addEventListener("dragleave", (event) => {
    if (dragged && !container.contains(event.relatedTarget)) mark(null);
  });
  container.addEventListener("drop", (event) => {
    if (!dragged) return;
    event.preventDefault();
    const index = dropIndex(nb, event.clientY);
    // The position among the cells that do not move.
    const to = nb.cells.slice(0, index).filter((cell) => !dragged.includes(cell)).length;
    finish();
    nb.moveSelectionTo(to);
  });
  container.addEventListener("dragend", finish);
}
