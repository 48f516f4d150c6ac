// The notebook editor page: load the notebook, start or join its session, connect to the
// kernel, and wire the header, the keyboard, saving and runs together. Cells run as runs on
// the server (runs.js), on the session's kernel; the kernel WebSocket is for everything else.

import { ApiError, apiUrl, contentsUrl, encodePath, pageConfig, pageUrl, request } from "../../js/api.js";
import { confirmDialog, el, promptDialog, showError, submitOnEnterInSelects, toast } from "../../js/dialogs.js";
import { downloadAs, showScriptLabel } from "./export.js";
import { Kernel } from "./kernel.js";
import { KernelNotice, adoptLanguageInfo } from "./kernelwatch.js";
import { installKeyboard } from "./keyboard.js";
import { Notebook } from "./notebook.js";
import { runWithParameters, showRunHistory } from "./runpanel.js";
import { Runs } from "./runs.js";
import { Saver } from "./save.js";
import { buildHeader } from "./toolbar.js";
import { trustNotebook } from "./trust.js";
import { Finder, installFindKeys } from "./find.js";
import { showKernelHelp, showShortcuts } from "./help.js";
import { openPalette } from "./palette.js";
import { followSettings, openSettings, setTheme, settingIs, toggleLineNumbers } from "./settings.js";
import { widgetLink } from "./widgetlink.js";

const STATUS_TEXT = {
  connecting: "Connecting",
  starting: "Starting",
  idle: "Idle",
  busy: "Busy",
  restarting: "Restarting",
  dead: "Dead",
  disconnected: "Disconnected",
  reconnecting: "Reconnecting",
  none: "No kernel",
};

/** The nginx lines that let the kernel WebSocket through a reverse proxy (README, Deployment). */
const NGINX_WEBSOCKET = [
  "proxy_http_version 1.1;",
  "proxy_set_header Upgrade $http_upgrade;",
  'proxy_set_header Connection "upgrade";',
  "proxy_set_header Host $http_host;",
].join("\n");

/** The message for a kernel WebSocket that cannot connect ({kind} from Kernel's "problem"). */
function connectionProblem(kind, socketPath) {
  const title = el("strong", {}, "The kernel connection could not be established.");
  if (kind === "websocket") {
    return [
      title,
      el("p", {}, "The server answers HTTP requests (the notebook loaded and its kernel is running), but the "
        + "kernel's WebSocket never opened, so cells cannot run. The page keeps trying."),
      el("p", {}, "The likely cause is a reverse proxy in front of the server that does not pass the WebSocket "
        + "upgrade for ", el("code", {}, socketPath), ". For nginx, add these lines to the location that "
        + "proxies the server, then reload nginx:"),
      el("pre", { className: "nb-connection-fix" }, el("code", {}, NGINX_WEBSOCKET)),
      el("p", {}, "Other proxies need the same: pass the Upgrade and Connection headers, and the Host header "
        + "unchanged. See \u201cDeployment\u201d in flask-notebook's README."),
    ];
  }
  if (kind === "login") {
    return [
      title,
      el("p", {}, "The server refuses this page's requests (403): your login has expired or you logged out. ",
        el("a", { href: location.href, target: "_blank", rel: "noopener" }, "Log in again in a new tab"),
        "; this page reconnects by itself once you have, and your unsaved changes stay here."),
    ];
  }
  return [
    title,
    el("p", {}, "The server does not answer: it may have stopped, or the network is down. The page keeps trying."),
  ];
}

function dirname(path) {
  return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
}

function basename(path) {
  return path.slice(path.lastIndexOf("/") + 1);
}

class App {
  constructor(root, config) {
    this.root = root;
    this.config = config;
    this.path = config.path;
    this.session = null;
    this.kernel = null;
    this.kernelspecs = null;
  }

