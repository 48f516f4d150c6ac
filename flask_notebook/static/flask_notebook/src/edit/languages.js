// The language of a file in the editor, by its name. Each grammar is a dynamic import, so
// esbuild puts it in its own chunk (build/chunks/) and the page fetches only the one it needs.
// CSV has no package: a small stream tokenizer of ours colours quoted fields, numbers and
// separators. YAML's plain values are coloured by kind (yaml-values.js); TOML and INI keys,
// values and sections get the shared code theme's colours too.

import { StreamLanguage } from "@codemirror/language";
import { tags } from "@lezer/highlight";

/** A StreamLanguage tokenizer for comma (or tab, or semicolon) separated values. */
function delimited(separator) {
  return {
    name: separator === "\t" ? "tsv" : "csv",
    startState: () => ({ inQuote: false }),
    copyState: (state) => ({ ...state }),
    token(stream, state) {
      if (state.inQuote || stream.peek() === '"') {
        if (!state.inQuote) stream.next();
        state.inQuote = true;
        while (!stream.eol()) {
          const ch = stream.next();
          if (ch === '"') {
            if (stream.peek() === '"') stream.next(); // "" is a quote inside the field
            else {
              state.inQuote = false;
              break;
            }
          }
        }
        return "string";
      }
      if (stream.eat(separator)) return "separator";
      const field = stream.match(new RegExp(`^[^${separator === "\t" ? "\\t" : separator}"]+`));
      if (field && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(field[0])) return "number";
      if (!field) stream.next();
      return null;
    },
  };
}

/** TOML's mode calls both `[section]` and `true` an "atom": a section is a heading here, so that
 * it is not coloured as a value. */
function tomlSections(mode) {
  return {
    ...mode,
    token(stream, state) {
      const style = mode.token(stream, state);
      return style === "atom" && stream.current().startsWith("[") ? "header" : style;
    },
  };
}

/** INI's mode calls a key "def" and its value "quote": a property name and a string here (the
 * Markdown blockquote keeps the quote tag's own look). "def" has a fixed meaning in CodeMirror's
 * table of legacy names, so keys are renamed first. */
function iniKeys(mode) {
  return {
    ...mode,
    token(stream, state) {
      const style = mode.token(stream, state);
      return style === "def" ? "iniKey" : style;
    },
    tokenTable: { iniKey: tags.definition(tags.propertyName), quote: tags.string },
  };
}

const stream = (load) => async () => StreamLanguage.define(await load());

/** Name -> a function resolving to the CodeMirror language support. */
const LOADERS = {
  python: async () => (await import("@codemirror/lang-python")).python(),
  markdown: async () => (await import("@codemirror/lang-markdown")).markdown(),
  json: async () => (await import("@codemirror/lang-json")).json(),
  yaml: async () => [(await import("@codemirror/lang-yaml")).yaml(), (await import("./yaml-values.js")).yamlValues],
  javascript: async () => (await import("@codemirror/lang-javascript")).javascript(),
  typescript: async () => (await import("@codemirror/lang-javascript")).javascript({ typescript: true }),
  html: async () => (await import("@codemirror/lang-html")).html(),
  css: async () => (await import("@codemirror/lang-css")).css(),
  shell: stream(async () => (await import("@codemirror/legacy-modes/mode/shell")).shell),
  toml: stream(async () => tomlSections((await import("@codemirror/legacy-modes/mode/toml")).toml)),
  ini: stream(async () => iniKeys((await import("@codemirror/legacy-modes/mode/properties")).properties)),
  csv: stream(async () => delimited(",")),
  tsv: stream(async () => delimited("\t")),
};

const EXTENSIONS = {
  py: "python", pyw: "python", pyi: "python",
  md: "markdown", markdown: "markdown",
  json: "json", ipynb: "json", geojson: "json",
  yaml: "yaml", yml: "yaml",
  js: "javascript", mjs: "javascript", cjs: "javascript", jsx: "javascript",
  ts: "typescript", tsx: "typescript",
  html: "html", htm: "html",
  css: "css",
  sh: "shell", bash: "shell", zsh: "shell",
  toml: "toml",
  ini: "ini", cfg: "ini", conf: "ini", properties: "ini",
  csv: "csv", tsv: "tsv",
};

/** The language name for a file name ("text" when none fits). */
export function languageName(fileName) {
  const dot = fileName.lastIndexOf(".");
  const extension = dot > 0 ? fileName.slice(dot + 1).toLowerCase() : "";
  return EXTENSIONS[extension] || "text";
}

/** The language support for `name` (an extension array; empty for plain text). */
export async function loadLanguage(name) {
  const load = LOADERS[name];
  return load ? load() : [];
}

/** The indent unit a language's files usually use. */
export function indentFor(name) {
  return ["yaml", "javascript", "typescript", "html", "css", "json"].includes(name) ? "  " : "    ";
}
