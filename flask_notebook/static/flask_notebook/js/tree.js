// The file browser: one directory's listing in a virtual grid, with breadcrumbs, sorting,
// a filter, create / upload / rename / duplicate / download / delete, and the marker of
// notebooks that have a running session. Moving between folders happens in place
// (history.pushState); every folder also has its own /tree/<path> URL.

import { fileActions } from "./actions.js";
import { ApiError, apiUrl, baseName, contentsUrl, getJson, pageConfig, pageUrl, parentOf, request } from "./api.js";
import { el, showError, toast } from "./dialogs.js";
import { absoluteTime, formatSize, relativeTime, typeIcon } from "./format.js";
import { VirtualGrid } from "./grid.js";
import { acceptDrops, UploadPanel } from "./upload.js";

const POLL_MS = 10000;
// Bigger folders are listed again only on demand (Refresh, or coming back to the tab).
const POLL_MAX_ENTRIES = 5000;
const SORT_STORAGE_KEY = "nb-tree-sort";
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
const $ = (id) => document.getElementById(id);

const state = {
  path: pageConfig().path || "",
  entries: [],
  running: new Map(), // notebook path -> [session, ...]
  sort: loadSort(),
  filter: "",
  loading: null, // AbortController of the listing request in flight
  signature: "", // of the listing on screen, so an unchanged listing is not drawn again
  painted: 0, // Date.now() when the rows were last drawn (their relative times age)
  kernelspecs: null,
};

// -- opening ---------------------------------------------------------------------------------

const TEXT_TYPES = /^(text\/|application\/(json|javascript|x-javascript|xml|x-yaml|yaml|toml|x-sh|x-python|sql)\b)|\+(json|xml)$/;

/** Whether a file opens in the text editor: text types, and names with no known type. */
function isText(entry) {
  return entry.type === "file" && (!entry.mimetype || TEXT_TYPES.test(entry.mimetype));
}

function entryUrl(entry) {
  if (entry.type === "directory") return pageUrl("treeUrl", entry.path);
  if (entry.type === "notebook") return pageUrl("notebooksUrl", entry.path);
  if (isText(entry)) return pageUrl("editUrl", entry.path);
  return pageUrl("filesUrl", entry.path);
}

// -- sorting and filtering -------------------------------------------------------------------

function loadSort() {
  try {
    const saved = JSON.parse(localStorage.getItem(SORT_STORAGE_KEY));
    if (saved && ["name", "last_modified", "size"].includes(saved.key) && [1, -1].includes(saved.direction)) return saved;
  } catch {
    // no storage, or junk in it
  }
  return { key: "name", direction: 1 };
}

const COMPARE = {
  name: (a, b) => collator.compare(a.name, b.name),
  last_modified: (a, b) => (a.last_modified < b.last_modified ? -1 : a.last_modified > b.last_modified ? 1 : 0),
  size: (a, b) => (a.size || 0) - (b.size || 0),
};

/** Folders first (as in Jupyter), then by the sort key; ties by name. */
function sortedEntries(entries) {
  const { key, direction } = state.sort;
  const compare = COMPARE[key];
  const needle = state.filter.toLowerCase();
  const shown = needle ? entries.filter((entry) => entry.name.toLowerCase().includes(needle)) : entries.slice();
  return shown.sort((a, b) => {
    const folders = (b.type === "directory") - (a.type === "directory");
    return folders || direction * compare(a, b) || COMPARE.name(a, b);
  });
}

function updateSortHeaders() {
  for (const header of document.querySelectorAll(".nb-row-head [data-sort]")) {
    if (header.getAttribute("role") !== "columnheader") continue;
    const sorted = header.dataset.sort === state.sort.key;
    header.setAttribute("aria-sort", sorted ? (state.sort.direction === 1 ? "ascending" : "descending") : "none");
  }
}

function setSort(key) {
  if (state.sort.key === key) state.sort.direction = -state.sort.direction;
  else state.sort = { key, direction: key === "name" ? 1 : -1 }; // newest and largest first
  try {
    localStorage.setItem(SORT_STORAGE_KEY, JSON.stringify(state.sort));
  } catch {
    // private mode: the order just is not remembered
  }
  showEntries({ fromTop: true });
}

// -- rendering ---------------------------------------------------------------------------------

const grid = new VirtualGrid({
  grid: $("nb-grid"),
  body: $("nb-grid-body"),
  sizer: $("nb-grid-sizer"),
  key: (entry) => entry.path,
  renderRow,
  onOpen: openEntry,
  onSelectionChange: updateSelectionBar,
  onKey: handleGridKey,
});

