// CodeMirror 6 editors for cells: Python or Markdown, highlighting in theme colours (CSS
// variables, so light and dark follow the system), auto-indent, bracket matching, Tab and
// Shift-Tab. The notebook's own keys (Shift-Enter, Escape...) come first, as `cellKeys`.

import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentLess, indentMore } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, Prec } from "@codemirror/state";
import { EditorView, drawSelection, keymap, lineNumbers, placeholder } from "@codemirror/view";
import { highlight, theme } from "./code-theme.js";
import { kernelCompletion } from "./complete.js";
import { kernelHelp } from "./inspect.js";
import { singleListMarker } from "./mdlist.js";

/** Line numbers in a cell (L, Shift-L): quiet, on the editor's own background. */
const numbered = () => [
  lineNumbers(),
  EditorView.theme({
    ".cm-gutters": { backgroundColor: "var(--nb-editor-bg)", color: "var(--nb-muted)", border: "none" },
    ".cm-lineNumbers .cm-gutterElement": { fontFamily: "var(--nb-mono)", padding: "0 4px 0 6px" },
  }),
];

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

/** Code cells ask the kernel: Tab completes, Shift-Tab shows help (complete.js, inspect.js). */
function kernelAssist(type, getKernel) {
  return type === "code" ? [kernelCompletion(getKernel), kernelHelp(getKernel)] : [];
}

// The Markdown grammar (lang-markdown) brings HTML, CSS and JavaScript grammars with it, a
// sixth of the page's code, and a Markdown cell shows rendered until someone edits it: so it
// is a chunk of its own, fetched the first time a Markdown cell's editor gets focus (or a cell
// becomes Markdown). Until it is here, that editor is plain text; then every Markdown editor
// takes it.
let markdownLanguage = null;
let markdownLoading = null;
/** Editors (the objects createEditor returns) that showed Markdown before the grammar came. */
const withoutMarkdown = new Set();

function loadMarkdown() {
  markdownLoading ||= import("@codemirror/lang-markdown").then(({ markdown }) => {
    markdownLanguage = [markdown(), singleListMarker];
    for (const editor of withoutMarkdown) editor.refreshLanguage();
    withoutMarkdown.clear();
  });
  return markdownLoading;
}

function language(type) {
  if (type === "code") return python();
  if (type === "markdown") return markdownLanguage || [];
  return [];
}

/**
 * A CodeMirror view for one cell. `cellKeys` is a keymap (the notebook's keys, which win);
 * `onChange()` is called after every edit; `onFocus()` when the editor gets focus;
 * `numbered` shows line numbers (setLineNumbers() changes it); `kernel()` gives the notebook's
 * Kernel (or null) for completion and help.
 */
export function createEditor({ parent, doc, type, label, cellKeys, onChange, onFocus, numbered: withNumbers = false, kernel = () => null }) {
  const lang = new Compartment();
  const assist = new Compartment();
  const labelled = new Compartment();
  const numbers = new Compartment();
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        // Before the notebook's keys: Esc closes a popup first, Up/Down move in it.
        assist.of(kernelAssist(type, kernel)),
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
        numbers.of(withNumbers ? numbered() : []),
        EditorView.lineWrapping,
        EditorView.updateListener.of((update) => {
          if (update.docChanged) onChange();
          if (update.focusChanged && update.view.hasFocus) {
            if (editor.type === "markdown" && !markdownLanguage) loadMarkdown();
            onFocus();
          }
        }),
      ],
    }),
  });
  const editor = {
    view,
    type,
    lineNumbers: withNumbers,
    /** Whether its type's grammar is in (a Markdown editor's may still be on its way). */
    get grammarReady() {
      return editor.type !== "markdown" || Boolean(markdownLanguage);
    },
    /** Take the grammar of its type again (the Markdown one has arrived). */
    refreshLanguage() {
      if (editor.type === "markdown") view.dispatch({ effects: lang.reconfigure(language("markdown")) });
    },
    setLineNumbers(on) {
      if (on === editor.lineNumbers) return;
      editor.lineNumbers = on;
      view.dispatch({ effects: numbers.reconfigure(on ? numbered() : []) });
    },
    setType(newType) {
      editor.type = newType;
      if (newType === "markdown" && !markdownLanguage) {
        withoutMarkdown.add(editor);
        loadMarkdown();
      }
      view.dispatch({ effects: [lang.reconfigure(language(newType)), assist.reconfigure(kernelAssist(newType, kernel))] });
    },
    setLabel(newLabel) {
      view.dispatch({ effects: labelled.reconfigure(EditorView.contentAttributes.of({ "aria-label": newLabel })) });
    },
  };
  if (type === "markdown" && !markdownLanguage) withoutMarkdown.add(editor);
  return editor;
}

/** Whether the cursor is on the first (or last) line, for Up/Down to move between cells. */
export function cursorAtEdge(view, edge) {
  const { main } = view.state.selection;
  if (!main.empty) return false;
  const line = view.state.doc.lineAt(main.head);
  return edge === "top" ? line.number === 1 : line.number === view.state.doc.lines;
}
