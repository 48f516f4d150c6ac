// The file editor of /edit/<path>: CodeMirror 6 with line numbers, highlighting by file type
// (each grammar loaded lazily, languages.js), auto-indent, Tab to indent (inside a line: spaces
// at the cursor, tab.js; Esc then Tab leaves the editor, as CodeMirror recommends), find and
// replace (Ctrl-F), Ctrl-S to save, autosave at the person's interval (Settings; the server's
// by default), and the notebook's conflict handling (save.js): a file changed on disk is never
// overwritten without asking, and the text typed stays in the editor whatever happens to a save.

import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { highlightSelectionMatches, search, searchKeymap } from "@codemirror/search";
import { Compartment, EditorState } from "@codemirror/state";
import {
  EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, keymap, lineNumbers,
} from "@codemirror/view";
import { classHighlighter } from "@lezer/highlight";
import { ApiError, baseName, pageConfig } from "../../js/api.js";
import { showError } from "../../js/dialogs.js";
import { currentSettings, onSettingsChange } from "../../js/theme.js";
import { highlight, theme } from "../notebook/code-theme.js";
import { indentFor, languageName, loadLanguage } from "./languages.js";
import { FileSaver } from "./save.js";
import { tabBinding } from "./tab.js";

const $ = (id) => document.getElementById(id);
const config = pageConfig();
const path = config.path;
const name = baseName(path);

const STATUS_TEXT = {
  saved: "Saved", unsaved: "Unsaved changes", saving: "Saving…", error: "Save failed", conflict: "Changed on disk",
};

/** Names for the search panel's controls (CodeMirror's phrases are lower case). */
const PHRASES = {
  next: "Next match", previous: "Previous match", all: "Select all matches", "match case": "Match case",
  regexp: "Regular expression", "by word": "Whole word", replace: "Replace", "replace all": "Replace all",
  close: "Close find and replace",
};

/** What the file editor adds to the cells' theme: a full-height pane, a gutter, the search panel. */
const pageTheme = EditorView.theme({
  "&": { height: "100%", border: "1px solid var(--nb-border)", borderRadius: "var(--nb-radius)" },
  "&.cm-focused": { outline: "2px solid var(--nb-focus)", outlineOffset: "-1px" },
  ".cm-scroller": { fontFamily: "var(--nb-mono)", lineHeight: "1.5" },
  ".cm-gutters": { backgroundColor: "var(--nb-surface)", color: "var(--nb-muted)", borderRight: "1px solid var(--nb-border-soft)" },
  ".cm-activeLine": { backgroundColor: "var(--nb-hover)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--nb-hover)", color: "var(--nb-fg)" },
  ".cm-searchMatch": { backgroundColor: "var(--nb-editor-match)", outline: "1px solid var(--nb-border)" },
  ".cm-searchMatch-selected": { backgroundColor: "var(--nb-editor-selection)" },
  ".cm-selectionMatch": { backgroundColor: "var(--nb-editor-match)" },
  ".cm-panels": { backgroundColor: "var(--nb-surface)", color: "var(--nb-fg)" },
  ".cm-panels.cm-panels-top": { borderBottom: "1px solid var(--nb-border)" },
  ".cm-panel.cm-search": { fontFamily: "var(--nb-font)", fontSize: "13px", padding: "6px 8px" },
  ".cm-panel.cm-search input, .cm-panel.cm-search button": { fontSize: "13px" },
  ".cm-textfield": { backgroundColor: "var(--nb-bg)", color: "var(--nb-fg)", border: "1px solid var(--nb-border)" },
  ".cm-button": { backgroundImage: "none", backgroundColor: "var(--nb-bg)", color: "var(--nb-fg)", border: "1px solid var(--nb-border)" },
});

let saver = null;
let view = null;

