// The notebook's runs: "Run cell", "Run all"... go through the server's runs API (RUNS_API.md)
// on the session kernel, so the server executes the cells and writes their outputs into the
// file, and a closed tab or a lost network loses nothing. This module starts runs (saving
// first when the page has unsaved changes, so the run executes what the person sees, in
// cells that exist in the file), follows each run's event stream (SSE, replayed from the
// start, resumed with Last-Event-ID), and draws its events into the cells by cell id: [*]
// for queued and running cells, outputs as they come, the execution count at the end.
//
// Run outputs never mark the page as changed: the server saves them. When a run ends, the
// page reads the file once: the outputs of the run's cells the person did not edit meanwhile
// are taken from it, and its ETag becomes the page's, so the run's own saves are not
// mistaken for a change on disk at the next save.
//
// Events: "change" (a run of this page started, moved on or ended: the history panel listens).

import { ApiError, apiUrl, contentsUrl, request } from "../../js/api.js";
import { showError, toast } from "../../js/dialogs.js";

const ACTIVE = new Set(["queued", "running"]);
const EVENTS = ["accepted", "cell_started", "output", "clear_output", "update_display", "input_required",
  "cell_finished", "done"];
/** A stream the server closed for good (an HTTP error) is looked at again after this. */
const RESUME_DELAY_MS = 1000;
const NOT_RUNNING = "the kernel is not running: restart it (Kernel \u203a Restart kernel\u2026) to run code";

/** An output as the file and the page can both say it: multiline strings joined, no
 *  transient or metadata (the page keeps its own display ids). */
function comparable(output) {
  const joined = (value) => (Array.isArray(value) ? value.join("") : value);
  const data = output.data ? Object.fromEntries(Object.entries(output.data).map(([mime, v]) => [mime, joined(v)])) : undefined;
  return JSON.stringify([output.output_type, output.name, joined(output.text), data, output.ename, output.evalue,
    output.execution_count]);
}

function sameOutputs(a, b) {
  return a.length === b.length && a.every((output, i) => comparable(output) === comparable(b[i]));
}

/** One run this page follows: its cells still to start, the one running, its stream. */
class Followed {
  constructor(cellIds) {
    this.id = null;
    this.model = null;
    this.pending = new Set(cellIds);
    this.current = null;
    this.source = null;
    this.lastEventId = 0;
    this.cancelled = false;
    this.ended = false;
    /** Posted by this page (not one it found running). */
    this.own = false;
    /** cell id -> the cell's edit count when the run began: edited cells keep what they show. */
    this.edits = new Map();
    this.inputForm = null;
  }
}

export class Runs extends EventTarget {
  /**
   * @param {Notebook} notebook the page's cells
   * @param {object} options path() (the notebook's path now), kernelId() (the session
   *   kernel's id, or null), prepare() (save the page when it has unsaved changes; resolves
   *   to false when that failed), saved(etag) (the file as the run left it has this ETag),
   *   settled() (resolves when no save of the page is on its way)
   */
  constructor(notebook, options) {
    super();
    this.notebook = notebook;
    this.options = options;
    /** Runs being started or followed, in the order they were started. */
    this.followed = [];
    /** Starts go one after another, so runs reach the server (and its kernel queue) in order. */
    this.chain = Promise.resolve();
    /** Runs that ended whose file has not been read back yet. */
    this.syncing = 0;
  }

  /** True while a run of this page may write the file (or just did, unread). */
  get writing() {
    return this.followed.some((run) => run.id) || this.syncing > 0;
  }

  /** The runs of this page that have not ended (started, queued or running). */
  get active() {
    return this.followed.filter((run) => !run.ended);
  }

  /** Run `cells` (code cells with source) on the session kernel. Resolves once posted. */
  run(cells) {
    const run = new Followed(cells.map((cell) => cell.id));
    run.own = true;
    this.snapshot(run, cells);
    this.followed.push(run);
    this.markers();
    this.chain = this.chain.then(() => this.post(run, (kernelId) => ({
      path: this.options.path(), cells: [...run.pending], kernel_id: kernelId,
    })));
    return this.chain;
  }

  /** Start a run with `body` (path, parameters, output_path...) and resolve to its model; its
   *  cells are not drawn here (it writes another file). */
  async start(body) {
    if (!(await this.options.prepare())) throw new Error("the notebook could not be saved first");
    const { data } = await request("POST", apiUrl("runs"), { body });
    this.dispatchEvent(new Event("change"));
    return data;
  }

  async post(run, body) {
    try {
      const kernelId = this.options.kernelId();
      if (!kernelId) throw new Error("the notebook has no kernel");
      if (this.options.kernelDead && this.options.kernelDead()) throw new Error(NOT_RUNNING);
      if (!(await this.options.prepare())) throw new Error("the notebook could not be saved first");
      if (run.cancelled) { // interrupted before it was sent
        this.forget(run);
        return;
      }
      const { data } = await request("POST", apiUrl("runs"), { body: body(kernelId) });
      if (this.followed.some((other) => other.id === data.id)) { // found meanwhile (attach)
        this.forget(run);
        return;
      }
      this.follow(run, data);
      if (run.cancelled) await this.cancel(run);
    } catch (error) {
      this.forget(run);
      // Its kernel gone meanwhile (shut down elsewhere): say what to do, not its id.
      showError("Run", error instanceof ApiError && error.status === 404 ? new Error(NOT_RUNNING) : error);
    }
  }

