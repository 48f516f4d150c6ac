// Tab in the file editor, as JupyterLab's file editor has it: with the cursor after text on its
// line, Tab inserts spaces at the cursor up to the next indent stop (a multiple of the indent
// unit); at the start of a line, in its leading whitespace or with a selection, Tab indents the
// selected lines by one unit, as before. Shift-Tab dedents them. Esc then Tab still leaves the
// editor (CodeMirror's tab focus mode, which runs before any key binding).

import { indentLess, indentMore } from "@codemirror/commands";
import { getIndentUnit } from "@codemirror/language";
import { EditorSelection, countColumn } from "@codemirror/state";

/** Whether the cursor `pos` has only whitespace before it on its line. */
function inLeadingWhitespace(state, pos) {
  const line = state.doc.lineAt(pos);
  return /^\s*$/.test(line.text.slice(0, pos - line.from));
}

function tab(view) {
  const { state } = view;
  if (state.readOnly) return false;
  const ranges = state.selection.ranges;
  if (ranges.some((range) => !range.empty || inLeadingWhitespace(state, range.head))) return indentMore(view);
  const unit = getIndentUnit(state);
  view.dispatch(state.update(state.changeByRange((range) => {
    const line = state.doc.lineAt(range.head);
    const column = countColumn(line.text.slice(0, range.head - line.from), state.tabSize);
    const insert = " ".repeat(unit - (column % unit));
    return { changes: { from: range.head, insert }, range: EditorSelection.cursor(range.head + insert.length) };
  }), { scrollIntoView: true, userEvent: "input.indent" }));
  return true;
}

/** The key binding, in place of CodeMirror's indentWithTab. */
export const tabBinding = { key: "Tab", run: tab, shift: indentLess };
