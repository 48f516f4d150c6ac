// The file browser: one directory's listing in a virtual grid, with breadcrumbs, sorting,
// a filter, create / upload / rename / duplicate / download / delete, and the marker of
// notebooks that have a running session. Moving between folders happens in place
// (history.pushState); every folder also has its own /tree/<path> URL.

import { ApiError, apiUrl, contentsUrl, getJson, pageConfig, pageUrl, request } from "./api.js";
import { confirmDialog, el, promptDialog, showError, toast } from "./dialogs.js";
import { absoluteTime, formatSize, relativeTime, typeIcon } from "./format.js";
import { VirtualGrid } from "./grid.js";
import { uploadFile } from "./upload.js";

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

// -- paths -----------------------------------------------------------------------------------

function joinPath(dir, name) {
  return dir ? `${dir}/${name}` : name;
}

function parentOf(path) {
  return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
}

function baseName(path) {
  return path.slice(path.lastIndexOf("/") + 1);
}

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
  if (entry.type === "file" && !isText(entry)) {
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
  $("nb-selection-count").textContent = count ? `${count} selected` : `${state.entries.length} items`;
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
}

// -- opening -----------------------------------------------------------------------------------

function openEntry(entry) {
  if (entry.type === "directory") {
    load(entry.path, { history: "push" });
  } else if (entry.type === "notebook" || isText(entry)) {
    window.location.assign(entryUrl(entry));
  } else {
    window.open(entryUrl(entry), "_blank", "noopener");
  }
}

function isPlainClick(event) {
  return event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey && !event.altKey;
}

// -- actions -----------------------------------------------------------------------------------

async function newNotebook() {
  const button = $("nb-new-notebook");
  button.disabled = true;
  try {
    const { data: model } = await request("POST", contentsUrl(state.path), { body: { type: "notebook" } });
    const name = $("nb-kernel").value;
    const spec = name && state.kernelspecs ? state.kernelspecs.kernelspecs[name] : null;
    if (spec) {
      // The editor starts the kernel the notebook names, as Jupyter's does.
      const metadata = {
        kernelspec: { name, display_name: spec.spec.display_name || name, language: spec.spec.language || "" },
        language_info: { name: spec.spec.language || "" },
      };
      const content = { cells: [], metadata, nbformat: 4, nbformat_minor: 5 };
      await request("PUT", contentsUrl(model.path), { body: { type: "notebook", format: "json", content } });
    }
    window.location.assign(pageUrl("notebooksUrl", model.path));
  } catch (problem) {
    showError("Creating a notebook", problem);
    button.disabled = false;
  }
}

/** Create an untitled folder or file, then offer to name it (as JupyterLab does). */
async function newUntitled(body, what) {
  let model;
  try {
    ({ data: model } = await request("POST", contentsUrl(state.path), { body }));
  } catch (problem) {
    showError(`Creating a ${what}`, problem);
    return;
  }
  await reload(model.path);
  await rename({ ...model, name: baseName(model.path) }, `Name the new ${what}`);
}

function stemLength(entry) {
  const dot = entry.name.lastIndexOf(".");
  return entry.type !== "directory" && dot > 0 ? dot : entry.name.length;
}

async function rename(entry, title = "Rename") {
  const renamed = await promptDialog({
    title,
    label: entry.type === "directory" ? "Folder name" : "File name",
    value: entry.name,
    select: [0, stemLength(entry)],
    confirmLabel: "Rename",
    submit: async (name) => {
      if (!name) throw new Error("The name cannot be empty.");
      if (name.includes("/")) throw new Error("A name cannot contain '/'.");
      if (name === entry.name) return entry.path;
      const target = joinPath(parentOf(entry.path), name);
      await request("PATCH", contentsUrl(entry.path), { body: { path: target } });
      await moveSessions(entry.path, target);
      return target;
    },
  });
  if (renamed) await reload(renamed);
}