  /** Follow the queued and running runs of this notebook (from any tab or browser of this
   *  user): opening a notebook shows a run in progress, then its live outputs. */
  async attach() {
    const path = this.options.path();
    const found = [];
    // Queued first: a run that starts between the two answers is then in both, not in neither.
    for (const status of ["queued", "running"]) {
      const { data } = await request("GET", apiUrl("runs"), { query: { path, status } });
      for (const model of data.runs) if (!found.some((m) => m.id === model.id)) found.push(model);
    }
    found.sort((a, b) => a.created.localeCompare(b.created));
    for (const model of found) {
      // Another file's runs, and parameterized runs, which write a copy, are not ours to draw.
      if (model.path !== path || model.output_path || this.followed.some((run) => run.id === model.id)) continue;
      const run = new Followed(model.cells);
      this.snapshot(run, model.cells.map((id) => this.cell(id)).filter(Boolean));
      this.followed.push(run);
      this.follow(run, model);
    }
    this.markers();
  }

  snapshot(run, cells) {
    for (const cell of cells) run.edits.set(cell.id, cell.edits);
  }

  follow(run, model, from = 0) {
    run.id = model.id;
    run.model = model;
    this.dispatchEvent(new Event("change"));
    const url = apiUrl("runs", model.id) + (from ? `?from=${from}` : "");
    const source = new EventSource(url, { withCredentials: true });
    run.source = source;
    for (const name of EVENTS) {
      source.addEventListener(name, (event) => {
        const id = Number(event.lastEventId);
        if (id && id <= run.lastEventId) return; // seen before a reconnect
        if (id) run.lastEventId = id;
        this.handle(run, name, JSON.parse(event.data));
      });
    }
    // The browser reconnects by itself (with Last-Event-ID) after a network failure; an
    // HTTP error closes the stream for good: then ask what became of the run.
    source.addEventListener("error", () => {
      if (run.ended) return;
      if (source.readyState === EventSource.CLOSED) setTimeout(() => this.resume(run), RESUME_DELAY_MS);
      // Reconnecting. A server that restarted meanwhile (kernels kept, NOTEBOOK_PERSIST_KERNELS)
      // has ended the run (it stopped with the old one) and numbers its events anew: nothing
      // it streams comes after our Last-Event-ID. Ask once the server answers again.
      else setTimeout(() => this.check(run, source), RESUME_DELAY_MS);
    });
  }