function renderRow(entry, row) {
  const sessions = state.running.get(entry.path);
  const link = el("a", { className: "nb-name", href: entryUrl(entry), tabIndex: -1, title: entry.name }, entry.name);
  if (entry.type === "notebook" || (entry.type === "file" && !isText(entry))) { // notebooks in a tab of their own, as Notebook 7
    link.target = "_blank";
    link.rel = "noopener";
  }
  const name = el("span", { className: "nb-cell nb-col-name", role: "gridcell" }, typeIcon(entry.type), link);
  if (sessions) name.append(el("span", { className: "nb-running-badge", title: "A kernel is running for this notebook" }, "Running"));
  row.dataset.type = entry.type;
  row.append(
    el("span", { className: "nb-cell nb-col-check", role: "gridcell" },
      el("input", { type: "checkbox", tabIndex: -1, "aria-label": `Select ${entry.name}` })),
    name,
    el("span", { className: "nb-cell nb-col-modified", role: "gridcell", title: absoluteTime(entry.last_modified) },
      el("time", { dateTime: entry.last_modified }, relativeTime(entry.last_modified))),
    el("span", { className: "nb-cell nb-col-size", role: "gridcell" }, formatSize(entry.size)),
  );
}

/** Show the entries in the current order; `fromTop` after the order or filter changed. */
function showEntries({ fromTop = false } = {}) {
  const items = sortedEntries(state.entries);
  updateSortHeaders();
  if (fromTop) $("nb-grid-body").scrollTop = 0;
  grid.setItems(items);
  state.painted = Date.now();
  const empty = $("nb-grid-empty");
  empty.hidden = items.length > 0;
  empty.textContent = state.entries.length ? "No names match the filter." : "This folder is empty.";
}

function renderBreadcrumbs() {
  const list = el("ol");
  const root = el("a", { href: pageUrl("treeUrl", ""), "aria-label": "Root folder" }, "⌂");
  list.append(el("li", {}, root));
  const parts = state.path ? state.path.split("/") : [];
  parts.forEach((part, index) => {
    list.append(el("li", {}, el("a", { href: pageUrl("treeUrl", parts.slice(0, index + 1).join("/")) }, part)));
  });
  const links = list.querySelectorAll("a");
  links[links.length - 1].setAttribute("aria-current", "page");
  $("nb-breadcrumbs").replaceChildren(list);
}

function updateSelectionBar() {
  const selected = grid.selectedItems();
  const count = selected.length;
  const single = count === 1 ? selected[0] : null;
  const hasFolder = selected.some((entry) => entry.type === "directory");
  $("nb-selection-count").textContent = count ? `${count} selected` : `${state.entries.length} ${state.entries.length === 1 ? "item" : "items"}`;
  $("nb-open").disabled = !single;
  $("nb-rename").disabled = !single;
  $("nb-duplicate").disabled = !count || hasFolder;
  $("nb-delete").disabled = !count;
  $("nb-shutdown").disabled = !selected.some((entry) => state.running.has(entry.path));
  const download = $("nb-download");
  if (single && single.type !== "directory") {
    download.href = `${pageUrl("filesUrl", single.path)}?download=1`;
    download.removeAttribute("aria-disabled");
    download.setAttribute("download", single.name);
  } else {
    download.removeAttribute("href");
    download.removeAttribute("download");
    download.setAttribute("aria-disabled", "true");
  }
  const all = $("nb-select-all");
  all.checked = count > 0 && count === grid.items.length;
  all.indeterminate = count > 0 && count < grid.items.length;
}

// -- loading -----------------------------------------------------------------------------------

function signature(entries) {
  return entries.map((entry) => `${entry.type}\0${entry.name}\0${entry.last_modified}\0${entry.size}`).join("\n");
}

/**
 * Load the listing of `path` and show it; `history` is "push", "replace" or null. A `quiet`
 * load (the poll) neither marks the grid busy nor redraws a listing that did not change.
 */