/** Keep running sessions pointing at a renamed notebook (or at notebooks in a renamed folder). */
async function moveSessions(from, to) {
  const moves = [];
  for (const [path, sessions] of state.running) {
    let target = null;
    if (path === from) target = to;
    else if (path.startsWith(`${from}/`)) target = to + path.slice(from.length);
    if (target) {
      for (const session of sessions) moves.push(request("PATCH", apiUrl("sessions", session.id), { body: { path: target } }));
    }
  }
  const results = await Promise.allSettled(moves);
  if (results.length) await loadSessions();
}

async function deleteEntries(entries) {
  if (!entries.length) return;
  const folders = entries.some((entry) => entry.type === "directory");
  const what = entries.length === 1 ? `"${entries[0].name}"` : `the ${entries.length} selected items`;
  const message = `Are you sure you want to permanently delete ${what}${folders ? " and everything in them" : ""}?`;
  if (!(await confirmDialog({ title: "Delete", message, confirmLabel: "Delete", danger: true }))) return;
  for (const entry of entries) {
    try {
      await request("DELETE", contentsUrl(entry.path));
    } catch (problem) {
      showError(`Deleting ${entry.name}`, problem);
    }
  }
  await reload();
  $("nb-grid").focus();
}

async function duplicateEntries(entries) {
  let last = null;
  for (const entry of entries) {
    try {
      ({ data: last } = await request("POST", contentsUrl(parentOf(entry.path)), { body: { copy_from: entry.path } }));
    } catch (problem) {
      showError(`Duplicating ${entry.name}`, problem);
    }
  }
  await reload(last ? last.path : null);
}

async function shutDownEntries(entries) {
  const sessions = entries.flatMap((entry) => state.running.get(entry.path) || []);
  for (const session of sessions) {
    try {
      await request("DELETE", apiUrl("sessions", session.id));
    } catch (problem) {
      if (!(problem instanceof ApiError && problem.status === 404)) showError(`Shutting down ${session.path}`, problem);
    }
  }
  await loadSessions();
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
    deleteEntries(selected);
    return true;
  }
  if (event.key === "F2" && selected.length === 1) {
    rename(selected[0]);
    return true;
  }
  if (event.key === "Backspace" && state.path) {
    load(parentOf(state.path), { history: "push", select: state.path });
    return true;
  }
  return false;
}

// -- uploads -----------------------------------------------------------------------------------

let uploadQueue = Promise.resolve();

/** Queue `files` for upload into `dir`, one at a time, each with its own progress row. */
async function uploadFiles(files, dir) {
  if (!files.length) return;
  const existing = dir === state.path ? new Set(state.entries.map((entry) => entry.name)) : new Set();
  const clashes = files.filter((file) => existing.has(file.name));
  let replace = true;
  if (clashes.length) {
    const names = clashes.map((file) => `"${file.name}"`).join(", ");
    replace = await confirmDialog({
      title: "Replace files?",
      message: `${names} already ${clashes.length === 1 ? "exists" : "exist"} in this folder. Replace ${clashes.length === 1 ? "it" : "them"}?`,
      confirmLabel: "Replace",
      danger: true,
    });
  }
  const area = $("nb-uploads");
  for (const row of area.querySelectorAll('.nb-upload[data-state="done"]')) row.remove();
  area.hidden = false;
  for (const file of files) {
    if (!replace && existing.has(file.name)) continue;
    const row = uploadRow(file);
    area.append(row.element);
    uploadQueue = uploadQueue.then(() => runUpload(file, joinPath(dir, file.name), row));
  }
}

function uploadRow(file) {
  const controller = new AbortController();
  const progress = el("progress", { max: file.size || 1, value: 0, "aria-label": `Uploading ${file.name}` });
  const status = el("span", { className: "nb-upload-state" }, "Waiting");
  const cancel = el("button", { type: "button", "aria-label": `Cancel uploading ${file.name}` }, "Cancel");
  const element = el("div", { className: "nb-upload", dataset: { state: "waiting", name: file.name } },
    el("span", { className: "nb-upload-name", title: file.name }, file.name), progress, status, cancel);
  cancel.addEventListener("click", () => {
    if (element.dataset.state === "done" || element.dataset.state === "failed") {
      element.remove();
      if (!$("nb-uploads").children.length) $("nb-uploads").hidden = true;
    } else {
      controller.abort();
    }
  });
  return { element, progress, status, cancel, controller };
}