  async start() {
    const { data, response } = await request("GET", contentsUrl(this.path), { query: { type: "notebook" } });
    this.model = data;
    const header = el("div", { className: "nb-notebook-header" });
    // A grid of rows (cells) that can be selected together (aria-selected on each, as the tree).
    const cells = el("div", { className: "nb-cells", role: "grid", "aria-multiselectable": "true", "aria-label": "Cells" });
    this.root.replaceChildren(header, cells);
    this.notebook = new Notebook(cells, { resolveImage: (src, cell) => this.resolveImage(src, cell) });
    this.handles = buildHeader(header, this.actions());
    installKeyboard(this.notebook, this.actions());
    this.kernelNotice = new KernelNotice(this.handles.connectionProblem, {
      // A dead kernel is gone (its session with it): a new session gets a new one.
      restart: () => (this.kernel && this.kernel.status === "dead" ? this.startSession() : this.actions().restart()),
      done: () => this.notebook.commandMode(),
    });
    this.notebook.load(data.content);
    widgetLink.useNotebook(this.notebook); // saved widget state, with or without a kernel
    this.notebook.addEventListener("select", () => this.syncCellType());
    cells.addEventListener("focusin", () => this.syncCellType());
    this.saver = new Saver(this.notebook, {
      path: this.path,
      etag: response.headers.get("ETag"),
      autosaveSeconds: Number(this.config.autosaveInterval) || 0,
      runWriting: () => this.runs.writing,
      beforeSave: () => widgetLink.saveState(),
    });
    this.saver.addEventListener("status", (event) => this.showSaveState(event.detail));
    this.runs = new Runs(this.notebook, {
      path: () => this.path,
      kernelId: () => (this.session ? this.session.kernel.id : null),
      prepare: () => this.saveForRun(),
      saved: (etag) => this.saver.adoptEtag(etag),
      settled: () => this.saver.settled(),
      kernelDead: () => Boolean(this.kernel && this.kernel.status === "dead"),
      // A run ended by its kernel's death: told by the kernel notice (true), not by a toast.
      kernelLost: (reason) => {
        this.kernelNotice.lost(reason, { dead: Boolean(this.kernel && this.kernel.status === "dead") });
        return true;
      },
    });
    this.notebook.runner = (cellsToRun) => this.runs.run(cellsToRun);
    // Find and replace, the palette's key, the user's settings (find.js, palette.js, settings.js).
    this.finder = new Finder(this.notebook, header);
    installFindKeys(this.finder);
    installPaletteKey(() => this.actions().palette());
    followSettings(this);
    this.showName();
    showScriptLabel(this.root, this.notebook.metadata);
    this.showSaveState({ status: "saved" });
    if (data.message) toast(`This notebook is not valid: ${data.message}`, { error: true });
    this.root.dataset.state = "ready";
    this.notebook.commandMode();
    this.followRuns();
    await this.startSession();
  }

  /** Show the runs of this notebook in progress (started from any tab or browser). */
  async followRuns() {
    try {
      await this.runs.attach();
    } catch (error) {
      showError("Following the notebook's runs", error);
    }
  }

  /** Before a run: save what the person sees, so the run executes it, in cells the file has. */
  async saveForRun() {
    if (!this.saver.dirty && !this.notebook.unsavedIds) return true;
    return this.saver.save({ checkpoint: false });
  }

  kernelName() {
    const spec = this.notebook.metadata.kernelspec;
    return spec && spec.name ? spec.name : null;
  }

  async startSession(kernelName = this.kernelName()) {
    this.showKernelState("connecting");
    try {
      const body = { path: this.path, type: "notebook", name: basename(this.path), kernel: kernelName ? { name: kernelName } : {} };
      let session;
      try {
        session = (await request("POST", apiUrl("sessions"), { body })).data;
      } catch (error) {
        if (error.status !== 501 || !kernelName) throw error;
        // Its kernel is not installed here: the person chooses one, or none (kernelchoice.js).
        const choice = await this.chooseKernel();
        if (choice) await this.startSession(choice);
        else if (!this.kernel) widgetLink.noKernel(); // saved widgets render without one
        return;
      }
      this.useSession(session);
    } catch (error) {
      this.showKernelState("dead", `no kernel: ${error.message}`);
      if (!this.kernel) widgetLink.noKernel(); // saved widgets render without one
    }
  }

