// The always-loaded side of Jupyter widgets (ipywidgets): it notices widgets, an output of the
// widget-view MIME type or a comm_open for "jupyter.widget" from the kernel, and only then
// loads the widget manager (widgets.js, a lazy chunk with its CSS). While the manager loads,
// the kernel's iopub messages are kept and handed to it in order, so no comm message is lost.
//
// Cells run as runs on the server (runs.js): a widget's view output arrives by SSE, its
// comm_open over the kernel WebSocket, in either order. The manager waits for the model.

export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";
export const WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json";
const COMM_TYPES = new Set(["comm_open", "comm_msg", "comm_close"]);

class WidgetLink {
  constructor() {
    this.kernel = null;
    this.notebook = null;
    /** The WidgetManager once loaded; `loading` its promise. */
    this.manager = null;
    this.loading = null;
    /** iopub messages that arrived while the manager was loading. */
    this.pending = null;
    /** Resolves to the kernel once the page has one (the notebook draws its outputs first). */
    this.kernelKnown = new Promise((resolve) => {
      this.resolveKernel = resolve;
    });
  }

  /** The page's kernel (kernel.js) and notebook (its metadata has the saved widget state). */
  connect(kernel, notebook) {
    this.kernel = kernel;
    this.notebook = notebook;
    this.resolveKernel(kernel);
    kernel.onIopub((msg) => this.iopub(msg));
    kernel.addEventListener("status", (event) => {
      const { status } = event.detail;
      if (this.manager && (status === "restarting" || status === "dead")) this.manager.kernelLost();
    });
  }

  /** The page's notebook, as soon as it is loaded: its metadata has the saved widget state,
   *  which views need whether a kernel comes or not. */
  useNotebook(notebook) {
    this.notebook = notebook;
  }

  /** The page has no kernel (its session could not be made, or the person chose none): views
   *  render from the saved state at once, static. A kernel that comes later (connect) serves
   *  the widgets made on it. */
  noKernel() {
    this.resolveKernel(null);
  }

  iopub(msg) {
    if (this.manager) return this.manager.handleIopub(msg);
    const type = msg.header.msg_type;
    if (this.pending) {
      this.pending.push(msg);
      return COMM_TYPES.has(type);
    }
    if (type === "comm_open" && msg.content.target_name === "jupyter.widget") {
      this.pending = [msg];
      this.load().catch(() => {});
      return true;
    }
    return false;
  }

  /** The saved state of the notebook's widgets (metadata.widgets), or null. */
  savedState() {
    const widgets = this.notebook && this.notebook.metadata.widgets;
    const state = widgets && widgets[WIDGET_STATE_MIME];
    return state && typeof state.state === "object" ? state : null;
  }

  /** The widget manager, loaded the first time it is asked for. */
  load() {
    if (!this.loading) {
      if (!this.pending) this.pending = [];
      this.loading = import("./widgets.js").then(({ WidgetManager }) => {
        const manager = new WidgetManager({
          kernel: () => this.kernel, kernelKnown: this.kernelKnown, savedState: () => this.savedState() });
        const pending = this.pending;
        this.pending = null;
        this.manager = manager;
        for (const msg of pending) manager.handleIopub(msg);
        return manager;
      });
      this.loading.catch(() => {
        this.loading = null;
        this.pending = null;
      });
    }
    return this.loading;
  }

  /** A view of `modelId` is shown. A widget the saved state lacks was made by the kernel (a run,
   *  which wrote its view into the file itself): the notebook has changed, so that the next
   *  save (or autosave, or the warning on leaving) brings the file its state too. */
  shown(modelId) {
    const saved = this.savedState();
    if (this.notebook && modelId && !(saved && saved.state[modelId])) this.notebook.changed();
  }

  /** Before a save: the widgets' state into the notebook's metadata (as Notebook 7 does).
   *  Nothing changes while no widget was ever shown. */
  async saveState() {
    if (!this.manager || !this.notebook) return;
    const state = await this.manager.savedStateNow();
    if (!state) return;
    this.notebook.metadata.widgets = { ...(this.notebook.metadata.widgets || {}), [WIDGET_STATE_MIME]: state };
  }
}

export const widgetLink = new WidgetLink();

/** The element of a widget-view output: "Loading widget…" until the view replaces it. */
export function renderWidget(data, fallbackText) {
  const box = document.createElement("div");
  box.className = "nb-widget";
  const status = document.createElement("div");
  status.className = "nb-widget-status";
  status.setAttribute("role", "status");
  status.textContent = "Loading widget…";
  box.append(status);
  const modelId = data && data.model_id;
  widgetLink.load()
    .then((manager) => manager.renderInto(box, status, modelId))
    .then((shown) => shown && widgetLink.shown(modelId))
    .catch((error) => {
      status.classList.add("nb-widget-error");
      status.textContent = `The widget cannot be shown: ${error && error.message ? error.message : error}`
        + (fallbackText ? ` (${fallbackText})` : "");
    });
  return box;
}