async function runUpload(file, path, row) {
  if (row.controller.signal.aborted) {
    finishRow(row, "failed", "Cancelled");
    return;
  }
  row.element.dataset.state = "uploading";
  try {
    await uploadFile(file, path, {
      signal: row.controller.signal,
      onProgress: (sent, total) => {
        row.progress.max = total || 1;
        row.progress.value = total ? sent : 1;
        row.status.textContent = total ? `${Math.floor((100 * sent) / total)}%` : "";
      },
    });
    finishRow(row, "done", "Uploaded");
    if (parentOf(path) === state.path) await reload(path);
  } catch (problem) {
    const cancelled = problem.name === "AbortError";
    finishRow(row, "failed", cancelled ? "Cancelled" : "Failed");
    if (!cancelled) showError(`Uploading ${file.name}`, problem);
    if (parentOf(path) === state.path) await reload();
  }
}

function finishRow(row, outcome, text) {
  row.element.dataset.state = outcome;
  row.status.textContent = text;
  row.cancel.textContent = "Dismiss";
  row.cancel.setAttribute("aria-label", `Dismiss ${row.element.dataset.name}`);
}

function hasFiles(event) {
  return event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
}

function setUpDragAndDrop() {
  // A file dropped beside the list must not replace the page with the file.
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => {
      if (hasFiles(event) && !event.defaultPrevented) event.preventDefault();
    });
  }
  const target = $("nb-grid");
  let depth = 0;
  target.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth += 1;
    target.classList.add("nb-dropping");
  });
  target.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  target.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) target.classList.remove("nb-dropping");
  });
  target.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    target.classList.remove("nb-dropping");
    const files = Array.from(event.dataTransfer?.files || []);
    // Dropped on a folder's row: upload into that folder, as JupyterLab does.
    const index = grid.indexOf(event.target);
    const entry = index >= 0 ? grid.items[index] : null;
    uploadFiles(files, entry && entry.type === "directory" ? entry.path : state.path);
  });
}

// -- wiring ------------------------------------------------------------------------------------

function wire() {
  $("nb-new-notebook").addEventListener("click", newNotebook);
  $("nb-new-folder").addEventListener("click", () => newUntitled({ type: "directory" }, "folder"));
  $("nb-new-file").addEventListener("click", () => newUntitled({ type: "file", ext: ".txt" }, "text file"));
  $("nb-upload").addEventListener("click", () => $("nb-upload-input").click());
  $("nb-upload-input").addEventListener("change", (event) => {
    const files = Array.from(event.target.files);
    event.target.value = "";
    uploadFiles(files, state.path);
  });
  $("nb-refresh").addEventListener("click", () => Promise.all([reload(), loadSessions()]));
  $("nb-open").addEventListener("click", () => grid.selectedItems().slice(0, 1).forEach(openEntry));
  $("nb-rename").addEventListener("click", () => rename(grid.selectedItems()[0]));
  $("nb-duplicate").addEventListener("click", () => duplicateEntries(grid.selectedItems()));
  $("nb-delete").addEventListener("click", () => deleteEntries(grid.selectedItems()));
  $("nb-shutdown").addEventListener("click", () => shutDownEntries(grid.selectedItems()));
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
  setUpDragAndDrop();
}

wire();
window.history.replaceState({ path: state.path }, "", window.location.href);
loadKernelspecs();
Promise.all([loadSessions(), load(state.path)]).then(() => {
  // Tests and scripts can wait for this; it is set once the first listing is on screen.
  document.documentElement.dataset.nbReady = "true";
});
