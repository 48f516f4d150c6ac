// Colours for YAML's plain (unquoted) values. The YAML grammar tags every plain scalar as
// "content", whatever it is, so `count: 3`, `ok: true` and `name: x` would show their values
// as plain text. This marks each plain value (not a key) in view as a number, a boolean or
// null, or a string, with the shared code theme's colours (code-colors.css), so YAML reads as
// JSON and TOML do. Loaded with the YAML grammar (languages.js), in its chunk.

import { syntaxTree } from "@codemirror/language";
import { RangeSetBuilder } from "@codemirror/state";
import { Decoration, EditorView, ViewPlugin } from "@codemirror/view";

const NUMBER = /^[-+]?(\d[\d_]*(\.\d*)?([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|0x[\da-fA-F_]+|0o[0-7_]+|\.inf|\.Inf|\.INF|\.nan|\.NaN|\.NAN)$/;
const ATOM = /^(true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|null|Null|NULL|~)$/;

const marks = {
  number: Decoration.mark({ class: "nb-yaml-number" }),
  atom: Decoration.mark({ class: "nb-yaml-atom" }),
  string: Decoration.mark({ class: "nb-yaml-string" }),
};

function decorate(view) {
  const builder = new RangeSetBuilder();
  const tree = syntaxTree(view.state);
  for (const { from, to } of view.visibleRanges) {
    tree.iterate({
      from,
      to,
      enter(node) {
        if (node.name !== "Literal" || node.node.parent?.name === "Key") return;
        const text = view.state.doc.sliceString(node.from, node.to).trim();
        const kind = NUMBER.test(text) ? "number" : ATOM.test(text) ? "atom" : "string";
        builder.add(node.from, node.to, marks[kind]);
      },
    });
  }
  return builder.finish();
}

const plugin = ViewPlugin.fromClass(class {
  constructor(view) {
    this.decorations = decorate(view);
  }

  update(update) {
    if (update.docChanged || update.viewportChanged || syntaxTree(update.startState) !== syntaxTree(update.state)) {
      this.decorations = decorate(update.view);
    }
  }
}, { decorations: (value) => value.decorations });

const look = EditorView.baseTheme({
  ".nb-yaml-number, .nb-yaml-atom": { color: "var(--nb-syn-number)" },
  ".nb-yaml-string": { color: "var(--nb-syn-string)" },
});

/** The extension: YAML's plain values coloured by kind. */
export const yamlValues = [plugin, look];
