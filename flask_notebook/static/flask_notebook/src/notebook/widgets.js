// Jupyter widgets (ipywidgets 8) on the page's live kernel: a widget manager built on
// @jupyter-widgets/html-manager, loaded lazily by widgetlink.js (with its CSS) the first time a
// widget shows up.
//
// HTMLManager is made for static embedding: its comm hooks are placeholders. ManagerBase
// (@jupyter-widgets/base-manager) declares `_create_comm` and `_get_comm_info` as the protected
// methods a widget manager for a kernel implements, and `loadClass` as the one that says where
// model and view classes come from: overriding these protected methods is that library's
// documented extension point. Comms travel over our kernel WebSocket (kernel.js), binary
// buffers included (wire.js carries them both ways).
//
// The Output widget (and so `interact`) captures the kernel's outputs by msg_id: the kernel sets
// the model's `msg_id` state while code runs "inside" it. The manager sees those updates as
// they arrive (before the model's own asynchronous update) and routes iopub outputs with that
// parent msg_id into the model, as JupyterLab's widget manager does.
//
// Models come from three places: comm_open from the kernel (widgets made while the page is
// open), the kernel's own list (widgets made before the page was opened: the control comm), and
// the notebook's saved widget state (metadata.widgets, written on save): a view whose model the
// kernel does not have renders from it, static, data only.

import { HTMLManager } from "@jupyter-widgets/html-manager/lib/htmlmanager.js";
import * as htmlOutput from "@jupyter-widgets/html-manager/lib/output.js";

// The widgets' CSS (widgets.css, its own entry in scripts/build-assets.mjs: build/widgets-style.css,
// next to this chunk's folder), linked once, when this chunk loads.
const STYLESHEET = new URL("../widgets-style.css", import.meta.url).href;
if (!document.querySelector(`link[href="${STYLESHEET}"]`)) {
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = STYLESHEET;
  document.head.append(link);
}

/** How long a view waits for its model (a run's output may arrive before its comm_open). */
const MODEL_WAIT_MS = 10000;
/** How long the page may take to have a kernel ready, and that kernel to list its widgets. */
const KERNEL_WAIT_MS = 10000;
const KERNEL_LIST_MS = 6000;
const OUTPUT_TYPES = new Set(["stream", "display_data", "execute_result", "error", "clear_output"]);

function uuid() {
  return crypto.randomUUID().replaceAll("-", "");
}

function withDeadline(promise, ms, fallback) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(fallback), ms))]);
}

/** The comm of one widget (IClassicComm of @jupyter-widgets/base) over our kernel socket.
 *  Messages that arrive before the model listens (its class loads asynchronously) wait. */
class Comm {
  constructor(manager, commId, targetName) {
    this.manager = manager;
    this.comm_id = commId;
    this.target_name = targetName;
    this.onMessage = null;
    this.onClose = null;
    this.waiting = [];
  }

  open(data, callbacks, metadata, buffers) {
    return this.manager.sendComm("comm_open", { comm_id: this.comm_id, target_name: this.target_name, data },
      callbacks, metadata, buffers);
  }

  send(data, callbacks, metadata, buffers) {
    return this.manager.sendComm("comm_msg", { comm_id: this.comm_id, data }, callbacks, metadata, buffers);
  }

  close(data, callbacks, metadata, buffers) {
    this.manager.comms.delete(this.comm_id);
    return this.manager.sendComm("comm_close", { comm_id: this.comm_id, data: data || {} }, callbacks, metadata, buffers);
  }

  on_msg(callback) {
    this.onMessage = callback;
    this.flush();
  }

  on_close(callback) {
    this.onClose = callback;
    this.flush();
  }

  /** A comm_msg or comm_close from the kernel. */
  deliver(msg) {
    this.waiting.push(msg);
    this.flush();
  }

  flush() {
    while (this.waiting.length) {
      const msg = this.waiting[0];
      const callback = msg.header.msg_type === "comm_close" ? this.onClose : this.onMessage;
      if (!callback) return;
      this.waiting.shift();
      callback(msg);
    }
  }
}

/** The Output widget's model, which also takes the outputs the manager captured for it. */
class LiveOutputModel extends htmlOutput.OutputModel {
  initialize(attributes, options) {
    super.initialize(attributes, options);
    // Outputs kept in a notebook's saved state are data from a file: untrusted. Live ones
    // come from this page's own kernel.
    this.outputs.trusted = Boolean(this.comm);
  }

  captured(msg) {
    const type = msg.header.msg_type;
    if (type === "clear_output") {
      this.clear_output(Boolean(msg.content.wait));
    } else {
      const { transient: _transient, ...content } = msg.content;
      this.outputs.add({ ...content, output_type: type });
    }
    this.set("outputs", this.outputs.toJSON(), { newMessage: true });
    this.save_changes();
  }
}

