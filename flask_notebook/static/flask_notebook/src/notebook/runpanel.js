// The notebook's run dialogs: "Run history" (this notebook's runs, js/runlist.js) and "Run
// with parameters…" (papermill's way: a field per assignment of the cell tagged
// `parameters`, pre-filled with its values; the run writes an executed copy at an output
// path, and the server injects the values after that cell).

import { oneAtATime } from "../../js/api.js";
import { el, openDialog } from "../../js/dialogs.js";
import { listRuns, runTable } from "../../js/runlist.js";

const HISTORY_POLL_MS = 2000;

/** The Run history dialog of the notebook at `path()`; `runs` (runs.js) tells of changes. */
export function showRunHistory({ path, runs, onClose }) {
  const title = el("h2", { id: "nb-run-history-title" }, "Run history");
  const table = runTable({ label: "Runs of this notebook", onChange: () => refresh() });
  const refreshButton = el("button", { type: "button" }, "Refresh");
  const close = el("button", { type: "button", className: "nb-primary" }, "Close");
  const status = el("p", { className: "nb-hint", role: "status" });
  const dialog = el("dialog", { className: "nb-dialog nb-run-history", "aria-labelledby": "nb-run-history-title" },
    title, status, table.element,
    el("div", { className: "nb-dialog-buttons" }, refreshButton, close));
  const refresh = oneAtATime(() =>
    listRuns({ path: path(), limit: 50 })
      .then(({ runs: list, total }) => {
        table.update(list);
        status.textContent = total > list.length ? `The last ${list.length} of ${total} runs.` : "";
      })
      .catch((problem) => {
        status.textContent = `Could not list the runs: ${problem.message}`;
      })
      .finally(() => {
        dialog.dataset.state = "ready";
      }),
  );
  const onChange = () => refresh();
  const timer = setInterval(refresh, HISTORY_POLL_MS);
  runs.addEventListener("change", onChange);
  refreshButton.addEventListener("click", refresh);
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    clearInterval(timer);
    runs.removeEventListener("change", onChange);
    dialog.remove();
    onClose();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
  refresh();
  return dialog;
}

// -- parameters ------------------------------------------------------------------------------

/** The first code cell tagged `parameters`, as papermill finds it, or null. */
export function parametersCell(cells) {
  return cells.find((cell) => cell.type === "code" && Array.isArray(cell.metadata.tags)
    && cell.metadata.tags.includes("parameters")) || null;
}

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=]*)?=(?!=)(.*)$/;

/** The simple `name = literal` lines of a parameters cell: [{name, text}], text as written. */
export function parseParameters(source) {
  const found = [];
  for (const line of source.split("\n")) {
    const match = ASSIGNMENT.exec(line);
    if (!match) continue;
    const parsed = parseLiteral(match[2]);
    if (parsed === undefined || found.some((p) => p.name === match[1])) continue;
    found.push({ name: match[1], text: parsed.text });
  }
  return found;
}

/**
 * A Python literal (str, int, float, bool, None, and lists, tuples and dicts of them) as JSON:
 * {value, text} (text: the literal as written, without a trailing comment), or undefined
 * when `source` is not one.
 */
