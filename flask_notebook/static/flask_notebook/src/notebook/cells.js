// One cell: its nbformat model, its editor, its rendered Markdown and its outputs.

import { createEditor } from "./editor.js";
import { OutputArea } from "./outputs.js";
import { renderMarkdown } from "./render.js";

const TYPE_NAMES = { code: "Code", markdown: "Markdown", raw: "Raw" };

function newId() {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}

function joined(value) {
  return Array.isArray(value) ? value.join("") : (value || "");
}

export class Cell {
  /**
   * @param {object} model an nbformat v4 cell (or {cell_type} for a new one)
   * @param {object} env the notebook's services: cellKeys(cell), changed(), focused(cell),
   *   displays, resolveImage(src, cell)
   */
  constructor(model, env) {
    this.env = env;
    this.type = model.cell_type;
    this.id = model.id || newId();
    this.metadata = { ...(model.metadata || {}) };
    this.trusted = this.metadata.trusted === true;
    delete this.metadata.trusted;
    this.attachments = model.attachments || null;
    this.executionCount = model.execution_count ?? null;
    this.running = false;
    this.queued = false;
    /** Counts the person's edits of the source and type (runs.js keeps those cells as shown). */
    this.edits = 0;

    this.element = document.createElement("div");
    this.element.className = "nb-cell";
    this.element.tabIndex = -1;
    this.element.cell = this;
    this.element.setAttribute("aria-selected", "false");
    this.prompt = document.createElement("div");
    this.prompt.className = "nb-prompt";
    this.prompt.setAttribute("aria-hidden", "true");
    // The cell is a row of the cells grid: the gutter (drag handle, prompt) and the body.
    this.handle = document.createElement("div");
    this.handle.className = "nb-drag-handle";
    this.handle.setAttribute("role", "button");
    this.handle.draggable = true;
    this.handle.tabIndex = -1; // keyboard: Ctrl-Shift-Up/Down move the selected cells
    this.handle.title = "Drag to move the selected cells (keys: Ctrl-Shift-Up / Ctrl-Shift-Down)";
    this.gutter = document.createElement("div");
    this.gutter.className = "nb-gutter";
    this.gutter.setAttribute("role", "gridcell");
    this.gutter.append(this.handle, this.prompt);
    this.body = document.createElement("div");
    this.body.className = "nb-cell-body";
    this.body.setAttribute("role", "gridcell");
    this.editorHost = document.createElement("div");
    this.editorHost.className = "nb-editor";
    this.rendered = document.createElement("div");
    this.rendered.className = "nb-rendered-markdown";
    this.rendered.addEventListener("dblclick", () => this.env.edit(this));
    this.body.append(this.editorHost, this.rendered);

    this.outputs = new OutputArea({
      label: "Cell output",
      trusted: this.trusted,
      resolveImage: (src) => env.resolveImage(src, this),
      displays: env.displays,
      onChange: () => env.changed(),
    });
    this.collapser = document.createElement("button");
    this.collapser.type = "button";
    this.collapser.className = "nb-collapser";
    this.collapser.addEventListener("click", () => this.toggleOutputs());
    this.outputWrapper = document.createElement("div");
    this.outputWrapper.className = "nb-output-wrapper";
    this.outputWrapper.append(this.collapser, this.outputs.element);
    this.body.append(this.outputWrapper);
    this.element.append(this.gutter, this.body);

    this.editor = createEditor({
      parent: this.editorHost,
      doc: joined(model.source),
      type: this.type,
      label: "Cell source",
      cellKeys: env.cellKeys(this),
      onChange: () => {
        this.edits += 1;
        if (this.type === "markdown") this.isRendered = false;
        env.changed();
      },
      onFocus: () => env.focused(this),
      numbered: Boolean(env.lineNumbers && env.lineNumbers()),
      kernel: () => (env.kernel ? env.kernel() : null),
    });
    if (this.type === "code") this.outputs.load(model.outputs || []);
    this.setOutputsHidden(Boolean(this.metadata.jupyter && this.metadata.jupyter.outputs_hidden) || this.metadata.collapsed === true);
    this.isRendered = false;
    this.applyType();
    if (this.type === "markdown" && this.source.trim()) this.render();
  }