  /** Ask which kernel replaces the notebook's missing one; null: none (the page stays
   *  without a kernel, its kernelspec unchanged, until Kernel > Change kernel…). */
  async chooseKernel() {
    this.showKernelState("none");
    const { chooseKernel } = await import("./kernelchoice.js");
    try {
      this.kernelspecs = (await request("GET", this.config.kernelspecsUrl)).data;
    } catch {
      this.kernelspecs = null;
    }
    const choice = await chooseKernel(this.notebook.metadata.kernelspec, this.kernelspecs);
    if (!choice) this.handles.kernelName.textContent = "";
    // Focus in the notebook, unless it is there already: a key pressed as the dialog closed
    // (Enter, to edit the cell) may have moved it into an editor (see removeDialog).
    if (!this.notebook.container.contains(document.activeElement)) this.notebook.commandMode();
    return choice;
  }

  useSession(session) {
    this.session = session;
    const kernelModel = session.kernel;
    if (this.kernel) this.kernel.switchTo(kernelModel.id);
    else {
      this.kernel = new Kernel(kernelModel.id);
      this.kernel.addEventListener("status", (event) => {
        const { status, reason } = event.detail;
        if (status === "restarting" || status === "dead") this.notebook.resetRunning();
        this.showKernelState(status, reason);
        this.kernelNotice.status(status, reason);
      });
      this.kernel.addEventListener("info", (event) => {
        adoptLanguageInfo(this.notebook, event.detail);
        showScriptLabel(this.root, this.notebook.metadata); // "Executable Script (.py)"
      });
      this.kernel.addEventListener("problem", (event) => this.showConnectionProblem(event.detail));
      // Code this page did not send started on the kernel: a run from another tab, maybe.
      this.kernel.addEventListener("unhandled", (event) => {
        if (event.detail.header.msg_type === "execute_input") this.discoverRuns();
      });
      this.notebook.kernel = this.kernel;
      // The Help menu lists the kernel's help links once it has told us them (kernel_info).
      this.kernel.addEventListener("status", () => showKernelHelp(this.kernel));
      const helpMenu = this.root.querySelector('.nb-menubar [role=menu][aria-label="Help"]');
      const refreshHelp = () => showKernelHelp(this.kernel);
      if (helpMenu) for (const type of ["click", "keydown"]) helpMenu.parentElement.addEventListener(type, refreshHelp, true);
      widgetLink.connect(this.kernel, this.notebook);
    }
    this.setKernelspec(kernelModel.name);
  }

  async setKernelspec(name) {
    try {
      if (!this.kernelspecs) this.kernelspecs = await request("GET", this.config.kernelspecsUrl).then((r) => r.data);
    } catch {
      this.kernelspecs = { kernelspecs: {} };
    }
    const spec = this.kernelspecs.kernelspecs[name];
    const displayName = spec ? spec.spec.display_name : name;
    this.handles.kernelName.textContent = displayName;
    const current = this.notebook.metadata.kernelspec;
    if (!current || current.name !== name) {
      this.notebook.metadata.kernelspec = { name, display_name: displayName, language: spec ? spec.spec.language : "" };
      if (current) this.notebook.changed();
    }
  }

  /** Follow runs of this notebook started elsewhere: once at a time, and only while the page
   *  follows none (runs of one kernel go one after another, so code starting meanwhile is the
   *  followed run's; one being posted is followed when its answer comes). */
  discoverRuns() {
    if (this.discovering || this.runs.followed.length) return;
    this.discovering = this.followRuns().finally(() => {
      this.discovering = null;
    });
  }

