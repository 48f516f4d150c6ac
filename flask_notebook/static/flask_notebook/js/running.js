// The Running view: sessions (notebooks, consoles, files with a kernel) and kernels, each
// with a Shut Down button, kept current by polling while the page is visible.

import { ApiError, apiUrl, getJson, oneAtATime, pageConfig, pageUrl, pollWhileVisible, request } from "./api.js";
import { confirmDialog, el, showError } from "./dialogs.js";
import { absoluteTime, relativeTime } from "./format.js";

const POLL_MS = 5000;
const $ = (id) => document.getElementById(id);
let specs = {}; // kernel name -> display name

function stateCell(kernel) {
  const name = kernel ? kernel.execution_state : "unknown";
  return el("td", {}, el("span", { className: `nb-state nb-state-${name}` }, name));
}

function activityCell(iso) {
  return el("td", { title: absoluteTime(iso) }, el("time", { dateTime: iso || "" }, relativeTime(iso)));
}

function displayName(kernelName) {
  return specs[kernelName] || kernelName;
}

/** Whose it is: only an administrator's models on a server with several users carry `owner`
 *  (null: the server's own user). */
function ownerBadge(model) {
  if (!("owner" in model)) return null;
  return el("span", { className: "nb-owner", title: "Owner" }, ` · ${model.owner ?? "server"}`);
}

function sessionRow(session) {
  const link = session.type === "notebook"
    ? el("a", { href: pageUrl("notebooksUrl", session.path) }, session.path)
    : el("span", {}, session.path);
  const button = el("button", { type: "button", "aria-label": `Shut down ${session.path}` }, "Shut Down");
  button.addEventListener("click", () => shutDown(button, apiUrl("sessions", session.id), session.path));
  return el("tr", { dataset: { sessionId: session.id } },
    el("td", {}, link, ownerBadge(session)),
    el("td", {}, session.type || ""),
    el("td", {}, displayName(session.kernel.name)),
    stateCell(session.kernel),
    activityCell(session.kernel.last_activity),
    el("td", {}, button));
}

function kernelRow(kernel, users) {
  const label = `${displayName(kernel.name)} kernel ${kernel.id.slice(0, 8)}`;
  const button = el("button", { type: "button", "aria-label": `Shut down ${label}` }, "Shut Down");
  button.addEventListener("click", () => shutDown(button, apiUrl("kernels", kernel.id), label));
  return el("tr", { dataset: { kernelId: kernel.id } },
    el("td", {}, displayName(kernel.name), ownerBadge(kernel)),
    el("td", {}, el("code", { title: kernel.id }, kernel.id.slice(0, 8))),
    stateCell(kernel),
    el("td", {}, String(kernel.connections ?? 0)),
    el("td", {}, users.length ? users.join(", ") : "—"),
    activityCell(kernel.last_activity),
    el("td", {}, button));
}

// -- terminals (when the server has them: the page then has their table) --

function terminalRow(terminal) {
  const label = `Terminal ${terminal.name}`;
  const link = el("a", { href: pageConfig().terminalsUrl + encodeURIComponent(terminal.name), target: "_blank" }, label);
  const button = el("button", { type: "button", "aria-label": `Shut down ${label}` }, "Shut Down");
  button.addEventListener("click", () => shutDown(button, apiUrl("terminals", terminal.name), label));
  return el("tr", { dataset: { terminal: terminal.name } },
    el("td", {}, link, ownerBadge(terminal)), activityCell(terminal.last_activity), el("td", {}, button));
}

async function drawTerminals() {
  if (!$("nb-terminals")) return;
  const terminals = await getJson(apiUrl("terminals"));
  $("nb-terminals").tBodies[0].replaceChildren(...terminals.map(terminalRow));
  $("nb-terminals-empty").hidden = terminals.length > 0;
  $("nb-terminals").hidden = terminals.length === 0;
}

async function shutDown(button, url, what) {
  button.disabled = true;
  try {
    await request("DELETE", url);
  } catch (problem) {
    if (!(problem instanceof ApiError && problem.status === 404)) showError(`Shutting down ${what}`, problem);
  }
  await refresh();
}

async function shutDownAll() {
  const confirmed = await confirmDialog({
    title: "Shut down all kernels",
    message: "Shut down every running kernel? Unsaved notebook state in them is lost.",
    confirmLabel: "Shut Down All",
    danger: true,
  });
  if (!confirmed) return;
  const kernels = await getJson(apiUrl("kernels"));
  await Promise.allSettled(kernels.map((kernel) => request("DELETE", apiUrl("kernels", kernel.id))));
  await refresh();
}

/** Fetch sessions and kernels and redraw both tables (one refresh at a time). */
const refresh = oneAtATime(() => draw());

async function draw() {
  try {
    const [sessions, kernels] = await Promise.all([getJson(apiUrl("sessions")), getJson(apiUrl("kernels"))]);
    sessions.sort((a, b) => a.path.localeCompare(b.path));
    const users = new Map();
    for (const session of sessions) {
      if (!users.has(session.kernel.id)) users.set(session.kernel.id, []);
      users.get(session.kernel.id).push(session.path);
    }
    $("nb-sessions").tBodies[0].replaceChildren(...sessions.map(sessionRow));
    $("nb-kernels").tBodies[0].replaceChildren(...kernels.map((kernel) => kernelRow(kernel, users.get(kernel.id) || [])));
    $("nb-sessions-empty").hidden = sessions.length > 0;
    $("nb-kernels-empty").hidden = kernels.length > 0;
    $("nb-sessions").hidden = sessions.length === 0;
    $("nb-kernels").hidden = kernels.length === 0;
    $("nb-shutdown-all").disabled = kernels.length === 0;
    await drawTerminals();
  } catch (problem) {
    showError("Listing what is running", problem);
  } finally {
    $("nb-running").setAttribute("aria-busy", "false");
  }
}

async function loadSpecs() {
  try {
    const data = await getJson(apiUrl("kernelspecs"));
    specs = Object.fromEntries(Object.entries(data.kernelspecs).map(([name, spec]) => [name, spec.spec.display_name || name]));
  } catch {
    specs = {}; // raw kernel names are shown instead
  }
}

$("nb-running-refresh").addEventListener("click", refresh);
$("nb-shutdown-all").addEventListener("click", shutDownAll);
pollWhileVisible(refresh, POLL_MS);
loadSpecs().then(refresh).then(() => {
  document.documentElement.dataset.nbReady = "true";
});