function showStatus({ status, message }) {
  const node = $("nb-editor-status");
  const text = STATUS_TEXT[status];
  node.textContent = message && status === "error" ? `${text}: ${message}` : text;
  node.dataset.status = status;
  $("nb-save").disabled = false;
  document.title = `${saver.dirty ? "* " : ""}${name} · flask-notebook`;
  const conflict = $("nb-editor-conflict");
  if (status === "conflict") {
    $("nb-editor-conflict-text").textContent = `"${name}" changed on disk since you opened or last saved it, `
      + "so your changes were not saved. They are still here.";
    conflict.hidden = false;
  } else if (status !== "saving") {
    conflict.hidden = true;
  }
}

async function save() {
  if (!saver) return;
  const ok = await saver.save();
  if (!ok && saver.status === "error") showError(`Saving ${name}`, { message: saver.statusMessage });
}

/** Resolve a conflict by writing our text over the file's. */
async function overwrite() {
  await saver.save({ force: true });
  view.focus();
}

/** Resolve a conflict by showing the file as it is on disk (our unsaved changes go). */
async function reloadFromDisk() {
  try {
    const { content, etag } = await saver.read();
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: content } });
    saver.loaded(etag);
    view.focus();
  } catch (problem) {
    showError(`Reloading ${name}`, problem);
  }
}

function createView(doc, language) {
  const languageConf = new Compartment();
  view = new EditorView({
    parent: $("nb-editor-host"),
    state: EditorState.create({
      doc,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        search({ top: true }),
        indentUnit.of(indentFor(language)),
        EditorState.tabSize.of(4),
        EditorState.phrases.of(PHRASES),
        syntaxHighlighting(highlight),
        syntaxHighlighting(classHighlighter), // tok-* classes, as CodeMirror names token types
        theme,
        pageTheme,
        languageConf.of([]),
        keymap.of([...closeBracketsKeymap, ...searchKeymap, ...defaultKeymap, ...historyKeymap, tabBinding]),
        EditorView.contentAttributes.of({ "aria-label": `Contents of ${name}`, "aria-describedby": "nb-editor-hint" }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) saver.markDirty();
        }),
      ],
    }),
  });
  return languageConf;
}

async function load() {
  const host = $("nb-editor-host");
  saver = new FileSaver({
    path,
    etag: null,
    autosaveSeconds: Number(currentSettings().autosaveInterval) || 0, // the person's, else the server's
    text: () => view.state.doc.toString(),
  });
  onSettingsChange((settings) => saver.setAutosave(Number(settings.autosaveInterval) || 0)); // Settings, any tab
  saver.addEventListener("status", (event) => {
    saver.statusMessage = event.detail.message;
    showStatus(event.detail);
  });
  let file;
  try {
    file = await saver.read();
  } catch (problem) {
    host.remove();
    const problemArea = $("nb-editor-problem");
    problemArea.hidden = false;
    problemArea.textContent = problem instanceof ApiError && problem.reason === "bad format"
      ? "This file is not UTF-8 text, so it cannot be edited here. Download it instead."
      : `The file cannot be opened: ${problem.message}`;
    return;
  }
  host.textContent = "";
  const language = languageName(name);
  host.dataset.language = language;
  const languageConf = createView(file.content, language);
  saver.loaded(file.etag);
  view.focus();
  try {
    view.dispatch({ effects: languageConf.reconfigure(await loadLanguage(language)) });
  } catch (problem) {
    // No grammar (say, offline after an upgrade): the text is still editable, just plain.
    showError(`Loading the ${language} highlighting`, problem);
  }
}

$("nb-save").addEventListener("click", () => save());
$("nb-conflict-overwrite").addEventListener("click", () => overwrite());
$("nb-conflict-reload").addEventListener("click", () => reloadFromDisk());
document.addEventListener("keydown", (event) => {
  // Ctrl-S (Cmd-S) saves the file, wherever the focus is, instead of the browser saving the page.
  if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
    event.preventDefault();
    save();
  }
}, { capture: true });
load().then(() => {
  document.documentElement.dataset.nbReady = "true";
});
window.nbEditor = { get view() { return view; }, get saver() { return saver; } };
