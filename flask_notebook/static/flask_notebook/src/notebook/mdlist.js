// Markdown lists in cells: Enter continues a list (lang-markdown's insertNewlineContinueMarkup),
// and a person who then types the marker too ("- " on the new "- " line, as in an editor that
// does not continue lists) gets one marker, not "- - ". The marker typed wins (for "3." after
// an automatic "2.", too).

import { EditorView } from "@codemirror/view";

const DOUBLED = /^(\s*(?:>\s*)*)([-*+]|\d{1,9}[.)])( +)([-*+]|\d{1,9}[.)])$/;
const ITEM = /^\s*(?:>\s*)*(?:[-*+]|\d{1,9}[.)])\s/;

export const singleListMarker = EditorView.inputHandler.of((view, from, to, text) => {
  if (text !== " " || from !== to) return false;
  const { state } = view;
  const line = state.doc.lineAt(from);
  if (from !== line.to || line.number === 1) return false;
  const match = DOUBLED.exec(line.text);
  if (!match) return false;
  const [, prefix, first, , second] = match;
  // Only a marker of the same kind as the one the list put there.
  const ordered = (marker) => /\d/.test(marker);
  if (ordered(first) !== ordered(second)) return false;
  if (!ITEM.test(state.doc.line(line.number - 1).text)) return false;
  const insert = `${prefix}${second} `;
  view.dispatch({
    changes: { from: line.from, to: line.to, insert },
    selection: { anchor: line.from + insert.length },
    userEvent: "input.type",
  });
  return true;
});