  get source() {
    return this.editor.view.state.doc.toString();
  }

  set source(text) {
    const view = this.editor.view;
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
  }

  /** Accessible names carry the cell's position: "Cell 3 output". */
  setIndex(index) {
    const n = index + 1;
    this.element.setAttribute("aria-label", `${TYPE_NAMES[this.type]} cell ${n}`);
    this.element.setAttribute("role", "row");
    this.handle.setAttribute("aria-label", `Drag to move cell ${n}`);
    this.outputs.setLabel(`Cell ${n} output`);
    this.editor.setLabel(`${TYPE_NAMES[this.type]} cell ${n} source`);
    this.collapser.setAttribute("aria-label", `${this.outputsHidden ? "Expand" : "Collapse"} output of cell ${n}`);
    this.index = index;
  }

  applyType() {
    this.element.dataset.type = this.type;
    this.outputWrapper.hidden = this.type !== "code";
    this.updatePrompt();
  }

  setType(type) {
    if (type === this.type) return;
    if (type !== "code") {
      this.outputs.clear();
      this.executionCount = null;
    }
    this.type = type;
    this.edits += 1;
    this.isRendered = false;
    this.editor.setType(type);
    this.applyType();
    this.setIndex(this.index ?? 0);
  }

  updatePrompt() {
    if (this.type !== "code") {
      this.prompt.textContent = "";
      return;
    }
    const count = this.running || this.queued ? "*" : (this.executionCount ?? " ");
    this.prompt.textContent = `[${count}]:`;
    this.element.classList.toggle("nb-running", this.running);
    this.element.classList.toggle("nb-queued", this.queued && !this.running);
    this.element.setAttribute("aria-busy", this.running || this.queued ? "true" : "false");
  }

  set isRendered(value) {
    this._rendered = value;
    this.element.classList.toggle("nb-is-rendered", value);
  }

  get isRendered() {
    return this._rendered;
  }

  /** Markdown: show the rendered text instead of the editor. */
  render() {
    if (this.type !== "markdown") return;
    renderMarkdown(this.rendered, this.source || "*Empty Markdown cell: double-click or press Enter to edit.*", {
      resolveImage: (src) => this.env.resolveImage(src, this),
    });
    this.isRendered = true;
  }

  toggleOutputs() {
    this.setOutputsHidden(!this.outputsHidden);
    this.env.changed();
  }

  setOutputsHidden(hidden) {
    this.outputsHidden = hidden;
    this.element.classList.toggle("nb-outputs-hidden", hidden);
    this.collapser.setAttribute("aria-expanded", String(!hidden));
    this.collapser.textContent = hidden ? "▸ Output hidden" : "";
    if (this.index !== undefined) this.setIndex(this.index);
  }

  get lineNumbers() {
    return this.editor.lineNumbers;
  }

  setLineNumbers(on) {
    this.editor.setLineNumbers(on);
  }

  focusEditor(at = "end") {
    const view = this.editor.view;
    if (at === "start") view.dispatch({ selection: { anchor: 0 } });
    else if (at === "end") view.dispatch({ selection: { anchor: view.state.doc.length } });
    view.focus();
  }

  toJSON() {
    const model = { id: this.id, cell_type: this.type, metadata: { ...this.metadata }, source: this.source };
    if (this.type === "code") {
      model.outputs = this.outputs.toJSON();
      model.execution_count = this.executionCount;
      if (this.outputsHidden) model.metadata.jupyter = { ...(model.metadata.jupyter || {}), outputs_hidden: true };
      else if (model.metadata.jupyter) {
        const { outputs_hidden: _, ...rest } = model.metadata.jupyter;
        model.metadata.jupyter = rest;
        if (!Object.keys(rest).length) delete model.metadata.jupyter;
      }
      delete model.metadata.collapsed;
      // A transient key: the server re-signs the notebook when every code cell is trusted.
      model.metadata.trusted = this.trusted;
    } else if (this.attachments && this.source.includes("attachment:")) {
      model.attachments = this.attachments;
    }
    return model;
  }

  destroy() {
    this.outputs.clear();
    this.editor.view.destroy();
  }
}
