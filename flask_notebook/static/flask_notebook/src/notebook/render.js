// The one place HTML is made from notebook content: Markdown (marked), math (KaTeX, typeset
// here, never fetched from elsewhere), and sanitising (DOMPurify) of everything not trusted.
//
// KaTeX is a quarter of the editor's code, and most notebooks open without math on screen,
// so it is a chunk of its own, loaded the first time math is met: until then each formula is
// a placeholder holding its TeX as text, typeset in place once KaTeX has arrived.

import DOMPurify from "dompurify";
import { Marked } from "marked";

const marked = new Marked({ gfm: true, breaks: false });

// Code first (so "$" inside code is not math), then display math, then inline math.
const MATH_OR_CODE = /(```[\s\S]*?```|~~~[\s\S]*?~~~|`[^`\n]+`)|(\$\$[\s\S]+?\$\$|\\\[[\s\S]+?\\\]|\\begin\{([a-z*]+)\}[\s\S]+?\\end\{\3\})|(\$(?!\s)(?:\\\$|[^$\n])+?(?<!\s)\$|\\\([\s\S]+?\\\))/g;

let katex = null;
let katexLoading = null;

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

function katexHtml(tex, displayMode) {
  return katex.renderToString(tex, { displayMode, throwOnError: false, trust: false, output: "htmlAndMathml" });
}

/** Typeset every placeholder in the page, once KaTeX is here (fetched on first call). */
function typesetPending() {
  if (!katexLoading) {
    katexLoading = import("katex").then((module) => {
      katex = module.default;
    });
  }
  katexLoading.then(() => {
    for (const node of document.querySelectorAll(".nb-math-pending")) {
      node.outerHTML = katexHtml(node.textContent, node.dataset.display === "true");
    }
  });
}

/** One TeX expression as HTML: typeset when KaTeX is loaded, else a placeholder that will be
 *  (a syntax error shows the source in red, not a crash). */
export function typeset(tex, displayMode) {
  if (katex) return katexHtml(tex, displayMode);
  queueMicrotask(typesetPending);
  const tag = displayMode ? "div" : "span";
  return `<${tag} class="nb-math-pending" data-display="${displayMode}">${escapeHtml(tex)}</${tag}>`;
}

/** Take math out of `text` (leaving placeholders Markdown will not touch) and typeset it. */
function extractMath(text) {
  const maths = [];
  const stripped = text.replace(MATH_OR_CODE, (match, code, display, _env, inline) => {
    if (code) return match;
    let tex;
    let displayMode;
    if (display) {
      displayMode = true;
      if (match.startsWith("$$")) tex = match.slice(2, -2);
      else if (match.startsWith("\\[")) tex = match.slice(2, -2);
      else tex = match; // \begin{env}...\end{env} goes to KaTeX whole
    } else {
      displayMode = false;
      tex = match.startsWith("$") ? match.slice(1, -1) : match.slice(2, -2);
    }
    maths.push(typeset(tex, displayMode));
    return `NBMATH${maths.length - 1}END`;
  });
  return { stripped, maths };
}

function restoreMath(html, maths) {
  return html.replace(/NBMATH(\d+)END/g, (_m, i) => maths[Number(i)]);
}

// DOMPurify's default URI rule plus `attachment:`, which Markdown cells use for their images
// (rewritten to data: URLs right after sanitising).
const URI_RULE = /^(?:(?:(?:f|ht)tps?|mailto|tel|callto|sms|cid|xmpp|matrix|attachment):|[^a-z]|[a-z+.\-]+(?:[^a-z+.\-:]|$))/i;

/** Sanitise untrusted HTML (scripts, handlers and javascript: URLs go). */
export function sanitize(html, { svg = false } = {}) {
  return DOMPurify.sanitize(html, svg
    ? { USE_PROFILES: { svg: true, svgFilters: true } }
    : { ADD_ATTR: ["target"], ALLOWED_URI_REGEXP: URI_RULE });
}

/**
 * Markdown (with $...$ math) to a sanitised DOM fragment inside `into`. `resolveImage(src)`
 * rewrites image sources (attachments, relative paths); it returns null to leave one alone.
 */
export function renderMarkdown(into, text, { resolveImage = null } = {}) {
  const { stripped, maths } = extractMath(text);
  const html = sanitize(marked.parse(stripped));
  into.innerHTML = restoreMath(html, maths); // KaTeX output is generated from TeX, with trust off
  fixLinks(into, resolveImage);
}

function fixLinks(root, resolveImage) {
  if (resolveImage) {
    for (const img of root.querySelectorAll("img[src]")) {
      const src = resolveImage(img.getAttribute("src"));
      if (src) img.setAttribute("src", src);
    }
  }
  for (const link of root.querySelectorAll("a[href]")) {
    if (!link.getAttribute("href").startsWith("#")) {
      link.target = "_blank";
      link.rel = "noopener noreferrer";
    }
  }
}

/** text/latex output: usually "$...$" or "$$...$$" or a bare environment. */
export function renderLatex(into, text) {
  const { stripped, maths } = extractMath(text);
  const holder = document.createElement("div");
  holder.textContent = stripped;
  into.innerHTML = restoreMath(holder.innerHTML, maths);
}

/** HTML output: sanitised unless trusted (notebook signature, or made by our kernel here). */
export function renderHtml(into, html, { trusted }) {
  into.innerHTML = trusted ? html : sanitize(html);
  fixLinks(into, null);
}
