// What the file browser does to files: create, rename, delete, duplicate, shut down. Each
// action talks to the contents or sessions API, reports failures, then has the browser
// list the folder again (selecting what it made).

import { ApiError, apiUrl, baseName, contentsUrl, joinPath, pageUrl, parentOf, request } from "./api.js";
import { confirmDialog, promptDialog, showError } from "./dialogs.js";

/**
 * The actions for one file browser. `tree` gives them what they need:
 *   state            { path, running: Map(path -> sessions), kernelspecs }
 *   reload(select)   list the folder again, selecting the entry at path `select`
 *   loadSessions()   fetch the running sessions again
 *   focusList()      put the focus back on the list
 */
export function fileActions(tree) {
  const { state } = tree;

  /** Create an untitled notebook for `kernelName` and open it in the editor. */
  /** Create an untitled notebook with `kernelName`'s kernelspec and open it in `tab` (a tab
   *  the caller opened within the click, so no popup blocker stops it; else this one). */
  async function newNotebook(kernelName, tab = null) {
    const { data: model } = await request("POST", contentsUrl(state.path), { body: { type: "notebook" } });
    const spec = kernelName && state.kernelspecs ? state.kernelspecs.kernelspecs[kernelName] : null;
    if (spec) {
      // The editor starts the kernel the notebook names, as Jupyter's does.
      const language = spec.spec.language || "";
      const metadata = {
        kernelspec: { name: kernelName, display_name: spec.spec.display_name || kernelName, language },
        language_info: { name: language },
      };
      const content = { cells: [], metadata, nbformat: 4, nbformat_minor: 5 };
      await request("PUT", contentsUrl(model.path), { body: { type: "notebook", format: "json", content } });
    }
    const url = pageUrl("notebooksUrl", model.path);
    if (tab) tab.location.href = url;
    else window.location.assign(url);
  }

  /**
   * Create an untitled folder or file, then offer to name it (as JupyterLab does). Resolves to
   * its path (its first name when the naming is cancelled), or null when it was not created.
   */
  async function newUntitled(body, what) {
    let model;
    try {
      ({ data: model } = await request("POST", contentsUrl(state.path), { body }));
    } catch (problem) {
      showError(`Creating a ${what}`, problem);
      return null;
    }
    await tree.reload(model.path);
    return (await rename({ ...model, name: baseName(model.path) }, `Name the new ${what}`, "Create")) || model.path;
  }

  /**
   * Create a text file, name it, and open it in the file editor in a new tab, as Notebook 7
   * does (the same tab when the browser blocks the new one).
   */
  async function newTextFile() {
    const path = await newUntitled({ type: "file", ext: ".txt" }, "text file");
    if (!path) return;
    const url = pageUrl("editUrl", path);
    const tab = window.open(url, "_blank");
    if (tab) tab.opener = null;
    else window.location.assign(url);
  }

  function stemLength(entry) {
    const dot = entry.name.lastIndexOf(".");
    return entry.type !== "directory" && dot > 0 ? dot : entry.name.length;
  }

  async function rename(entry, title = "Rename", confirmLabel = "Rename") {
    const renamed = await promptDialog({
      title,
      label: entry.type === "directory" ? "Folder name" : "File name",
      value: entry.name,
      select: [0, stemLength(entry)],
      confirmLabel,
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
    if (renamed) await tree.reload(renamed);
    return renamed;
  }

  /** Keep running sessions pointing at a renamed notebook (or at notebooks in a renamed folder). */
  async function moveSessions(from, to) {
    const moves = [];
    for (const [path, sessions] of state.running) {
      let target = null;
      if (path === from) target = to;
      else if (path.startsWith(`${from}/`)) target = to + path.slice(from.length);
      if (target) {
        for (const session of sessions) {
          moves.push(request("PATCH", apiUrl("sessions", session.id), { body: { path: target } }));
        }
      }
    }
    const results = await Promise.allSettled(moves);
    if (results.length) await tree.loadSessions();
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
    await tree.reload();
    tree.focusList();
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
    await tree.reload(last ? last.path : null);
  }

  /** Shut down the sessions (and so the kernels) of the running notebooks among `entries`. */
  async function shutDownEntries(entries) {
    const sessions = entries.flatMap((entry) => state.running.get(entry.path) || []);
    for (const session of sessions) {
      try {
        await request("DELETE", apiUrl("sessions", session.id));
      } catch (problem) {
        if (!(problem instanceof ApiError && problem.status === 404)) showError(`Shutting down ${session.path}`, problem);
      }
    }
    await tree.loadSessions();
  }

  return { newNotebook, newUntitled, newTextFile, rename, deleteEntries, duplicateEntries, shutDownEntries };
}