  showKernelState(status, reason = null) {
    const node = this.handles.kernelState;
    node.dataset.status = status;
    node.textContent = status === "none" ? STATUS_TEXT.none
      : `Kernel ${STATUS_TEXT[status] || status}${reason ? `: ${reason}` : ""}`;
    node.title = node.textContent;
    this.root.dataset.kernel = status;
  }

  /** A message under the title while the kernel WebSocket cannot connect; gone once it does. */
  showConnectionProblem(problem) {
    const node = this.handles.connectionProblem;
    if (!problem) {
      node.hidden = true;
      node.replaceChildren();
      delete node.dataset.kind;
      return;
    }
    const socketPath = new URL(this.kernel.socketUrl).pathname;
    node.dataset.kind = problem.kind;
    node.replaceChildren(...connectionProblem(problem.kind, socketPath));
    node.hidden = false;
  }

  showSaveState({ status, message }) {
    const text = { saved: "Saved", unsaved: "Unsaved changes", saving: "Saving…", error: "Save failed", conflict: "Changed on disk" }[status];
    this.handles.saveState.textContent = message && status !== "saved" ? `${text}: ${message}` : text;
    this.handles.saveState.dataset.status = status;
    document.title = `${this.saver.dirty ? "* " : ""}${basename(this.path)}`; // the notebook's name, as Notebook 7's tab
    if (status === "error") showError("Save", { message });
  }

  showName() {
    this.handles.name.textContent = basename(this.path).replace(/\.ipynb$/, "");
    document.title = `${this.saver && this.saver.dirty ? "* " : ""}${basename(this.path)}`;
  }

  syncCellType() {
    const cell = this.notebook.activeCell;
    if (cell) this.handles.typeSelect.value = cell.type;
  }

