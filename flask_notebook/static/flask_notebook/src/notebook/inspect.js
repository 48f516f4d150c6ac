// Shift-Tab help from the kernel (inspect_request, detail_level 0): a tooltip under the
// cursor with the signature and docstring (ANSI rendered), and, on a second Shift-Tab or its
// "Expand help" button, the same text in the pager: a panel at the bottom of the page that
// stays while the person types, closed by its button or Esc. Shift-Tab in leading whitespace
// or on a selection still dedents.

import { Prec, StateEffect, StateField } from "@codemirror/state";
import { EditorView, keymap, showTooltip } from "@codemirror/view";
import { appendAnsi } from "./ansi.js";
import { ask, inLeadingSpace, readyKernel, toCodePoints } from "./complete.js";

const setHelp = StateEffect.define();

/** The name the help is about: the dotted identifier before (or under) the cursor. */
function nameAt(state, pos) {
  const line = state.doc.lineAt(pos);
  const before = /[\p{L}\p{N}_.]*$/u.exec(line.text.slice(0, pos - line.from))[0];
  const after = /^[\p{L}\p{N}_]*/u.exec(line.text.slice(pos - line.from))[0];
  const name = (before + after).replace(/^\.+|\.+$/g, "");
  if (name) return name;
  // After "len(": the callable whose arguments these are.
  const call = /([\p{L}\p{N}_.]+)\s*\([^()]*$/u.exec(line.text.slice(0, pos - line.from));
  return call ? call[1] : "";
}

function helpTooltip(help) {
  return {
    pos: help.pos,
    above: false,
    strictSide: false,
    create(view) {
      const dom = document.createElement("div");
      dom.className = "nb-help-tooltip";
      dom.setAttribute("role", "tooltip");
      dom.id = `nb-help-${Math.random().toString(36).slice(2)}`;
      const text = document.createElement("pre");
      text.className = "nb-help-text";
      appendAnsi(text, help.text);
      const expand = document.createElement("button");
      expand.type = "button";
      expand.className = "nb-help-expand";
      expand.textContent = "Expand help";
      expand.title = "Open this help in the pager (Shift-Tab)";
      // A click must not take the focus from the editor (the tooltip would close).
      expand.addEventListener("mousedown", (event) => event.preventDefault());
      expand.addEventListener("click", () => expandHelp(view));
      dom.append(text, expand);
      return { dom };
    },
  };
}

const helpField = StateField.define({
  create: () => null,
  update(value, tr) {
    for (const effect of tr.effects) if (effect.is(setHelp)) return effect.value;
    if (value && (tr.docChanged || tr.selection)) return null;
    return value;
  },
  provide: (field) => showTooltip.from(field, (help) => (help ? help.tooltip : null)),
});

// -- the pager: one per page -----------------------------------------------------------------

let pager = null;
let pagerReturn = null;

function closePager({ refocus = true } = {}) {
  if (!pager || pager.hidden) return false;
  pager.hidden = true;
  const view = pagerReturn;
  pagerReturn = null;
  if (refocus && view && view.dom.isConnected) view.focus();
  return true;
}

function openPager(view, help) {
  if (!pager) {
    pager = document.createElement("aside");
    pager.className = "nb-pager";
    pager.setAttribute("role", "complementary");
    pager.setAttribute("aria-label", "Help pager");
    pager.tabIndex = -1;
    const header = document.createElement("div");
    header.className = "nb-pager-header";
    const title = document.createElement("h2");
    title.className = "nb-pager-title";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "nb-pager-close";
    close.textContent = "×";
    close.setAttribute("aria-label", "Close help");
    close.title = "Close help (Esc)";
    close.addEventListener("click", () => closePager());
    header.append(title, close);
    const body = document.createElement("pre");
    body.className = "nb-pager-text";
    body.tabIndex = 0;
    pager.append(header, body);
    pager.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        closePager();
      }
    });
    (document.getElementById("nb-main") || document.body).append(pager);
  }
  pager.querySelector(".nb-pager-title").textContent = help.name ? `Help: ${help.name}` : "Help";
  const body = pager.querySelector(".nb-pager-text");
  body.replaceChildren();
  appendAnsi(body, help.text);
  body.scrollTop = 0;
  pager.hidden = false;
  pagerReturn = view;
}

function expandHelp(view) {
  const help = view.state.field(helpField, false);
  if (!help) return false;
  openPager(view, help);
  view.dispatch({ effects: setHelp.of(null) });
  view.focus();
  return true;
}

// -- keys ------------------------------------------------------------------------------------

function shiftTab(getKernel) {
  return (view) => {
    const { state } = view;
    if (state.selection.ranges.some((r) => !r.empty) || inLeadingSpace(state)) return false;
    if (state.field(helpField, false)) return expandHelp(view);
    const kernel = readyKernel(getKernel);
    if (!kernel) return true; // busy, dead or absent: no help, no error
    const code = state.doc.toString();
    const pos = state.selection.main.head;
    const name = nameAt(state, pos);
    ask(kernel, "inspect_request", { code, cursor_pos: toCodePoints(code, pos), detail_level: 0 }).then((reply) => {
      // Only if nothing moved meanwhile, and the editor is still there.
      if (!reply || reply.status !== "ok" || !reply.found || !view.hasFocus) return;
      if (view.state.doc.toString() !== code || view.state.selection.main.head !== pos) return;
      const text = (reply.data || {})["text/plain"];
      if (typeof text !== "string" || !text) return;
      const help = { pos, text, name };
      help.tooltip = helpTooltip(help);
      view.dispatch({ effects: setHelp.of(help) });
    });
    return true;
  };
}

function escape(view) {
  if (view.state.field(helpField, false)) {
    view.dispatch({ effects: setHelp.of(null) });
    return true;
  }
  return closePager({ refocus: false });
}

const theme = EditorView.theme({
  ".nb-help-tooltip": { padding: "4px 6px", maxWidth: "min(44rem, 90vw)" },
  ".nb-help-text": {
    margin: "0", maxHeight: "12em", overflow: "auto", fontFamily: "var(--nb-mono)", fontSize: "12px",
    whiteSpace: "pre-wrap",
  },
  ".nb-help-expand": { marginTop: "4px", font: "inherit", fontSize: "12px" },
});

/** The help extensions of a code cell's editor; its keys come before the notebook's (Esc). */
export function kernelHelp(getKernel) {
  return [
    helpField,
    // The tooltip belongs to the editor with the focus.
    EditorView.focusChangeEffect.of((state, focusing) => (!focusing && state.field(helpField, false) ? setHelp.of(null) : null)),
    Prec.highest(keymap.of([
      { key: "Shift-Tab", run: shiftTab(getKernel) },
      { key: "Escape", run: escape },
    ])),
    theme,
  ];
}