  /** While its stream reconnects: end a run the server says is over. */
  async check(run, source) {
    if (run.ended || run.source !== source) return;
    try {
      const { data } = await request("GET", apiUrl("runs", run.id));
      if (!ACTIVE.has(data.status)) this.end(run, data);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        source.close();
        this.forget(run);
      }
      // Otherwise the server is still away: the stream's next error asks again.
    }
  }

  async resume(run) {
    if (run.ended) return;
    try {
      const { data } = await request("GET", apiUrl("runs", run.id));
      if (ACTIVE.has(data.status)) this.follow(run, data, run.lastEventId);
      else this.end(run, data);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) this.forget(run);
      else setTimeout(() => this.resume(run), RESUME_DELAY_MS * 3);
    }
  }

  cell(cellId) {
    return this.notebook.cells.find((cell) => cell.id === cellId) || null;
  }

  handle(run, name, data) {
    if (run.ended) return;
    const cell = data.cell_id ? this.cell(data.cell_id) : null;
    this.notebook.quietly(() => {
      if (name === "accepted") {
        run.model = data;
        run.pending = new Set(data.cells);
      } else if (name === "cell_started") {
        run.pending.delete(data.cell_id);
        run.current = data.cell_id;
        if (cell) {
          cell.outputs.clear();
          cell.trusted = true; // outputs of this user's own run
          cell.outputs.trusted = true;
        }
      } else if (name === "output") {
        this.dropInput(run);
        if (cell) cell.outputs.add(structuredClone(data.output));
      } else if (name === "clear_output") {
        if (cell) cell.outputs.clearOutput(data.wait);
      } else if (name === "update_display") {
        const { transient, data: bundle, metadata } = data.output;
        this.notebook.displays.update(transient && transient.display_id, bundle, metadata);
      } else if (name === "input_required") {
        if (cell) this.askInput(run, cell, data);
      } else if (name === "cell_finished") {
        this.dropInput(run);
        if (run.current === data.cell_id) run.current = null;
        run.pending.delete(data.cell_id);
        // A cell stopped before it got a number (the kernel died, an interrupt) keeps the one it had.
        if (cell && data.status !== "aborted") cell.executionCount = data.execution_count ?? cell.executionCount;
      } else if (name === "done") {
        this.end(run, data);
      }
    });
    this.markers();
    if (name === "cell_started" || name === "cell_finished") this.dispatchEvent(new Event("change"));
  }

  askInput(run, cell, { prompt, password }) {
    this.dropInput(run);
    run.inputForm = cell.outputs.askInput(prompt, password, async (value) => {
      run.inputForm = null;
      // The answer is in: back to the cell's editor, cursor where it was, as Notebook 7 does.
      if (this.notebook.cells.includes(cell)) this.notebook.editCell(cell, null);
      try {
        await request("POST", apiUrl("runs", run.id, "input"), { body: { value } });
      } catch (error) {
        if (error instanceof ApiError && error.status === 409) toast("That input was no longer asked for (answered elsewhere, or the run moved on).");
        else showError("Sending the input", error);
      }
    });
  }

  /** An input box the run no longer waits for (answered in another tab, or timed out). */
  dropInput(run) {
    if (run.inputForm) run.inputForm.remove();
    run.inputForm = null;
  }

  /** The run ended: stop following it, and read its outputs back from the file. */
  async end(run, model) {
    if (run.ended) return;
    run.ended = true;
    run.model = model;
    if (run.source) run.source.close();
    this.dropInput(run);
    const later = this.followed.slice(this.followed.indexOf(run) + 1).filter((other) => other.own);
    this.forget(run);
    if (model.status === "failed" && run.own) {
      // As a kernel aborts the cells queued behind an error: this page's later runs stop too.
      for (const other of later) this.cancel(other).catch((error) => showError("Cancelling a run", error));
    }
    if (model.status === "failed" && model.error) {
      const cell = model.error.cell_id ? this.cell(model.error.cell_id) : null;
      const shown = cell && cell.outputs.outputs.some((output) => output.output_type === "error");
      // A kernel that died: the page's kernel notice says it (kernelLost), not a second toast.
      const told = model.error.ename === "DeadKernelError" && this.options.kernelLost
        && this.options.kernelLost(model.error.evalue);
      if (!shown && !told) toast(`The run failed: ${model.error.ename}: ${model.error.evalue}`, { error: true });
    }
    this.syncing += 1;
    try {
      await this.readBack(run, model);
    } catch (error) {
      showError("Reading the run's outputs", error);
    } finally {
      this.syncing -= 1;
    }
  }

  /** Take the run's cells from the file (the truth, with the server's notices), except those
   *  edited since the run began. */
  async readBack(run, model) {
    await this.options.settled();
    const { data, response } = await request("GET", contentsUrl(this.options.path()), { query: { type: "notebook" } });
    const onDisk = new Map((data.content.cells || []).map((cell) => [cell.id, cell]));
    this.notebook.quietly(() => {
      for (const cellId of model.cells) {
        const cell = this.cell(cellId);
        const saved = onDisk.get(cellId);
        if (!cell || !saved || cell.type !== "code" || saved.cell_type !== "code") continue;
        // The run's own record of the cell: later saves of the page must keep it.
        const ours = saved.metadata && saved.metadata.flask_notebook;
        if (ours) cell.metadata.flask_notebook = ours;
        if (run.edits.has(cellId) && run.edits.get(cellId) !== cell.edits) continue;
        cell.executionCount = saved.execution_count ?? cell.executionCount;
        cell.updatePrompt();
        // Drawn again only when different (a notice the server added, a cut): what is shown
        // keeps its display ids, for updates from later cells.
        if (!sameOutputs(saved.outputs || [], cell.outputs.toJSON())) cell.outputs.load(saved.outputs || []);
      }
    });
    this.options.saved(response.headers.get("ETag"));
  }

  forget(run) {
    const index = this.followed.indexOf(run);
    if (index >= 0) this.followed.splice(index, 1);
    this.markers();
    this.dispatchEvent(new Event("change"));
  }

  /** Cancel every run of this page that has not ended (Interrupt, Restart). */
  async cancelAll() {
    await Promise.all(this.active.map((run) => this.cancel(run)));
  }

  async cancel(run) {
    run.cancelled = true;
    if (!run.id) return; // cancelled as soon as it is posted (see post)
    try {
      await request("DELETE", apiUrl("runs", run.id));
    } catch (error) {
      // 409: it has finished meanwhile; 404: it is gone. Either way nothing is left to stop.
      if (!(error instanceof ApiError && (error.status === 409 || error.status === 404))) throw error;
    }
  }

  /** [*] on every cell a run of this page will run or is running. */
  markers() {
    const running = new Set();
    const queued = new Set();
    for (const run of this.followed) {
      if (run.current) running.add(run.current);
      for (const cellId of run.pending) queued.add(cellId);
    }
    for (const cell of this.notebook.cells) {
      const isRunning = running.has(cell.id);
      const isQueued = queued.has(cell.id);
      if (cell.running !== isRunning || cell.queued !== isQueued) {
        cell.running = isRunning;
        cell.queued = isQueued;
        cell.updatePrompt();
      }
    }
  }
}
