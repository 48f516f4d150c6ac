// The page config and a small fetch wrapper for our REST API.
//
// Every URL comes from the JSON block #nb-config that the server renders into each page
// (blueprints/ui.py page_config), so pages work under a URL prefix and a base URL:
//   baseUrl       "/nb/"                  the mount point, always with a trailing slash
//   apiUrl        "/nb/api"               GET gives the version; services live below it
//   contentsUrl   "/nb/api/contents/"
//   treeUrl       "/nb/tree/"             + an encoded API path
//   notebooksUrl  "/nb/notebooks/"        + an encoded API path
//   filesUrl      "/nb/files/"            + an encoded API path: raw downloads
//   runningUrl    "/nb/running"
//   runsUrl       "/nb/runs"               the run history page
//   editUrl       "/nb/edit/"             + an encoded API path: the text editor
// Pages may add their own keys (the tree page adds `path`).
//
// Unsafe requests carry the `_xsrf` cookie in X-XSRFToken (the server's double-submit check);
// error bodies {"message", "reason"} become an ApiError, and so does a non-JSON error body.
// No API answer ever comes from the browser's HTTP cache: see `request`.

let cachedConfig = null;

/** The page's #nb-config block, parsed once. */
export function pageConfig() {
  if (cachedConfig === null) {
    const block = document.getElementById("nb-config");
    cachedConfig = block ? JSON.parse(block.textContent) : {};
  }
  return cachedConfig;
}

/** An API path ("a b/c.ipynb") as a URL path, each segment percent-encoded ("a%20b/c.ipynb"). */
export function encodePath(apiPath) {
  return apiPath.split("/").filter((part) => part !== "").map(encodeURIComponent).join("/");
}

/** "dir/name" ("name" in the root). */
export function joinPath(dir, name) {
  return dir ? `${dir}/${name}` : name;
}

/** The folder an API path is in ("" for the root's entries). */
export function parentOf(apiPath) {
  return apiPath.includes("/") ? apiPath.slice(0, apiPath.lastIndexOf("/")) : "";
}

/** The last segment of an API path. */
export function baseName(apiPath) {
  return apiPath.slice(apiPath.lastIndexOf("/") + 1);
}

/** The URL of `apiPath` under one of the config's prefixes: pageUrl("treeUrl", "sub/dir"). */
export function pageUrl(key, apiPath = "") {
  return pageConfig()[key] + encodePath(apiPath);
}

/** The URL of an API service: apiUrl("sessions"), apiUrl("kernels", kernelId). */
export function apiUrl(...segments) {
  const base = pageConfig().apiUrl.replace(/\/$/, "");
  return [base, ...segments.map(encodeURIComponent)].join("/");
}

/** The contents API URL of an API path; the root is the contents URL itself. */
export function contentsUrl(apiPath = "") {
  return pageConfig().contentsUrl + encodePath(apiPath);
}

/** The value of the `_xsrf` cookie, or "" when there is none. */
export function xsrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** A failed API call. `status` is the HTTP status (0 when the network failed). */
export class ApiError extends Error {
  constructor(status, message, reason = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.reason = reason;
  }
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * fetch() for our API. Resolves to { data, response }: `data` is the parsed JSON body, or
 * null for an empty one (204). Rejects with ApiError on an error status or a network failure.
 *
 * options: body (serialised as JSON unless it is a string, Blob or FormData), query (an
 * object of search parameters), headers, signal.
 */
export async function request(method, url, options = {}) {
  const headers = new Headers(options.headers || {});
  let body = options.body;
  if (body !== undefined && !(typeof body === "string" || body instanceof Blob || body instanceof FormData)) {
    body = JSON.stringify(body);
    headers.set("Content-Type", "application/json");
  }
  if (!SAFE_METHODS.has(method)) {
    headers.set("X-XSRFToken", xsrfToken());
  }
  if (options.query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query)) {
      if (value !== undefined && value !== null) params.set(key, String(value));
    }
    const text = params.toString();
    if (text) url += (url.includes("?") ? "&" : "?") + text;
  }
  let response;
  try {
    // cache "no-store": an answer describes the server as it is now. With the default mode a
    // browser may reuse an old answer by itself (heuristic freshness from Last-Modified: a
    // notebook last changed days ago stays "fresh" for hours), and a PUT only evicts the URL
    // without our query, so reopening a saved notebook showed the copy from before the save
    // and the next save got a 409 (issue 16). The server sends Cache-Control: no-store too;
    // this side holds even behind a proxy that drops it, and keeps answers out of the cache.
    response = await fetch(url, {
      method, headers, body, signal: options.signal, credentials: "same-origin", cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, `Cannot reach the server (${error.message})`);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const message = data && typeof data.message === "string" && data.message
      ? data.message
      : (text && text.length < 300 && !text.trimStart().startsWith("<") ? text : `${response.status} ${response.statusText}`);
    throw new ApiError(response.status, message, data && data.reason ? data.reason : null);
  }
  return { data, response };
}

/** GET a URL and resolve to its JSON body. */
export async function getJson(url, query) {
  return (await request("GET", url, { query })).data;
}

/** `fn` made to run one call at a time: a call while one is running gets that one's promise
 *  (a refresh asked for twice draws once). */
export function oneAtATime(fn) {
  let running = null;
  return () => {
    running ||= Promise.resolve()
      .then(fn)
      .finally(() => {
        running = null;
      });
    return running;
  };
}

/** Call `refresh` every `ms` while the page is visible, and when it becomes visible again. */
export function pollWhileVisible(refresh, ms) {
  const ifVisible = () => {
    if (document.visibilityState === "visible") refresh();
  };
  document.addEventListener("visibilitychange", ifVisible);
  setInterval(ifVisible, ms);
}
