// Find and replace across the notebook: Ctrl-F (command or edit mode) opens a bar under the
// header with the query, "Match case" and "Regular expression" toggles, "3 of 12", previous
// and next (Enter / Shift-Enter, F3 / Shift-F3), and a replacement with Replace (the current
// match) and Replace all (every cell's source: code, Markdown, raw). Matches are marked in the
// cells' editors (CodeMirror decorations); the current one is selected and scrolled to.
// Replacements are ordinary edits of the cells' editors: they go through each cell's undo
// history and make the notebook unsaved (notebook.changed(), via the editor's onChange).

import { StateEffect, StateField } from "@codemirror/state";
import { Decoration, EditorView } from "@codemirror/view";
import { el } from "../../js/dialogs.js";

const setMatches = StateEffect.define();
const matchMark = Decoration.mark({ class: "nb-find-match" });
const currentMark = Decoration.mark({ class: "nb-find-match nb-find-current" });

/** The find marks of one editor: set with `setMatches` ({ ranges: [[from, to]], current }). */
const matchField = StateField.define({
  create: () => Decoration.none,
  update(marks, tr) {
    marks = marks.map(tr.changes);
    for (const effect of tr.effects) {
      if (!effect.is(setMatches)) continue;
      const { ranges, current } = effect.value;
      marks = Decoration.set(ranges.map(([from, to], i) => (i === current ? currentMark : matchMark).range(from, to)));
    }
    return marks;
  },
  provide: (field) => EditorView.decorations.from(field),
});

/** Mark `ranges` in `view`, adding the find field to the editor the first time. */
function mark(view, ranges, current) {
  const effects = [setMatches.of({ ranges, current })];
  if (view.state.field(matchField, false) === undefined) effects.unshift(StateEffect.appendConfig.of(matchField));
  view.dispatch({ effects });
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The query as a RegExp, or { error } for an invalid regular expression. */
export function compile(query, { matchCase, regex }) {
  const flags = `gm${matchCase ? "" : "i"}`;
  try {
    return { re: new RegExp(regex ? query : escapeRegExp(query), flags) };
  } catch (error) {
    return { error: `Invalid regular expression: ${error.message.replace(/^Invalid regular expression: /, "")}` };
  }
}

/** Every non-empty match of `re` in `text`: [[from, to], ...]. */
function matchesIn(text, re) {
  const found = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[0] === "") {
      re.lastIndex += 1; // an empty match ("^", "a*") finds nothing and must not stop the scan
      if (re.lastIndex > text.length) break;
      continue;
    }
    found.push([m.index, m.index + m[0].length]);
  }
  return found;
}

/** What replaces the match [from, to] of `text`: `$1`, `$<name>` and `$&` with a regular
 *  expression (matched in place, so lookbehinds and anchors see the whole source), literal
 *  otherwise. */
function replacementFor(text, from, to, replacement, re, regex) {
  if (!regex) return replacement;
  const sticky = new RegExp(re.source, re.flags.replace("g", "") + "y");
  sticky.lastIndex = from;
  const replaced = text.replace(sticky, replacement);
  return replaced.slice(from, replaced.length - (text.length - to));
}

export class Finder {
  /** `notebook` (notebook.js); the bar goes at the end of `header` (it stays in view). */
  constructor(notebook, header) {
    this.notebook = notebook;
    this.header = header;
    this.matches = []; // { cell, from, to }
    this.current = -1;
    this.anchor = null; // { cell, pos }: where the next search starts
    this.marked = new Set();
    this.unrendered = new Set(); // Markdown cells shown as source to show a match
    this.moved = false;
    this.bar = null;
    let pending = false;
    notebook.addEventListener("change", () => {
      if (!this.isOpen || pending) return;
      pending = true;
      queueMicrotask(() => {
        pending = false;
        if (this.isOpen) this.search({ reveal: false });
      });
    });
  }

  get isOpen() {
    return Boolean(this.bar && !this.bar.hidden);
  }

