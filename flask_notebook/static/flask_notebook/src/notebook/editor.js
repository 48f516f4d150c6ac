// CodeMirror 6 editors for cells: Python or Markdown, highlighting in theme colours (CSS
// variables, so light and dark follow the system), auto-indent, bracket matching, Tab and
// Shift-Tab. The notebook's own keys (Shift-Enter, Escape...) come first, as `cellKeys`.

import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentLess, indentMore } from "@codemirror/commands";
import { markdown } from "@codemirror/lang-markdown";
import { python } from "@codemirror/lang-python";
import { bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, Prec } from "@codemirror/state";
import { EditorView, drawSelection, keymap, placeholder } from "@codemirror/view";
import { highlight, theme } from "./code-theme.js";

function insertSpaces(view) {
  const { head } = view.state.selection.main;
  const column = head - view.state.doc.lineAt(head).from;
  view.dispatch(view.state.replaceSelection(" ".repeat(4 - (column % 4))), { scrollIntoView: true, userEvent: "input" });
  return true;
}

/** Tab indents a selection or inserts spaces to the next indent stop; Shift-Tab dedents. */
const tabKeys = [
  {
    key: "Tab",
    run: (view) => (view.state.selection.ranges.some((r) => !r.empty) ? indentMore(view) : insertSpaces(view)),
    shift: indentLess,
  },
];

function language(type) {
  if (type === "code") return python();
  if (type === "markdown") return markdown();
  return [];
}

/**
 * A CodeMirror view for one cell. `cellKeys` is a keymap (the notebook's keys, which win);
 * `onChange()` is called after every edit; `onFocus()` when the editor gets focus.
 */
export function createEditor({ parent, doc, type, label, cellKeys, onChange, onFocus }) {
  const lang = new Compartment();
  const labelled = new Compartment();
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        Prec.highest(keymap.of(cellKeys)),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        indentUnit.of("    "),
        EditorState.tabSize.of(4),
        syntaxHighlighting(highlight),
        theme,
        lang.of(language(type)),
        placeholder(type === "markdown" ? "Markdown" : type === "raw" ? "Raw text" : ""),
        keymap.of([...closeBracketsKeymap, ...tabKeys, ...defaultKeymap, ...historyKeymap]),
        labelled.of(EditorView.contentAttributes.of({ "aria-label": label })),
        EditorView.lineWrapping,
        EditorView.updateListener.of((update) => {
          if (update.docChanged) onChange();
          if (update.focusChanged && update.view.hasFocus) onFocus();
        }),
      ],
    }),
  });
  return {
    view,
    setType(newType) {
      view.dispatch({ effects: lang.reconfigure(language(newType)) });
    },
    setLabel(newLabel) {
      view.dispatch({ effects: labelled.reconfigure(EditorView.contentAttributes.of({ "aria-label": newLabel })) });
    },
  };
}

/** Whether the cursor is on the first (or last) line, for Up/Down to move between cells. */
export function cursorAtEdge(view, edge) {
  const { main } = view.state.selection;
  if (!main.empty) return false;
  const line = view.state.doc.lineAt(main.head);
  return edge === "top" ? line.number === 1 : line.number === view.state.doc.lines;
}
