// The run history table, shared by the Runs page (js/runs.js) and the notebook's Run history
// dialog (src/notebook/runpanel.js): one row per run of the runs API (RUNS_API.md), newest
// first: status, notebook, output, started, duration, who (for administrators) and a Cancel
// button for runs that have not ended.

import { ApiError, apiUrl, pageUrl, request } from "./api.js";
import { el, showError } from "./dialogs.js";
import { absoluteTime, relativeTime } from "./format.js";

export const ACTIVE_STATUSES = new Set(["queued", "running"]);

/** "0.4 s", "12 s", "3 min 05 s", "2 h 01 min" between two ISO times (to now when running). */
export function formatDuration(startIso, endIso, now = Date.now()) {
  if (!startIso) return "";
  const seconds = Math.max(0, ((endIso ? Date.parse(endIso) : now) - Date.parse(startIso)) / 1000);
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(Math.round(seconds % 60)).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

function timeCell(iso) {
  return el("td", { title: absoluteTime(iso) }, iso ? el("time", { dateTime: iso }, relativeTime(iso)) : "—");
}

function statusCell(run) {
  const text = run.status === "running" && run.cells_total
    ? `running (${run.cells_done}/${run.cells_total})` : run.status;
  const node = el("span", { className: `nb-run-status nb-run-${run.status}` }, text);
  const why = run.error ? `${run.error.ename}: ${run.error.evalue}` : null;
  return el("td", { title: why || "" }, node, why ? el("span", { className: "nb-run-error" }, ` ${why}`) : null);
}

/** A link to a notebook the person can open: the output copy, or the notebook run in place. */
function notebookLink(path) {
  return el("a", { href: pageUrl("notebooksUrl", path) }, path);
}

function runRow(run, { showOwner, onChange }) {
  const cells = [
    statusCell(run),
    el("td", {}, notebookLink(run.path)),
    el("td", {}, run.output_path ? notebookLink(run.output_path) : el("span", { className: "nb-muted" }, "in place")),
    timeCell(run.started || run.created),
    el("td", {}, formatDuration(run.started, run.finished)),
  ];
  if (showOwner) cells.push(el("td", {}, run.owner ?? "server"));
  const actions = el("td", {});
  if (ACTIVE_STATUSES.has(run.status)) {
    const button = el("button", { type: "button", "aria-label": `Cancel the run of ${run.path} started ${relativeTime(run.created)}` },
      "Cancel");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await request("DELETE", apiUrl("runs", run.id));
      } catch (problem) {
        if (!(problem instanceof ApiError && (problem.status === 409 || problem.status === 404))) showError("Cancelling the run", problem);
      }
      onChange();
    });
    actions.append(button);
  }
  cells.push(actions);
  return el("tr", { dataset: { runId: run.id, status: run.status } }, ...cells);
}

/**
 * A table of runs with its empty message; `update(runs)` redraws it. `label` names the table
 * (its caption); `onChange` is called after a Cancel.
 */
export function runTable({ label, onChange }) {
  const head = el("tr", {});
  const tbody = el("tbody", {});
  const table = el("table", { className: "nb-table nb-runs-table" },
    el("caption", { className: "nb-visually-hidden" }, label), el("thead", {}, head), tbody);
  const empty = el("p", { className: "nb-empty" }, "No runs yet.");
  const wrapper = el("div", { className: "nb-runs-list" }, table, empty);
  const update = (runs) => {
    // Only an administrator's answers carry `owner` (ownership.show_owners()).
    const showOwner = runs.some((run) => "owner" in run);
    const names = ["Status", "Notebook", "Output", "Started", "Duration", ...(showOwner ? ["Who"] : [])];
    head.replaceChildren(...names.map((name) => el("th", { scope: "col" }, name)),
      el("th", { scope: "col" }, el("span", { className: "nb-visually-hidden" }, "Actions")));
    tbody.replaceChildren(...runs.map((run) => runRow(run, { showOwner, onChange })));
    table.hidden = runs.length === 0;
    empty.hidden = runs.length > 0;
  };
  return { element: wrapper, update };
}

/** GET /api/runs with `query` (path, status, limit, offset): {runs, total}. */
export async function listRuns(query = {}) {
  return (await request("GET", apiUrl("runs"), { query })).data;
}