  build() {
    const toggle = (label, short) => {
      const button = el("button", { type: "button", className: "nb-find-toggle", "aria-pressed": "false", title: label, "aria-label": label }, short);
      button.addEventListener("click", () => {
        button.setAttribute("aria-pressed", String(button.getAttribute("aria-pressed") !== "true"));
        this.search();
      });
      return button;
    };
    const button = (label, text, run) => {
      const node = el("button", { type: "button", "aria-label": label, title: label }, text);
      node.addEventListener("click", run);
      return node;
    };
    this.query = el("input", { type: "search", className: "nb-find-query", "aria-label": "Find", placeholder: "Find", autocomplete: "off", spellcheck: false });
    this.replacement = el("input", { type: "text", className: "nb-find-replacement", "aria-label": "Replace with", placeholder: "Replace with", autocomplete: "off", spellcheck: false });
    this.matchCase = toggle("Match case", "Aa");
    this.regex = toggle("Regular expression", ".*");
    this.count = el("span", { className: "nb-find-count", role: "status", "aria-live": "polite" });
    this.error = el("span", { className: "nb-find-error", role: "alert" });
    this.bar = el("div", { className: "nb-find-bar", role: "search", "aria-label": "Find and replace", hidden: true },
      el("div", { className: "nb-find-row" },
        this.query, this.matchCase, this.regex, this.count,
        button("Previous match", "↑", () => this.step(-1)),
        button("Next match", "↓", () => this.step(1)),
        button("Close find and replace", "×", () => this.close())),
      el("div", { className: "nb-find-row" },
        this.replacement,
        button("Replace", "Replace", () => this.replace()),
        button("Replace all", "Replace all", () => this.replaceAll())),
      this.error);
    this.query.addEventListener("input", () => this.search());
    this.query.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault();
      this.step(event.shiftKey ? -1 : 1);
    });
    this.replacement.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault();
      if (event.ctrlKey || event.metaKey) this.replaceAll();
      else this.replace();
    });
    this.bar.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.close();
      }
    });
    this.header.append(this.bar);
  }

  options() {
    return {
      matchCase: this.matchCase.getAttribute("aria-pressed") === "true",
      regex: this.regex.getAttribute("aria-pressed") === "true",
    };
  }

  /** Open (or focus) the bar; a one-line selection in the editor becomes the query. */
  open() {
    if (!this.bar) this.build();
    this.notice = null;
    const cell = this.notebook.activeCell;
    if (!this.isOpen) {
      this.previousFocus = document.activeElement;
      this.moved = false;
      const view = cell && cell.editor.view;
      const editing = this.notebook.mode === "edit" && view && view.hasFocus;
      const { from, to } = editing ? view.state.selection.main : { from: 0, to: 0 };
      const selected = editing ? view.state.sliceDoc(from, to) : "";
      if (selected && !selected.includes("\n")) this.query.value = selected;
      this.anchor = cell ? { cell, pos: from } : null;
      this.bar.hidden = false;
      this.search({ reveal: false });
    }
    this.query.focus();
    this.query.select();
  }

  close() {
    if (!this.isOpen) return;
    this.bar.hidden = true;
    for (const cell of this.marked) if (cell.editor.view.dom.isConnected) mark(cell.editor.view, [], -1);
    this.marked.clear();
    const match = this.moved ? this.matches[this.current] : null;
    for (const cell of this.unrendered) {
      if (cell.type === "markdown" && (!match || cell !== match.cell)) cell.render();
    }
    this.unrendered.clear();
    this.matches = [];
    this.current = -1;
    if (match && this.notebook.cells.includes(match.cell)) {
      this.notebook.editCell(match.cell, "keep");
    } else if (this.previousFocus && this.previousFocus.isConnected) {
      this.previousFocus.focus();
    } else {
      this.notebook.commandMode();
    }
  }

  /** Find every match; the current one is the first at or after the anchor. */
  search({ reveal = true } = {}) {
    if (reveal) this.notice = null;
    const query = this.query.value;
    const { re, error } = query ? compile(query, this.options()) : {};
    this.error.textContent = error || "";
    this.query.setAttribute("aria-invalid", error ? "true" : "false");
    this.re = re || null;
    const matches = [];
    if (re) {
      for (const cell of this.notebook.cells) {
        for (const [from, to] of matchesIn(cell.source, re)) matches.push({ cell, from, to });
      }
    }
    this.matches = matches;
    this.current = -1;
    if (matches.length) {
      const cells = this.notebook.cells;
      const anchorIndex = this.anchor ? cells.indexOf(this.anchor.cell) : -1;
      this.current = Math.max(0, matches.findIndex((m) => {
        const index = cells.indexOf(m.cell);
        return index > anchorIndex || (index === anchorIndex && m.from >= this.anchor.pos);
      }));
    }
    this.paint();
    if (reveal && this.current >= 0) this.reveal();
  }

  /** The marks in every editor, and the count. */
  paint() {
    const byCell = new Map();
    this.matches.forEach((m, i) => {
      if (!byCell.has(m.cell)) byCell.set(m.cell, { ranges: [], current: -1 });
      const entry = byCell.get(m.cell);
      if (i === this.current) entry.current = entry.ranges.length;
      entry.ranges.push([m.from, m.to]);
    });
    for (const cell of this.marked) {
      if (!byCell.has(cell) && cell.editor.view.dom.isConnected) mark(cell.editor.view, [], -1);
    }
    this.marked = new Set(byCell.keys());
    for (const [cell, { ranges, current }] of byCell) mark(cell.editor.view, ranges, current);
    const n = this.matches.length;
    // "Replaced 4" stays until the person searches again (the edits' own refresh keeps it).
    this.count.textContent = this.notice ? this.notice : !this.query.value || this.error.textContent ? "" : n ? `${this.current + 1} of ${n}` : "No results";
  }

  /** Select the current match in its editor and scroll it into view (focus stays here). */
  reveal() {
    const match = this.matches[this.current];
    if (!match) return;
    const { cell } = match;
    if (cell.type === "markdown" && cell.isRendered) {
      cell.isRendered = false;
      this.unrendered.add(cell);
    }
    this.notebook.select(this.notebook.cells.indexOf(cell), { focus: false });
    cell.editor.view.dispatch({
      selection: { anchor: match.from, head: match.to },
      effects: EditorView.scrollIntoView(match.from, { y: "center" }),
    });
    this.anchor = { cell, pos: match.from };
    this.moved = true;
  }

  step(delta) {
    this.notice = null;
    if (!this.matches.length) return;
    const n = this.matches.length;
    this.current = (this.current + delta + n) % n;
    this.paint();
    this.reveal();
  }

  /** Replace the current match, then go to the next one. */
  replace() {
    const match = this.matches[this.current];
    if (!match || !this.re) return;
    const view = match.cell.editor.view;
    if (match.cell.type === "markdown") this.unrendered.add(match.cell); // rendered again on close
    const text = view.state.doc.toString();
    const insert = replacementFor(text, match.from, match.to, this.replacement.value, this.re, this.options().regex);
    view.dispatch({ changes: { from: match.from, to: match.to, insert }, userEvent: "input.replace" });
    this.anchor = { cell: match.cell, pos: match.from + insert.length };
    this.search();
  }

  /** Replace every match in every cell: one edit (one undo step) per cell. */
  replaceAll() {
    if (!this.matches.length || !this.re) return;
    const { regex } = this.options();
    const byCell = new Map();
    for (const m of this.matches) {
      if (!byCell.has(m.cell)) byCell.set(m.cell, []);
      byCell.get(m.cell).push(m);
    }
    let count = 0;
    for (const [cell, matches] of byCell) {
      const view = cell.editor.view;
      const text = view.state.doc.toString();
      const wasRendered = cell.type === "markdown" && cell.isRendered;
      const changes = matches.map((m) => ({ from: m.from, to: m.to, insert: replacementFor(text, m.from, m.to, this.replacement.value, this.re, regex) }));
      view.dispatch({ changes, userEvent: "input.replace.all" });
      count += matches.length;
      if (wasRendered || this.unrendered.has(cell)) {
        cell.render(); // its rendered text shows the new source
        if (!wasRendered) cell.isRendered = false; // still shown as source, for a match, until the bar closes
      }
    }
    this.notice = `Replaced ${count}`;
    this.search({ reveal: false });
  }
}

/** Ctrl-F anywhere on the notebook page (command or edit mode) opens ours, not the
 *  browser's; F3 / Shift-F3 (and Ctrl-G / Ctrl-Shift-G) go to the next / previous match. */
export function installFindKeys(finder) {
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || document.querySelector("dialog[open]")) return;
    const mod = event.ctrlKey || event.metaKey;
    const key = event.key.toLowerCase();
    if (mod && !event.altKey && !event.shiftKey && key === "f") {
      event.preventDefault();
      event.stopPropagation();
      finder.open();
    } else if (finder.isOpen && (event.key === "F3" || (mod && !event.altKey && key === "g"))) {
      event.preventDefault();
      event.stopPropagation();
      finder.step(event.shiftKey ? -1 : 1);
    }
  }, true);
}