export class WidgetManager extends HTMLManager {
  /** `kernel()` is the page's Kernel (or null), `kernelKnown` resolves to it once there is
   *  one; `savedState()` is the notebook's saved widget state. */
  constructor({ kernel, kernelKnown, savedState }) {
    super();
    this.getKernel = kernel;
    this.kernelKnown = kernelKnown;
    this.savedState = savedState;
    /** comm_id -> Comm */
    this.comms = new Map();
    /** model_id -> resolve functions of views waiting for it */
    this.waiters = new Map();
    /** msg_id -> model_id of the Output widget that captures its outputs */
    this.captures = new Map();
    this.restored = false;
    /** The widgets the kernel already had when the manager started. */
    this.kernelModels = withDeadline(this.loadKernelModels(), 2 * KERNEL_WAIT_MS + KERNEL_LIST_MS, null);
  }

  async loadKernelModels() {
    const kernel = await withDeadline(this.kernelKnown, KERNEL_WAIT_MS, null);
    if (!kernel || !(await withDeadline(ready(kernel), KERNEL_WAIT_MS, false))) return;
    try {
      await this._loadFromKernel();
    } catch (error) {
      console.warn("Could not list the kernel's widgets", error);
    }
  }

  // -- the kernel side ---------------------------------------------------------------------

  /** An iopub message from the kernel (widgetlink.js); true when the manager took it. */
  handleIopub(msg) {
    const type = msg.header.msg_type;
    const content = msg.content || {};
    if (type === "comm_open") {
      if (content.target_name !== this.comm_target_name) return false;
      const comm = this.commFor(content.comm_id, content.target_name);
      this.noteCapture(content.comm_id, content.data && content.data.state);
      this.handle_comm_open(comm, msg).catch((error) => console.error("Widget model not created", error));
      return true;
    }
    if (type === "comm_msg" || type === "comm_close") {
      const comm = this.comms.get(content.comm_id);
      if (!comm) return false;
      if (type === "comm_close") this.comms.delete(content.comm_id);
      else if (content.data && content.data.method === "update") this.noteCapture(content.comm_id, content.data.state);
      comm.deliver(msg);
      return true;
    }
    const parent = msg.parent_header && msg.parent_header.msg_id;
    const modelId = parent ? this.captures.get(parent) : undefined;
    if (modelId && OUTPUT_TYPES.has(type)) {
      this.get_model(modelId)
        .then((model) => (typeof model.captured === "function" ? model.captured(msg) : undefined))
        .catch((error) => console.error("Output widget", error));
      return true;
    }
    return false;
  }

  /** An Output widget's msg_id changed: its outputs are captured from now on (or no more). */
  noteCapture(modelId, state) {
    if (!state || typeof state.msg_id !== "string") return;
    for (const [msgId, id] of this.captures) if (id === modelId) this.captures.delete(msgId);
    if (state.msg_id) this.captures.set(state.msg_id, modelId);
  }

  commFor(commId, targetName) {
    let comm = this.comms.get(commId);
    if (!comm) {
      comm = new Comm(this, commId, targetName);
      this.comms.set(commId, comm);
    }
    return comm;
  }

  /** Send a comm message; `callbacks` are the widgets' {shell: {reply}, iopub: {status,
   *  output, clear_output}}. The kernel does not reply to comm messages: its idle status ends
   *  one, which is what the widgets' message throttle waits for. */
  sendComm(msgType, content, callbacks = {}, metadata = {}, buffers = []) {
    const kernel = this.getKernel();
    if (!kernel) throw new Error("no kernel");
    const iopub = (callbacks && callbacks.iopub) || {};
    const shell = (callbacks && callbacks.shell) || {};
    const idle = () => {
      if (iopub.status) iopub.status({ header: { msg_type: "status" }, content: { execution_state: "idle" } });
    };
    return kernel.send("shell", msgType, content, {
      noReply: true,
      onIopub: (msg) => {
        const type = msg.header.msg_type;
        if (type === "clear_output" && iopub.clear_output) iopub.clear_output(msg);
        else if (OUTPUT_TYPES.has(type) && iopub.output) iopub.output(msg);
      },
      onReply: (msg) => shell.reply && shell.reply(msg),
      onDone: idle,
      onFail: idle,
    }, metadata || {}, buffers || []);
  }

  /** The kernel restarted or died: its widgets are gone; the views stay as they were. */
  kernelLost() {
    this.comms.clear();
    this.captures.clear();
    this.disconnect();
  }

  // -- ManagerBase's extension points (protected methods meant for subclasses) ----------------

  async _create_comm(targetName, modelId, data, metadata, buffers) {
    const comm = this.commFor(modelId || uuid(), targetName);
    // With data or metadata the comm is new and opened in the kernel; without, it is the
    // page's end of one the kernel already has.
    if (data !== undefined || metadata !== undefined) comm.open(data || {}, undefined, metadata, buffers);
    return comm;
  }

  _get_comm_info() {
    return new Promise((resolve) => {
      const kernel = this.getKernel();
      // No kernel to ask now (none, dead, or not connected): none of its comms are live here.
      if (!kernel || !kernel.ready()) {
        resolve({});
        return;
      }
      const timer = setTimeout(() => resolve({}), KERNEL_LIST_MS);
      kernel.send("shell", "comm_info_request", { target_name: this.comm_target_name }, {
        onReply: (reply) => {
          clearTimeout(timer);
          resolve((reply.content && reply.content.comms) || {});
        },
        onFail: () => {
          clearTimeout(timer);
          resolve({});
        },
      });
    });
  }