async function load(path, { history = null, select = null, quiet = false } = {}) {
  state.loading?.abort();
  const controller = new AbortController();
  state.loading = controller;
  const gridElement = $("nb-grid");
  if (!quiet) gridElement.setAttribute("aria-busy", "true");
  try {
    const { data } = await request("GET", contentsUrl(path), { query: { content: 1 }, signal: controller.signal });
    const changed = path !== state.path;
    const drawn = signature(data.content);
    if (quiet && !changed && drawn === state.signature) return;
    state.signature = drawn;
    state.path = path;
    state.entries = data.content;
    if (changed) {
      grid.selected.clear();
      grid.active = grid.anchor = -1;
      $("nb-grid-body").scrollTop = 0;
      $("nb-filter").value = state.filter = "";
    }
    if (history === "push") window.history.pushState({ path }, "", pageUrl("treeUrl", path));
    else if (history === "replace") window.history.replaceState({ path }, "", pageUrl("treeUrl", path));
    document.title = `${baseName(path) || "Files"} · flask-notebook`;
    renderBreadcrumbs();
    showEntries();
    if (select) grid.selectKey(select);
  } catch (problem) {
    if (problem.name === "AbortError" || quiet) return;
    if (problem instanceof ApiError && problem.status === 404) {
      toast(`No such folder: ${path || "/"}`, { error: true });
    } else {
      showError("Listing the folder", problem);
    }
  } finally {
    if (state.loading === controller) {
      state.loading = null;
      gridElement.setAttribute("aria-busy", "false");
    }
  }
}

function reload(select = null) {
  return load(state.path, { select });
}

async function loadSessions() {
  try {
    const sessions = await getJson(apiUrl("sessions"));
    const running = new Map();
    for (const session of sessions) {
      if (!running.has(session.path)) running.set(session.path, []);
      running.get(session.path).push(session);
    }
    const before = [...state.running.keys()].sort().join("\n");
    state.running = running;
    if ([...running.keys()].sort().join("\n") !== before) {
      grid.clearRows();
      grid.render();
      updateSelectionBar();
    }
  } catch {
    // The marker is a hint; the next poll tries again.
  }
}

async function loadKernelspecs() {
  const select = $("nb-kernel");
  try {
    state.kernelspecs = await getJson(apiUrl("kernelspecs"));
    const names = Object.keys(state.kernelspecs.kernelspecs).sort((a, b) => collator.compare(
      state.kernelspecs.kernelspecs[a].spec.display_name, state.kernelspecs.kernelspecs[b].spec.display_name));
    select.replaceChildren(...names.map((name) => el("option", {
      value: name, selected: name === state.kernelspecs.default,
    }, state.kernelspecs.kernelspecs[name].spec.display_name || name)));
  } catch (problem) {
    select.replaceChildren(el("option", { value: "" }, "Default kernel"));
    showError("Listing the kernels", problem);
  }
  // Served disabled: a click before the script and the kernel list are here would do nothing.
  $("nb-new-notebook").disabled = false;
}

// -- opening -----------------------------------------------------------------------------------

function openEntry(entry) {
  if (entry.type === "directory") {
    load(entry.path, { history: "push" });
  } else if (isText(entry)) {
    window.location.assign(entryUrl(entry));
  } else {
    window.open(entryUrl(entry), "_blank", "noopener");
  }
}

function isPlainClick(event) {
  return event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey && !event.altKey;
}

// -- actions -----------------------------------------------------------------------------------

const actions = fileActions({
  state,
  reload,
  loadSessions,
  focusList: () => $("nb-grid").focus(),
});

const uploads = new UploadPanel($("nb-uploads"), {
  existingNames: (dir) => new Set(dir === state.path ? state.entries.map((entry) => entry.name) : []),
  finished: async (path, ok) => {
    if (parentOf(path) === state.path) await reload(ok ? path : null);
  },
});

/** Create a notebook and open it in a new tab, as Notebook 7 does (the tab is opened at once,
 *  within the click, so that no popup blocker stops it; pointed at the notebook after). */
async function newNotebook() {
  const button = $("nb-new-notebook");
  button.disabled = true;
  const tab = window.open("", "_blank");
  if (tab) tab.opener = null;
  try {
    await actions.newNotebook($("nb-kernel").value, tab);
    button.disabled = false;
    await Promise.all([reload(), loadSessions()]); // the new notebook, and its session once there
  } catch (problem) {
    if (tab) tab.close();
    showError("Creating a notebook", problem);
    button.disabled = false;
  }
}

/** Start a terminal in the user's root folder and open its page in a new tab (opened at
 * once, within the click, so that no popup blocker stops it; pointed at the page after). */
async function newTerminal() {
  const tab = window.open("", "_blank");
  try {
    const { data: terminal } = await request("POST", apiUrl("terminals"), { body: {} });
    const url = pageConfig().terminalsUrl + encodeURIComponent(terminal.name);
    if (tab) {
      tab.opener = null;
      tab.location.href = url;
    } else {
      window.location.href = url;
    }
  } catch (problem) {
    if (tab) tab.close();
    showError("Starting a terminal", problem);
  }
}

