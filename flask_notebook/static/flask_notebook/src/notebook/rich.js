// Outputs that run code or draw charts: application/javascript, <script> in HTML, Plotly,
// Vega / Vega-Lite (Altair) and Bokeh.
//
// Trust: code in outputs runs only when the output is trusted, as in Jupyter: made by the
// kernel for this page (a run's live events: runs.js marks those cells trusted) or stored in
// a notebook whose signature the server knows (`metadata.trusted` on its cells, from the
// contents API; signing happens on save when every cell is trusted, or by "Trust notebook").
// Untrusted HTML is sanitised (render.js) and its JavaScript is not run. Scripts run in the
// page's own origin, as in Notebook 7 (no iframe): trusting a notebook means trusting its code.
//
// Chart libraries are bundled (no CDN, no network) and loaded lazily, the first time a chart
// is drawn: they land in build/chunks/.

/** Rich types first: they beat the text/html and images a bundle may also carry. */
export const RICH_MIME_ORDER = [
  "application/vnd.plotly.v1+json",
  "application/vnd.vega.v6+json", "application/vnd.vega.v5+json", "application/vnd.vega.v4+json",
  "application/vnd.vegalite.v6+json", "application/vnd.vegalite.v5+json", "application/vnd.vegalite.v4+json",
  "application/vnd.vegalite.v3+json",
  // Altair 6's "mimetype" renderer spells v6 so (".json", not "+json").
  "application/vnd.vega.v6.json", "application/vnd.vegalite.v6.json",
  "application/javascript",
];

/** MIME types that are code: skipped (the next type in the bundle is used) when untrusted. */
const NEEDS_TRUST = new Set(["application/javascript"]);

export function allowed(mime, trusted) {
  return trusted || !NEEDS_TRUST.has(mime);
}

/** Run `fn` once `node` is in the page (cells are built before they are inserted). */
function whenConnected(node, fn, tries = 200) {
  if (node.isConnected) fn();
  else if (tries > 0) requestAnimationFrame(() => whenConnected(node, fn, tries - 1));
}

function showError(box, what, error) {
  const pre = document.createElement("pre");
  pre.className = "nb-output-js-error";
  pre.textContent = `${what}: ${error && error.message ? error.message : error}`;
  box.append(pre);
}

/**
 * application/javascript: the code runs with `element` bound to its output's div (as in
 * JupyterLab and Notebook 7; classic Notebook's was a jQuery of it), `this` the window.
 */
export function renderJavascript(box, code) {
  const element = document.createElement("div");
  element.className = "nb-output-js";
  box.append(element);
  whenConnected(box, () => {
    try {
      // eslint-disable-next-line no-new-func
      new Function("element", code).call(window, element);
    } catch (error) {
      showError(box, "Javascript error", error);
    }
  });
}

/** Make the <script>s of trusted HTML run: ones set by innerHTML never do. A new script
 *  element runs when it is in the page (now, or when its cell is inserted). */
export async function runScripts(box) {
  const scripts = [...box.querySelectorAll("script")];
  if (!scripts.length) return;
  if (scripts.some((s) => s.textContent.includes("VEGA_DEBUG"))) await altairGlobals(scripts);
  for (const old of scripts) {
    const script = document.createElement("script");
    for (const { name, value } of old.attributes) script.setAttribute(name, value);
    script.textContent = old.textContent;
    old.replaceWith(script);
  }
}

/**
 * Altair's default ("html") renderer loads vega, vega-lite and vega-embed from a CDN unless
 * `VEGA_DEBUG` says that version is loaded already: give it our bundled vega-embed instead,
 * so its charts draw with no network.
 */
async function altairGlobals(scripts) {
  const wanted = {};
  for (const script of scripts) {
    for (const [, lib, version] of script.textContent.matchAll(/maybeLoadScript\("(vega(?:-lite|-embed)?)", "([^"]*)"\)/g)) {
      wanted[`${lib.replace("-", "")}_version`] = version;
    }
  }
  if (!Object.keys(wanted).length) return;
  try {
    const embed = await vegaEmbed();
    window.vegaEmbed = embed;
    window.VEGA_DEBUG = Object.assign(window.VEGA_DEBUG || {}, wanted);
  } catch {
    // The script then tries its CDN, and says so in its output.
  }
}

let vegaEmbedModule = null;
function vegaEmbed() {
  vegaEmbedModule ||= import("vega-embed").then((m) => m.default);
  return vegaEmbedModule;
}

let plotlyModule = null;
function plotly() {
  plotlyModule ||= import("plotly.js-dist-min").then((m) => m.default || m);
  return plotlyModule;
}

/** application/vnd.plotly.v1+json: {data, layout, config, frames}. */
export function renderPlotly(box, spec) {
  const div = document.createElement("div");
  div.className = "nb-plotly";
  box.append(div);
  whenConnected(box, async () => {
    try {
      const Plotly = await plotly();
      const layout = { ...(spec.layout || {}) };
      await Plotly.newPlot(div, spec.data || [], layout, { responsive: true, ...(spec.config || {}) });
      if (spec.frames) await Plotly.addFrames(div, spec.frames);
    } catch (error) {
      showError(box, "Plotly error", error);
    }
  });
}

/** Vega and Vega-Lite specs (Altair's "mimetype" renderer), with vega-embed's menu. */
export function renderVega(box, spec, mime) {
  const div = document.createElement("div");
  div.className = "nb-vega";
  box.append(div);
  whenConnected(box, async () => {
    try {
      const embed = await vegaEmbed();
      await embed(div, spec, {
        mode: mime.includes("vegalite") ? "vega-lite" : "vega",
        // "Open in Vega Editor" would post the spec to another site: not offered.
        actions: { export: true, source: true, compiled: true, editor: false },
      });
    } catch (error) {
      showError(box, "Vega error", error);
    }
  });
}

/** Render `mime` of a bundle into `box`; false when it is not one of ours. */
export function renderRich(box, mime, value) {
  // A JSON type not spelled "+json" may come as JSON text (nbformat keeps it a string).
  if (mime.startsWith("application/vnd.") && typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      // rendered as it is, and the renderer says what is wrong
    }
  }
  if (mime === "application/javascript") renderJavascript(box, Array.isArray(value) ? value.join("") : value);
  else if (mime === "application/vnd.plotly.v1+json") renderPlotly(box, value);
  else if (mime.startsWith("application/vnd.vega")) renderVega(box, value, mime);
  else return false;
  return true;
}
