// Tab completion from the kernel (complete_request), in CodeMirror's completion popup (a
// `listbox` of `option`s), with the type and signature ipykernel gives through jedi
// (metadata._jupyter_types_experimental). Tab starts it (not typing; a single candidate goes
// straight in), typing filters it, Enter or Tab accepts, Esc closes. A kernel that is busy,
// dead or away gives no popup.

import {
  acceptCompletion, autocompletion, closeCompletion, completionStatus, insertCompletionText,
  moveCompletionSelection, startCompletion,
} from "@codemirror/autocomplete";
import { Prec } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";

/** How long a completion or inspection waits for the kernel before giving up quietly (jedi
 *  can take seconds on a first look at a module). */
export const KERNEL_REPLY_MS = 15000;

/** The kernel counts Unicode code points; JavaScript strings count UTF-16 units. */
export function toCodePoints(text, offset) {
  let points = 0;
  for (let i = 0; i < offset; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < offset) i += 1;
    points += 1;
  }
  return points;
}

/** The UTF-16 offset of code point `points` of `text`. */
export function fromCodePoints(text, points) {
  let offset = 0;
  for (let n = 0; n < points && offset < text.length; n++) {
    offset += text.codePointAt(offset) > 0xffff ? 2 : 1;
  }
  return offset;
}

/** The kernel, when it can answer now: idle and connected (a busy one would answer late). */
export function readyKernel(getKernel) {
  const kernel = getKernel ? getKernel() : null;
  return kernel && kernel.status === "idle" && kernel.ready() ? kernel : null;
}

/** Send a shell request; resolves with the reply's content, or null (failure, no answer). */
export function ask(kernel, msgType, content) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), KERNEL_REPLY_MS);
    const settle = (value) => {
      clearTimeout(timer);
      resolve(value);
    };
    kernel.send("shell", msgType, content, {
      onReply: (reply) => settle(reply.content),
      onFail: () => settle(null),
    });
  });
}

/** Whether the cursor is in a line's leading whitespace (where Tab indents). */
export function inLeadingSpace(state) {
  const { head } = state.selection.main;
  const line = state.doc.lineAt(head);
  return /^\s*$/.test(line.text.slice(0, head - line.from));
}

// jedi's types, as CodeMirror's icon names.
const ICONS = {
  module: "namespace", class: "class", function: "function", instance: "variable",
  statement: "variable", param: "variable", keyword: "keyword", property: "property",
  path: "text", magic: "keyword",
};

/** Ask the kernel for completions at `pos` of `code`: a CodeMirror CompletionResult or null. */
async function kernelCompletions(kernel, code, pos) {
  const reply = await ask(kernel, "complete_request", { code, cursor_pos: toCodePoints(code, pos) });
  if (!reply || reply.status !== "ok" || !reply.matches || !reply.matches.length) return null;
  const from = Math.min(fromCodePoints(code, reply.cursor_start), pos);
  const to = Math.min(Math.max(fromCodePoints(code, reply.cursor_end), pos), code.length);
  const types = new Map();
  const experimental = (reply.metadata || {})._jupyter_types_experimental;
  if (Array.isArray(experimental)) for (const entry of experimental) types.set(entry.text, entry);
  const seen = new Set();
  const options = [];
  reply.matches.forEach((label, i) => {
    if (seen.has(label)) return;
    seen.add(label);
    const info = types.get(label) || {};
    options.push({
      label,
      type: ICONS[info.type] || undefined,
      detail: info.signature || undefined,
      kernelType: info.type && info.type !== "<unknown>" ? info.type : null,
      // The kernel's order stands where the typed text does not decide.
      boost: Math.max(-99, 99 - i),
    });
  });
  return { from, to, options, validFor: /^[\p{L}\p{N}_]*$/u };
}

/** Results Tab already fetched, by the document they are for (documents are immutable). */
const fetched = new WeakMap();

function completionSource(getKernel) {
  return async (context) => {
    const ready = fetched.get(context.state.doc);
    if (ready && ready.pos === context.pos) return ready.result;
    const kernel = readyKernel(getKernel);
    if (!kernel) return null;
    const result = await kernelCompletions(kernel, context.state.doc.toString(), context.pos);
    return context.aborted ? null : result;
  };
}

