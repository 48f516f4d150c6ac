// The Runs view: the history of runs (js/runlist.js), newest first, a page at a time, filtered
// by status, with Cancel for runs that have not ended; kept current by polling while the page
// is visible.

import { oneAtATime, pollWhileVisible } from "./api.js";
import { showError } from "./dialogs.js";
import { listRuns, runTable } from "./runlist.js";

const POLL_MS = 5000;
const PAGE = 50;
const $ = (id) => document.getElementById(id);
let offset = 0;

const table = runTable({ label: "Runs", onChange: () => refresh() });
$("nb-runs-list").append(table.element);

/** Fetch the current page and redraw it (one refresh at a time). */
const refresh = oneAtATime(() => draw());

async function draw() {
  try {
    const status = $("nb-runs-status").value || undefined;
    const { runs, total } = await listRuns({ status, limit: PAGE, offset });
    if (!runs.length && offset > 0) {
      offset = Math.max(0, offset - PAGE);
      return draw();
    }
    table.update(runs);
    $("nb-runs-range").textContent = total ? `${offset + 1}–${offset + runs.length} of ${total}` : "";
    $("nb-runs-newer").disabled = offset === 0;
    $("nb-runs-older").disabled = offset + runs.length >= total;
  } catch (problem) {
    showError("Listing the runs", problem);
  } finally {
    $("nb-runs").setAttribute("aria-busy", "false");
  }
  return undefined;
}

$("nb-runs-refresh").addEventListener("click", refresh);
$("nb-runs-status").addEventListener("change", () => {
  offset = 0;
  refresh();
});
$("nb-runs-newer").addEventListener("click", () => {
  offset = Math.max(0, offset - PAGE);
  refresh();
});
$("nb-runs-older").addEventListener("click", () => {
  offset += PAGE;
  refresh();
});
pollWhileVisible(refresh, POLL_MS);
refresh().then(() => {
  document.documentElement.dataset.nbReady = "true";
});