export function parseLiteral(source) {
  let i = 0;
  const fail = () => {
    throw new SyntaxError("not a literal");
  };
  const space = () => {
    while (i < source.length && /\s/.test(source[i])) i += 1;
  };
  const string = () => {
    const quote = source[i];
    if (source.startsWith(quote.repeat(3), i)) fail(); // triple quotes: not a simple line
    i += 1;
    let out = "";
    while (i < source.length && source[i] !== quote) {
      if (source[i] === "\\") {
        const next = source[i + 1];
        const simple = { n: "\n", t: "\t", r: "\r", "\\": "\\", "'": "'", '"': '"', 0: "\0" };
        if (next in simple) {
          out += simple[next];
          i += 2;
        } else if (next === "u" || next === "x") {
          const size = next === "u" ? 4 : 2;
          const hex = source.slice(i + 2, i + 2 + size);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== size) fail();
          out += String.fromCharCode(parseInt(hex, 16));
          i += 2 + size;
        } else {
          out += "\\";
          i += 1;
        }
      } else {
        out += source[i];
        i += 1;
      }
    }
    if (source[i] !== quote) fail();
    i += 1;
    return out;
  };
  const sequence = (close, item) => {
    i += 1;
    const items = [];
    for (;;) {
      space();
      if (source[i] === close) {
        i += 1;
        return items;
      }
      items.push(item());
      space();
      if (source[i] === ",") i += 1;
      else if (source[i] !== close) fail();
    }
  };
  const value = () => {
    space();
    const c = source[i];
    if (c === "'" || c === '"') return string();
    if (c === "[") return sequence("]", value);
    if (c === "(") return sequence(")", value);
    if (c === "{") {
      const entries = sequence("}", () => {
        const key = value();
        space();
        if (source[i] !== ":" || typeof key !== "string") fail();
        i += 1;
        return [key, value()];
      });
      return Object.fromEntries(entries);
    }
    const word = /^(True|False|None)\b/.exec(source.slice(i));
    if (word) {
      i += word[1].length;
      return { True: true, False: false, None: null }[word[1]];
    }
    const number = /^[-+]?(\d[\d_]*)?(\.\d[\d_]*)?([eE][-+]?\d+)?/.exec(source.slice(i));
    if (number && number[0] && /\d/.test(number[0])) {
      i += number[0].length;
      return Number(number[0].replaceAll("_", ""));
    }
    return fail();
  };
  try {
    const start = source.length - source.trimStart().length;
    const result = value();
    const end = i;
    space();
    if (i < source.length && source[i] !== "#") return undefined;
    return { value: result, text: source.slice(start, end) };
  } catch {
    return undefined;
  }
}

function timestamp(date = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

/** `<dir>/<name>-<timestamp>.ipynb` beside the notebook at `path`. */
export function defaultOutputPath(path, date = new Date()) {
  return `${path.replace(/\.ipynb$/, "")}-${timestamp(date)}.ipynb`;
}

/**
 * The Run with parameters dialog. `start(body)` posts the run (runs.js `start`); resolves to
 * its model, or null when cancelled.
 */
export function runWithParameters({ path, cells, kernelName, start }) {
  const cell = parametersCell(cells);
  const parameters = cell ? parseParameters(cell.source) : [];
  const fields = parameters.map(({ name, text }, n) => {
    const id = `nb-param-${n}`;
    const input = el("input", { type: "text", id, value: text, autocomplete: "off", spellcheck: "false", dataset: { name } });
    return { name, text, input, node: el("div", { className: "nb-field" }, el("label", { htmlFor: id }, name), input) };
  });
  const outputInput = el("input", { type: "text", id: "nb-run-output", value: defaultOutputPath(path), autocomplete: "off",
    spellcheck: "false", required: true });
  const intro = cell
    ? el("p", { className: "nb-hint" }, "Values are Python literals ('text', 3, 2.5, True, None, [1, 2]); "
      + "the run assigns the changed ones in a cell after the parameters cell, in a copy of the notebook.")
    : el("p", { className: "nb-hint" }, "This notebook has no cell tagged \u201cparameters\u201d: the run executes an "
      + "unchanged copy. Tag a cell \u201cparameters\u201d (its metadata's tags) to get a field per assignment.");
  const body = [intro, ...fields.map((f) => f.node),
    el("div", { className: "nb-field" }, el("label", { htmlFor: "nb-run-output" }, "Output notebook"), outputInput)];
  return openDialog({
    title: "Run with parameters",
    className: "nb-run-parameters",
    body,
    confirmLabel: "Run",
    initialFocus: fields.length ? fields[0].input : outputInput,
    onSubmit: async () => {
      const values = {};
      for (const { name, text, input } of fields) {
        const typed = input.value.trim();
        if (typed === text) continue; // papermill's way: only what was given is injected
        const parsed = parseLiteral(typed);
        if (parsed !== undefined) values[name] = parsed.value;
        else if (/^['"]/.test(text)) values[name] = typed; // a text parameter given without quotes
        else throw new Error(`${name}: ${typed || "(empty)"} is not a Python literal`);
      }
      const output = outputInput.value.trim().replace(/^\/+/, "");
      if (!output.endsWith(".ipynb")) throw new Error("The output notebook's name must end in .ipynb");
      if (output === path) throw new Error("The output must be another notebook than this one");
      const request = { path, parameters: values, output_path: output };
      if (kernelName) request.kernel_name = kernelName;
      return start(request);
    },
  });
}