/** The type column of an option ("function", "module"...). */
const typeColumn = {
  position: 90,
  render(completion) {
    if (!completion.kernelType) return null;
    const span = document.createElement("span");
    span.className = "nb-completion-type";
    span.textContent = completion.kernelType;
    return span;
  },
};

function accept(view) {
  if (completionStatus(view.state) !== "active") return false;
  acceptCompletion(view);
  return true; // never also a newline or an indent
}

/** Tab: accept an open popup, indent in leading whitespace or a selection, else complete. */
function tab(getKernel) {
  return (view) => {
    if (completionStatus(view.state) === "active") return accept(view);
    const { state } = view;
    if (state.selection.ranges.some((r) => !r.empty) || inLeadingSpace(state)) return false;
    // A busy, dead or absent kernel: nothing (no spaces typed either, as Notebook 7).
    const kernel = readyKernel(getKernel);
    if (!kernel) return true;
    const { doc } = state;
    const pos = state.selection.main.head;
    kernelCompletions(kernel, doc.toString(), pos).then((result) => {
      // Only if the person has not typed, moved or left the editor (Esc) meanwhile.
      if (!result || view.state.doc !== doc || view.state.selection.main.head !== pos || !view.hasFocus) return;
      if (result.options.length === 1) {
        // One candidate: in it goes, no popup (as Notebook 7).
        view.dispatch({
          ...insertCompletionText(view.state, result.options[0].label, result.from, result.to),
          userEvent: "input.complete",
        });
        return;
      }
      fetched.set(doc, { pos, result });
      startCompletion(view);
    });
    return true;
  };
}

const theme = EditorView.theme({
  ".cm-tooltip": {
    backgroundColor: "var(--nb-surface)", color: "var(--nb-fg)", border: "1px solid var(--nb-border)",
    borderRadius: "var(--nb-radius)", boxShadow: "var(--nb-shadow)",
  },
  ".cm-tooltip.cm-tooltip-autocomplete > ul": { fontFamily: "var(--nb-mono)", maxHeight: "16em", maxWidth: "min(46rem, 90vw)" },
  ".cm-tooltip.cm-tooltip-autocomplete > ul > li": { padding: "1px 6px" },
  ".cm-tooltip.cm-tooltip-autocomplete > ul > li[aria-selected]": {
    backgroundColor: "var(--nb-selected)", color: "var(--nb-selected-fg)",
  },
  ".cm-completionMatchedText": { textDecoration: "none", fontWeight: "700" },
  ".cm-completionDetail": { color: "var(--nb-muted)", fontStyle: "normal", marginLeft: "0.6em" },
  "li[aria-selected] .cm-completionDetail, li[aria-selected] .nb-completion-type": { color: "inherit" },
  ".nb-completion-type": { color: "var(--nb-muted)", float: "right", marginLeft: "1.5em", fontStyle: "italic" },
});

/**
 * The completion extensions of a code cell's editor. `getKernel()` gives the notebook's
 * Kernel (kernel.js) or null. Its keys must come before the notebook's own (Esc, Up, Down).
 */
export function kernelCompletion(getKernel) {
  return [
    autocompletion({
      override: [completionSource(getKernel)],
      activateOnTyping: false,
      defaultKeymap: false,
      interactionDelay: 0,
      addToOptions: [typeColumn],
    }),
    Prec.highest(keymap.of([
      { key: "Tab", run: tab(getKernel) },
      { key: "Enter", run: accept },
      { key: "Escape", run: closeCompletion },
      { key: "Ctrl-Space", run: startCompletion },
      { key: "ArrowDown", run: moveCompletionSelection(true) },
      { key: "ArrowUp", run: moveCompletionSelection(false) },
      { key: "PageDown", run: moveCompletionSelection(true, "page") },
      { key: "PageUp", run: moveCompletionSelection(false, "page") },
    ])),
    theme,
  ];
}