  loadClass(className, moduleName, moduleVersion) {
    if (moduleName === "@jupyter-widgets/output" && className === "OutputModel") return Promise.resolve(LiveOutputModel);
    return super.loadClass(className, moduleName, moduleVersion);
  }

  /** Every view, children of boxes too (their parents create them through here): progress
   *  bars get their role and name (labelProgress). */
  async create_view(model, options = {}) {
    const view = await super.create_view(model, options);
    if (view.model && view.model.get("_view_name") === "ProgressView") labelProgress(view);
    return view;
  }

  register_model(modelId, modelPromise) {
    super.register_model(modelId, modelPromise);
    const waiting = this.waiters.get(modelId);
    if (waiting) {
      this.waiters.delete(modelId);
      for (const wake of waiting) wake();
    }
  }

  // -- views ------------------------------------------------------------------------------

  /** Show the view of `modelId` in `box`, replacing the `status` placeholder; true once shown
   *  (false: the box left the page meanwhile). */
  async renderInto(box, status, modelId) {
    if (!modelId) throw new Error("the output names no widget model");
    const model = await this.findModel(modelId);
    const view = await this.create_view(model, {});
    if (!(await connected(box))) {
      view.remove();
      return false;
    }
    status.remove();
    await this.display_view(view, box);
    nameSliders(box);
    new MutationObserver(() => nameSliders(box)).observe(box, { childList: true, subtree: true, characterData: true });
    return true;
  }

  async findModel(modelId) {
    if (this.has_model(modelId)) return this.get_model(modelId);
    await this.kernelModels;
    if (this.has_model(modelId)) return this.get_model(modelId);
    const saved = this.savedState();
    if (saved && saved.state[modelId]) {
      await this.restoreSaved(saved);
      if (this.has_model(modelId)) return this.get_model(modelId);
    }
    // A run's output can arrive before its comm_open: wait for it, for a while.
    const arrived = await withDeadline(new Promise((resolve) => {
      if (!this.waiters.has(modelId)) this.waiters.set(modelId, []);
      this.waiters.get(modelId).push(() => resolve(true));
    }), MODEL_WAIT_MS, false);
    if (arrived) return this.get_model(modelId);
    throw new Error("its model is not in the kernel, and the notebook has no saved state for it "
      + "(run the cell again)");
  }

  /** The notebook's saved widget state as static models (those the page does not have). */
  restoreSaved(saved) {
    if (!this.restoring) {
      // A copy: set_state puts binary buffers into what it is given.
      this.restoring = this.set_state(this.filterExistingModelState(structuredClone(saved)))
        .catch((error) => console.error("Saved widget state", error));
    }
    return this.restoring;
  }

  /** The state to save in the notebook's metadata (Notebook 7's format), or null. */
  async savedStateNow() {
    try {
      return await this.get_state({ drop_defaults: true });
    } catch (error) {
      console.error("Widget state not saved", error);
      return null;
    }
  }
}

/** noUiSlider's handles (role slider) have no accessible name: give them the widget's
 *  description (its label), as a person reads it. */
function nameSliders(root) {
  for (const handle of root.querySelectorAll("[role=slider]")) {
    const widget = handle.closest(".widget-slider, .jupyter-widgets.widget-inline-hbox");
    const label = widget && widget.querySelector(".widget-label");
    const name = label ? label.textContent.trim() : "";
    if (name && handle.getAttribute("aria-label") !== name) handle.setAttribute("aria-label", name);
  }
}

/** ipywidgets' progress view (IntProgress, FloatProgress: tqdm.notebook's bar) has no role:
 *  make its element a progressbar named by the widget's description (else "Progress"), its
 *  aria-value* following the model. */
function labelProgress(view) {
  const { el, model } = view;
  const update = () => {
    const description = String(model.get("description") || "").trim();
    el.setAttribute("role", "progressbar");
    el.setAttribute("aria-label", description || "Progress");
    for (const [attribute, key] of [["aria-valuemin", "min"], ["aria-valuemax", "max"], ["aria-valuenow", "value"]]) {
      const value = Number(model.get(key));
      if (Number.isFinite(value)) el.setAttribute(attribute, String(value));
      else el.removeAttribute(attribute);
    }
  };
  update();
  view.listenTo(model, "change:value change:min change:max change:description", update);
}

/** Resolves true once the kernel can take requests, false if it is dead. */
function ready(kernel) {
  return new Promise((resolve) => {
    const check = () => {
      if (kernel.ready()) resolve(true);
      else if (kernel.status === "dead") resolve(false);
      else return false;
      kernel.removeEventListener("status", check);
      return true;
    };
    if (!check()) kernel.addEventListener("status", check);
  });
}

/** Resolves true once `node` is in the document (false if it never gets there soon). */
function connected(node) {
  return new Promise((resolve) => {
    let frames = 0;
    const check = () => {
      if (node.isConnected) resolve(true);
      else if (++frames > 120) resolve(false);
      else requestAnimationFrame(check);
    };
    check();
  });
}
