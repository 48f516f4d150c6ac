// A code cell's outputs: the nbformat list (saved as is) and its rendering, by MIME priority.
// Streams merge and overwrite on "\r"; clear_output(wait=True) clears at the next output;
// display ids are tracked by the notebook so update_display_data reaches every copy.

import { appendAnsi, overwrite } from "./ansi.js";
import { renderHtml, renderLatex, renderMarkdown, sanitize } from "./render.js";
import { WIDGET_VIEW_MIME, renderWidget } from "./widgetlink.js";

export const MIME_ORDER = [
  WIDGET_VIEW_MIME, "text/html", "image/png", "image/jpeg", "image/svg+xml", "text/markdown", "text/latex",
  "application/json", "text/plain",
];

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** nbformat's multiline strings may be lists of lines. */
function joined(value) {
  return Array.isArray(value) ? value.join("") : value;
}

function renderJson(value, depth = 0) {
  if (value === null || typeof value !== "object") {
    return el("span", `nb-json-${value === null ? "null" : typeof value}`, JSON.stringify(value));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const details = el("details", "nb-json");
  details.open = depth < 2;
  details.append(el("summary", "", Array.isArray(value) ? `Array(${entries.length})` : `Object {${entries.length}}`));
  const list = el("ul");
  for (const [key, item] of entries) {
    const li = el("li");
    li.append(el("span", "nb-json-key", `${Array.isArray(value) ? key : JSON.stringify(key)}: `), renderJson(item, depth + 1));
    list.append(li);
  }
  details.append(list);
  return details;
}

/** The element for one rich output (display_data / execute_result). */
export function renderData(data, metadata, { trusted, resolveImage }) {
  const mime = MIME_ORDER.find((m) => m in data);
  const box = el("div", "nb-output-data");
  if (!mime) {
    box.textContent = `[no renderer for ${Object.keys(data).join(", ")}]`;
    return box;
  }
  box.dataset.mime = mime;
  const value = data[mime];
  const meta = (metadata && metadata[mime]) || {};
  if (mime === WIDGET_VIEW_MIME) {
    // Data only (a model id): drawn from the live kernel or the saved widget state.
    box.append(renderWidget(value, typeof data["text/plain"] === "string" ? data["text/plain"] : ""));
  } else if (mime === "text/html") {
    box.classList.add("nb-output-html");
    renderHtml(box, joined(value), { trusted });
  } else if (mime === "image/png" || mime === "image/jpeg") {
    const img = el("img");
    img.src = `data:${mime};base64,${joined(value).replace(/\s/g, "")}`;
    img.alt = typeof data["text/plain"] === "string" ? data["text/plain"] : "image output";
    if (meta.width) img.width = meta.width;
    if (meta.height) img.height = meta.height;
    box.append(img);
  } else if (mime === "image/svg+xml") {
    box.innerHTML = sanitize(joined(value), { svg: true });
  } else if (mime === "text/markdown") {
    box.classList.add("nb-rendered-markdown");
    renderMarkdown(box, joined(value), { resolveImage });
  } else if (mime === "text/latex") {
    renderLatex(box, joined(value));
  } else if (mime === "application/json") {
    box.append(renderJson(value));
  } else {
    const pre = el("pre");
    appendAnsi(pre, joined(value));
    box.append(pre);
  }
  return box;
}

export class OutputArea {
  /**
   * @param {object} options label (the region's accessible name), trusted (render HTML as is),
   *   resolveImage, displays (the notebook's display-id registry), onChange (called after a change)
   */
  constructor({ label, trusted = false, resolveImage = null, displays, onChange }) {
    this.outputs = [];
    this.trusted = trusted;
    this.resolveImage = resolveImage;
    this.displays = displays;
    this.onChange = onChange || (() => {});
    this.clearPending = false;
    this.element = el("div", "nb-output-area");
    this.element.setAttribute("role", "region");
    this.element.setAttribute("aria-label", label);
    this.element.setAttribute("aria-live", "polite");
    this.nodes = [];
  }

  setLabel(label) {
    this.element.setAttribute("aria-label", label);
  }

  /** Replace everything with saved outputs. */
  load(outputs) {
    this.clear();
    for (const output of outputs) this.append({ ...output }, false);
  }

  clear() {
    this.clearPending = false;
    this.displays.forget(this);
    this.outputs = [];
    this.nodes = [];
    this.element.replaceChildren();
  }

  /** clear_output: now, or at the next output (wait=True), so the area does not flicker. */
  clearOutput(wait) {
    if (wait) this.clearPending = true;
    else {
      this.clear();
      this.onChange();
    }
  }

  /** A new output from the kernel. */
  add(output) {
    if (this.clearPending) this.clear();
    this.append(output, true);
    this.onChange();
  }

  append(output, live) {
    const last = this.outputs[this.outputs.length - 1];
    if (output.output_type === "stream") {
      output.text = joined(output.text);
      if (last && last.output_type === "stream" && last.name === output.name) {
        last.text = overwrite(last.text + output.text, { keepLast: true });
        this.renderAt(this.outputs.length - 1);
        return;
      }
      output.text = overwrite(output.text, { keepLast: live });
    }
    const displayId = output.transient && output.transient.display_id;
    delete output.transient;
    this.outputs.push(output);
    this.nodes.push(null);
    this.renderAt(this.outputs.length - 1);
    if (displayId) this.displays.add(displayId, this, output);
  }

  /** update_display_data: the output object is one of ours; render it again. */
  update(output, data, metadata) {
    output.data = data;
    output.metadata = metadata || {};
    const index = this.outputs.indexOf(output);
    if (index >= 0) this.renderAt(index);
    this.onChange();
  }

  renderAt(index) {
    const node = this.renderOutput(this.outputs[index]);
    const old = this.nodes[index];
    if (old) old.replaceWith(node);
    else this.element.append(node);
    this.nodes[index] = node;
  }

  renderOutput(output) {
    const wrapper = el("div", `nb-output nb-output-${output.output_type}`);
    if (output.output_type === "stream") {
      wrapper.classList.add(`nb-stream-${output.name}`);
      const pre = el("pre");
      appendAnsi(pre, overwrite(joined(output.text)));
      wrapper.append(pre);
    } else if (output.output_type === "error") {
      const pre = el("pre");
      appendAnsi(pre, (output.traceback || []).join("\n") || `${output.ename}: ${output.evalue}`);
      wrapper.append(pre);
    } else {
      if (output.output_type === "execute_result" && output.execution_count != null) {
        wrapper.append(el("div", "nb-output-prompt", `Out[${output.execution_count}]:`));
      }
      wrapper.append(renderData(output.data || {}, output.metadata, { trusted: this.trusted, resolveImage: this.resolveImage }));
    }
    return wrapper;
  }

  /** input() / getpass(): a labelled box; Enter sends the reply and leaves the answer shown. */
  askInput(prompt, password, reply) {
    if (this.clearPending) this.clear();
    const id = `nb-stdin-${Math.random().toString(36).slice(2)}`;
    const form = el("form", "nb-output nb-stdin");
    const label = el("label", "", prompt);
    label.htmlFor = id;
    const input = el("input");
    input.id = id;
    input.type = password ? "password" : "text";
    input.autocomplete = "off";
    input.spellcheck = false;
    if (!prompt) input.setAttribute("aria-label", "Input for the running cell");
    form.append(label, input);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = input.value;
      form.replaceWith(el("pre", "nb-output nb-stdin-done", prompt + (password ? "········" : value)));
      reply(value);
    });
    this.element.append(form);
    input.focus();
    return form;
  }

  toJSON() {
    return this.outputs.map((o) => ({ ...o }));
  }
}

/** The notebook's display ids: display_id -> the outputs showing it, in any cell. */
export class Displays {
  constructor() {
    this.byId = new Map();
  }

  add(displayId, area, output) {
    if (!this.byId.has(displayId)) this.byId.set(displayId, []);
    this.byId.get(displayId).push({ area, output });
  }

  forget(area) {
    for (const [displayId, list] of this.byId) {
      const kept = list.filter((entry) => entry.area !== area);
      if (kept.length) this.byId.set(displayId, kept);
      else this.byId.delete(displayId);
    }
  }

  update(displayId, data, metadata) {
    for (const { area, output } of this.byId.get(displayId) || []) area.update(output, data, metadata);
  }
}
