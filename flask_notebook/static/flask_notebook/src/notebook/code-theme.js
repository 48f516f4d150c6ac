// The look of code in CodeMirror, shared by the cells (editor.js) and the file editor
// (src/edit/): highlighting and editor colours from the --nb-* variables (code-colors.css), so
// light and dark follow the theme. Kept apart from editor.js so that the file editor loads no
// grammar it does not need.

import { HighlightStyle } from "@codemirror/language";
import { EditorView } from "@codemirror/view";
import { tags as t } from "@lezer/highlight";

export const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.operatorKeyword, t.definitionKeyword, t.moduleKeyword], color: "var(--nb-syn-keyword)", fontWeight: "600" },
  { tag: [t.string, t.special(t.string)], color: "var(--nb-syn-string)" },
  { tag: [t.number, t.bool, t.null, t.atom], color: "var(--nb-syn-number)" },
  { tag: [t.propertyName, t.definition(t.propertyName)], color: "var(--nb-syn-property)" }, // keys (YAML, JSON, TOML, INI), attributes
  { tag: [t.comment, t.lineComment, t.blockComment], color: "var(--nb-syn-comment)", fontStyle: "italic" },
  { tag: [t.function(t.variableName), t.function(t.propertyName), t.definition(t.function(t.variableName))], color: "var(--nb-syn-function)" },
  { tag: [t.className, t.definition(t.className)], color: "var(--nb-syn-class)" },
  { tag: [t.operator], color: "var(--nb-syn-operator)" },
  { tag: [t.self, t.standard(t.variableName)], color: "var(--nb-syn-builtin)" },
  { tag: t.meta, color: "var(--nb-syn-builtin)" },
  { tag: t.heading, fontWeight: "700", color: "var(--nb-syn-keyword)" },
  { tag: t.emphasis, fontStyle: "italic" },
  { tag: t.strong, fontWeight: "700" },
  { tag: t.link, color: "var(--nb-accent)", textDecoration: "underline" },
  { tag: t.monospace, color: "var(--nb-syn-string)" },
]);

export const theme = EditorView.theme({
  "&": { fontSize: "var(--nb-code-font-size, 13px)", backgroundColor: "var(--nb-editor-bg)", color: "var(--nb-fg)" },
  ".cm-content": { fontFamily: "var(--nb-mono)", padding: "6px 0", caretColor: "var(--nb-fg)" },
  ".cm-line": { padding: "0 8px" },
  "&.cm-focused": { outline: "none" },
  ".cm-cursor": { borderLeftColor: "var(--nb-fg)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: "var(--nb-editor-selection)" },
  ".cm-matchingBracket": { backgroundColor: "var(--nb-editor-match)", outline: "1px solid var(--nb-border)" },
  ".cm-nonmatchingBracket": { color: "var(--nb-danger)" },
  ".cm-placeholder": { color: "var(--nb-muted)" },
});