  /** Images in Markdown: cell attachments, and relative paths through /files. */
  resolveImage(src, cell) {
    if (src.startsWith("attachment:")) {
      const entry = cell.attachments && cell.attachments[decodeURIComponent(src.slice(11))];
      if (!entry) return null;
      const [mime, data] = Object.entries(entry)[0];
      return `data:${mime};base64,${String(data).replace(/\s/g, "")}`;
    }
    if (/^([a-z][a-z0-9+.-]*:|\/\/|\/|#)/i.test(src)) return null;
    const dir = dirname(this.path);
    return this.config.filesUrl + encodePath(dir ? `${dir}/${decodeURI(src)}` : decodeURI(src));
  }

  // -- actions -----------------------------------------------------------------------------

  actions() {
    if (this._actions) return this._actions;
    const nb = () => this.notebook;
    const guard = (name, fn) => async () => {
      try {
        await fn();
      } catch (error) {
        showError(name, error);
      }
    };
    this._actions = {
      // Where the focus goes after a menu item (and so after the dialog it may open), as
      // Notebook 7: back to the notebook, in the mode it was in.
      focusNotebook: () => {
        const notebook = this.notebook;
        if (!notebook || !notebook.cells.length) return;
        if (notebook.mode === "edit") notebook.editCell(notebook.activeCell, null);
        else notebook.commandMode();
      },
      save: guard("Save", () => this.saver.save()),
      rename: guard("Rename", () => this.rename()),
      download: () => this.download(),
      downloadAs: (format) => guard("Download", () => downloadAs(this, format))(),
      revert: guard("Revert", () => this.saver.revert()),
      reloadFromDisk: guard("Reload", () => this.reloadFromDisk()),
      newNotebook: guard("New notebook", () => this.newNotebook()),
      cut: () => nb().cut(),
      copy: () => nb().copy(),
      pasteBelow: () => nb().paste("below"),
      pasteAbove: () => nb().paste("above"),
      deleteCell: () => nb().deleteCells(),
      undoDelete: () => nb().undoDelete(),
      insertAbove: () => nb().insert("above"),
      insertBelow: () => nb().insert("below"),
      moveUp: () => nb().move(-1),
      moveDown: () => nb().move(1),
      selectAll: () => nb().selectAll(),
      mergeCells: () => nb().merge(),
      mergeBelow: () => nb().mergeBelow(),
      splitCell: () => nb().split(),
      toggleLineNumbers: () => nb().toggleLineNumbers(),
      toggleAllLineNumbers: () => nb().toggleLineNumbers({ all: true }),
      changeType: (type) => {
        nb().changeType(type);
        nb().commandMode();
      },
      run: () => nb().runActive({ advance: true }),
      runAll: () => nb().runAll(),
      runAbove: () => nb().runAbove(),
      runBelow: () => nb().runBelow(),
      clearOutput: () => nb().clearOutputs(),
      clearAllOutputs: () => nb().clearOutputs(nb().cells),
      interrupt: guard("Interrupt", () => this.interrupt()),
      restart: guard("Restart", () => this.restart()),
      restartClear: guard("Restart", () => this.restart({ clear: true })),
      restartRunAll: guard("Restart", () => this.restart({ runAll: true })),
      changeKernel: guard("Change kernel", () => this.changeKernel()),
      runHistory: () => this.runHistory(),
      runWithParameters: guard("Run with parameters", () => this.runWithParameters()),
      help: () => this.help(),
      trust: guard("Trust notebook", () => trustNotebook(this)),
      find: () => this.finder.open(),
      // Not a dynamic import: it is 3 KB, and keys typed while a chunk loads would go to the cell.
      palette: guard("Command palette", () => {
        showKernelHelp(this.kernel);
        return openPalette();
      }),
      setTheme: (theme) => guard("Theme", () => setTheme(theme))(),
      toggleLineNumbersSetting: guard("Line numbers", () => toggleLineNumbers()),
      settingIs: (key, value) => settingIs(key, value),
      settings: guard("Settings", () => openSettings()),
    };
    return this._actions;
  }

  /** Interrupt: cancel this page's runs (which interrupts the kernel), or, with none, the
   *  kernel itself. */
  async interrupt() {
    if (this.runs.active.length) await this.runs.cancelAll();
    else if (this.kernel) await this.kernel.interrupt();
  }

  runHistory() {
    showRunHistory({ path: () => this.path, runs: this.runs, onClose: () => this.notebook.commandMode() });
  }

  async runWithParameters() {
    const model = await runWithParameters({
      path: this.path,
      cells: this.notebook.cells,
      kernelName: this.session ? this.session.kernel.name : this.kernelName(),
      start: (body) => this.runs.start(body),
    });
    if (!model) {
      this.notebook.commandMode();
      return;
    }
    toast(`Run started: it writes ${model.output_path}.`);
    this.runHistory();
  }

  async restart({ clear = false, runAll = false } = {}) {
    if (!this.kernel) return;
    const what = runAll ? "restart the kernel and run all cells" : clear ? "restart the kernel and clear all outputs" : "restart the kernel";
    const ok = await confirmDialog({
      title: "Restart kernel",
      message: `Do you want to ${what}? All variables will be lost.`,
      confirmLabel: "Restart",
      danger: true,
    });
    if (!ok) return;
    await this.runs.cancelAll();
    await this.kernel.restart();
    if (clear || runAll) this.notebook.clearOutputs(this.notebook.cells);
    if (runAll) this.notebook.runAll();
    this.notebook.commandMode();
  }

  async rename() {
    const current = basename(this.path);
    const stem = current.replace(/\.ipynb$/, "");
    await promptDialog({
      title: "Rename notebook",
      label: "New name",
      value: current,
      select: [0, stem.length],
      confirmLabel: "Rename",
      submit: async (value) => {
        if (!value || value.includes("/")) throw new Error("A name without slashes, please");
        const name = value.endsWith(".ipynb") ? value : `${value}.ipynb`;
        const dir = dirname(this.path);
        const newPath = dir ? `${dir}/${name}` : name;
        if (newPath === this.path) return true;
        await request("PATCH", contentsUrl(this.path), { body: { path: newPath } });
        this.path = newPath;
        this.saver.path = newPath;
        this.config.path = newPath;
        if (this.session) {
          const { data } = await request("PATCH", apiUrl("sessions", this.session.id), { body: { path: newPath, name } });
          this.session = data;
        }
        history.replaceState(null, "", pageUrl("notebooksUrl", newPath));
        this.showName();
        return true;
      },
    });
    this.notebook.commandMode();
  }

  download() {
    const link = el("a", { href: `${pageUrl("filesUrl", this.path)}?download=1`, download: basename(this.path) });
    document.body.append(link);
    link.click();
    link.remove();
  }

  async reloadFromDisk() {
    if (this.saver.dirty) {
      const ok = await confirmDialog({
        title: "Reload from disk",
        message: "Discard your unsaved changes and load the notebook as it is on disk?",
        confirmLabel: "Reload",
        danger: true,
      });
      if (!ok) return;
    }
    this.saver.reloadFromDisk();
  }

  async newNotebook() {
    const { data } = await request("POST", contentsUrl(dirname(this.path)), { body: { type: "notebook" } });
    window.open(pageUrl("notebooksUrl", data.path), "_blank");
  }

  async changeKernel() {
    const { data } = await request("GET", this.config.kernelspecsUrl);
    this.kernelspecs = data;
    const select = el("select", { id: "nb-kernel-choice" },
      ...Object.entries(data.kernelspecs).map(([name, spec]) =>
        el("option", { value: name, selected: this.kernel && this.session && this.session.kernel.name === name }, spec.spec.display_name)));
    const choice = await new Promise((resolve) => {
      const dialog = el("dialog", { className: "nb-dialog", "aria-labelledby": "nb-kernel-title" });
      const form = el("form", { method: "dialog" },
        el("h2", { id: "nb-kernel-title" }, "Change kernel"),
        el("label", { htmlFor: "nb-kernel-choice" }, "Kernel"), select,
        el("div", { className: "nb-dialog-buttons" },
          el("button", { type: "button", onclick: () => dialog.close() }, "Cancel"),
          el("button", { type: "submit", className: "nb-primary", value: "ok" }, "Change")));
      submitOnEnterInSelects(form);
      dialog.append(form);
      document.body.append(dialog);
      dialog.addEventListener("close", () => {
        dialog.remove();
        resolve(dialog.returnValue === "ok" ? select.value : null);
      });
      dialog.showModal();
      select.focus();
    });
    if (!choice) return;
    if (!this.session) {
      await this.startSession(choice);
      return;
    }
    this.showKernelState("starting");
    const { data: session } = await request("PATCH", apiUrl("sessions", this.session.id), { body: { kernel: { name: choice } } });
    this.useSession(session);
    this.notebook.commandMode();
  }

  help() {
    showShortcuts(() => this.notebook.commandMode());
  }
}

/** Ctrl-Shift-C anywhere on the page (command or edit mode) opens the command palette. */
function installPaletteKey(open) {
  document.addEventListener("keydown", (event) => {
    if (!(event.ctrlKey || event.metaKey) || !event.shiftKey || event.altKey || event.key.toLowerCase() !== "c") return;
    if (document.querySelector("dialog[open]")) return;
    event.preventDefault();
    event.stopPropagation();
    open();
  }, true);
}

async function main() {
  const root = document.getElementById("nb-notebook");
  if (!root) return;
  const app = new App(root, pageConfig());
  window.nbApp = app; // for people poking around in the console, and for tests
  try {
    await app.start();
  } catch (error) {
    root.dataset.state = "error";
    const message = error instanceof ApiError ? error.message : String(error);
    root.replaceChildren(el("p", { className: "nb-error", role: "alert" }, `Could not open the notebook: ${message}`));
  }
}

main();
