// Shift-Tab help from the kernel (inspect_request, detail_level 0): a tooltip under the
// cursor with the signature and docstring (ANSI rendered), and, on a second Shift-Tab or its
// "Expand help" button, the same text in the pager: a panel at the bottom of the page that
// stays while the person types, closed by its button or Esc. Shift-Tab in leading whitespace
// or on a selection still dedents. The same help also comes when the mouse rests on a name
// (hover), if the person turned it on in Settings ("hoverHelp", off by default).

import { Prec, StateEffect, StateField } from "@codemirror/state";
import { EditorView, closeHoverTooltips, hasHoverTooltips, hoverTooltip, keymap, showTooltip } from "@codemirror/view";
import { currentSettings } from "../../js/theme.js";
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

/** Ask the kernel for help on the name at `pos` of `code`: its text (ANSI), or null. */
async function askHelp(kernel, code, pos) {
  const reply = await ask(kernel, "inspect_request", { code, cursor_pos: toCodePoints(code, pos), detail_level: 0 });
  if (!reply || reply.status !== "ok" || !reply.found) return null;
  const text = (reply.data || {})["text/plain"];
  return typeof text === "string" && text ? text : null;
}

/** The tooltip's content: the help text and an "Expand help" button that calls `onExpand`. */
function helpDom(help, onExpand, title) {
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
  expand.title = title;
  // A click must not take the focus from where it is (the editor's tooltip would close).
  expand.addEventListener("mousedown", (event) => event.preventDefault());
  expand.addEventListener("click", onExpand);
  dom.append(text, expand);
  return dom;
}

function helpTooltip(help) {
  return {
    pos: help.pos,
    above: false,
    strictSide: false,
    create: (view) => ({ dom: helpDom(help, () => expandHelp(view), "Open this help in the pager (Shift-Tab)") }),
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
  const back = pagerReturn;
  pagerReturn = null;
  if (!refocus || !back) return true;
  if (back instanceof EditorView) {
    if (back.dom.isConnected) back.focus();
  } else if (back.isConnected) back.focus();
  return true;
}

/** Show `help` in the pager; closing it gives the focus back to `back` (a view or element). */
function openPager(back, help) {
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
  pagerReturn = back;
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
    askHelp(kernel, code, pos).then((text) => {
      // Only if nothing moved meanwhile, and the editor is still there.
      if (!text || !view.hasFocus) return;
      if (view.state.doc.toString() !== code || view.state.selection.main.head !== pos) return;
      const help = { pos, text, name };
      help.tooltip = helpTooltip(help);
      view.dispatch({ effects: setHelp.of(help) });
    });
    return true;
  };
}

// -- help on hover (a setting) --------------------------------------------------------------

const HOVER_MS = 700;
const NAME_CHAR = /[\p{L}\p{N}_]/u;

/** The identifier under the mouse (`side` < 0: the character before `pos`), or null. */
function wordAt(state, pos, side) {
  const line = state.doc.lineAt(pos);
  const at = pos - line.from;
  const char = side < 0 ? line.text[at - 1] : line.text[at];
  if (!char || !NAME_CHAR.test(char)) return null;
  const from = at - /[\p{L}\p{N}_]*$/u.exec(line.text.slice(0, at))[0].length;
  const to = at + /^[\p{L}\p{N}_]*/u.exec(line.text.slice(at))[0].length;
  if (/^\p{N}/u.test(line.text.slice(from))) return null; // a number, not a name
  const before = /[\p{L}\p{N}_.]*$/u.exec(line.text.slice(0, from))[0].replace(/^\.+/, "");
  return { from: line.from + from, to: line.from + to, name: before + line.text.slice(from, to) };
}

/** CodeMirror's hover source: help for the name under the mouse, when the setting is on. */
function hoverHelp(getKernel) {
  return (view, pos, side) => {
    if (!currentSettings().hoverHelp) return null;
    const word = wordAt(view.state, pos, side);
    if (!word) return null;
    const kernel = readyKernel(getKernel);
    if (!kernel) return null; // busy, dead or absent: nothing asked
    const code = view.state.doc.toString();
    // The name alone (dotted, as `os.path`), not the cell: IPython's token_at_cursor takes a
    // call on an earlier line for the name at the cursor (`print(...)` then `x`: print's help).
    return askHelp(kernel, word.name, word.name.length).then((text) => hoverResult(view, code, word, text));
  };
}

/** The hover tooltip for `text` (the kernel's help on `word`), or null: nothing to show. */
function hoverResult(view, code, word, text) {
  // CodeMirror drops a reply once the mouse moves to another place in the editor; one that
  // comes after the mouse left the editor, or the text changed, is dropped here.
  if (!text || !view.dom.isConnected || !view.dom.matches(":hover") || view.state.doc.toString() !== code) return null;
  const help = { pos: word.from, text, name: word.name };
  return {
    pos: word.from,
    end: word.to,
    above: false,
    create: () => {
      hovering.add(view);
      listenForEscape();
      return {
        dom: helpDom(help, () => {
          openPager(document.activeElement !== document.body ? document.activeElement : null, help);
          view.dispatch({ effects: closeHoverTooltips });
        }, "Open this help in the pager"),
        destroy: () => hovering.delete(view),
      };
    },
  };
}

/** The editors showing a hover tooltip: Esc closes it wherever the focus is (the editor's
 *  own Esc key only works when the editor has the focus). */
const hovering = new Set();
let escapeListened = false;

function listenForEscape() {
  if (escapeListened) return;
  escapeListened = true;
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !hovering.size) return;
    for (const view of [...hovering]) view.dispatch({ effects: closeHoverTooltips });
    hovering.clear();
    event.stopPropagation(); // only the tooltip closes (the editor stays in edit mode)
    event.preventDefault();
  }, true);
}

function escape(view) {
  if (view.state.field(helpField, false)) {
    view.dispatch({ effects: setHelp.of(null) });
    return true;
  }
  if (hasHoverTooltips(view.state)) {
    view.dispatch({ effects: closeHoverTooltips });
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
    hoverTooltip(hoverHelp(getKernel), { hoverTime: HOVER_MS, hideOnChange: true }),
    theme,
  ];
}