/** Keep the marker, the listing and the relative times current while the page is in view. */
function poll() {
  if (document.visibilityState !== "visible" || document.querySelector("dialog[open]")) return;
  loadSessions();
  if (!state.loading && state.entries.length <= POLL_MAX_ENTRIES) load(state.path, { quiet: true });
  if (Date.now() - state.painted > 60000) {
    state.painted = Date.now();
    grid.clearRows();
    grid.render();
  }
}

function handleGridKey(event) {
  const selected = grid.selectedItems();
  if (event.key === "Delete" && selected.length) {
    actions.deleteEntries(selected);
    return true;
  }
  if (event.key === "F2" && selected.length === 1) {
    actions.rename(selected[0]);
    return true;
  }
  if (event.key === "Backspace" && state.path) {
    load(parentOf(state.path), { history: "push", select: state.path });
    return true;
  }
  return false;
}

// -- wiring ------------------------------------------------------------------------------------

function wire() {
  $("nb-new-notebook").addEventListener("click", newNotebook);
  $("nb-new-folder").addEventListener("click", () => actions.newUntitled({ type: "directory" }, "folder"));
  $("nb-new-file").addEventListener("click", () => actions.newTextFile());
  $("nb-new-terminal")?.addEventListener("click", newTerminal);
  $("nb-upload").addEventListener("click", () => $("nb-upload-input").click());
  $("nb-upload-input").addEventListener("change", (event) => {
    const files = Array.from(event.target.files);
    event.target.value = "";
    uploads.upload(files, state.path);
  });
  $("nb-refresh").addEventListener("click", () => Promise.all([reload(), loadSessions()]));
  $("nb-open").addEventListener("click", () => grid.selectedItems().slice(0, 1).forEach(openEntry));
  $("nb-rename").addEventListener("click", () => actions.rename(grid.selectedItems()[0]));
  $("nb-duplicate").addEventListener("click", () => actions.duplicateEntries(grid.selectedItems()));
  $("nb-delete").addEventListener("click", () => actions.deleteEntries(grid.selectedItems()));
  $("nb-shutdown").addEventListener("click", () => actions.shutDownEntries(grid.selectedItems()));
  $("nb-select-all").addEventListener("change", (event) => grid.setAll(event.target.checked));
  $("nb-filter").addEventListener("input", (event) => {
    state.filter = event.target.value;
    showEntries({ fromTop: true });
  });
  for (const button of document.querySelectorAll("button.nb-sort")) {
    button.addEventListener("click", () => setSort(button.dataset.sort));
  }
  // Folder links and breadcrumbs move in place; other links (and modified clicks) behave as links.
  const inPlace = (event) => {
    const link = event.target.closest("a");
    if (!link || !isPlainClick(event)) return;
    const breadcrumb = link.closest("#nb-breadcrumbs");
    const index = grid.indexOf(link);
    const entry = index >= 0 ? grid.items[index] : null;
    if (breadcrumb) {
      event.preventDefault();
      const crumbs = [...breadcrumb.querySelectorAll("a")];
      const depth = crumbs.indexOf(link);
      const path = state.path.split("/").slice(0, depth).join("/");
      if (path !== state.path || depth === crumbs.length - 1) load(path, { history: path === state.path ? null : "push" });
    } else if (entry && entry.type === "directory") {
      event.preventDefault();
      openEntry(entry);
    }
  };
  $("nb-breadcrumbs").addEventListener("click", inPlace);
  $("nb-grid-sizer").addEventListener("click", inPlace);
  window.addEventListener("popstate", (event) => {
    const path = event.state && typeof event.state.path === "string" ? event.state.path : pageConfig().path || "";
    load(path);
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      loadSessions();
      load(state.path, { quiet: true });
    }
  });
  setInterval(poll, POLL_MS);
  acceptDrops($("nb-grid"), (files, event) => {
    // Dropped on a folder's row: upload into that folder, as JupyterLab does.
    const index = grid.indexOf(event.target);
    const entry = index >= 0 ? grid.items[index] : null;
    uploads.upload(files, entry && entry.type === "directory" ? entry.path : state.path);
  });
}

wire();
window.history.replaceState({ path: state.path }, "", window.location.href);
loadKernelspecs();
Promise.all([loadSessions(), load(state.path)]).then(() => {
  // Tests and scripts can wait for this; it is set once the first listing is on screen.
  document.documentElement.dataset.nbReady = "true";
});
