// Terminal text: ANSI SGR colours to spans, and carriage returns and backspaces that
// overwrite like a terminal's. Text always goes in with textContent.

const ESCAPE = /\x1b\[([0-9;]*)([A-Za-z])/g;
const NAMES = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];

/**
 * Apply "\r" and "\b" within each line, as a terminal would: "abc\rX" shows "Xbc".
 * Escape sequences take no column: they stay attached to the character after them.
 * `keepLast` leaves the last line (after the last "\n") untouched, so a stream that is
 * still arriving keeps its cursor for the next chunk.
 */
export function overwrite(text, { keepLast = false } = {}) {
  if (!text.includes("\r") && !text.includes("\b")) return text;
  const lines = text.split("\n");
  const last = keepLast ? lines.pop() : null;
  const done = lines.map(overwriteLine);
  if (last !== null) done.push(last);
  return done.join("\n");
}

function overwriteLine(line) {
  if (!line.includes("\r") && !line.includes("\b")) return line;
  const cells = [];
  let cursor = 0;
  let pending = "";
  const tokens = line.match(/\x1b\[[0-9;]*[A-Za-z]|[\s\S]/g) || [];
  tokens.forEach((token, i) => {
    if (token.startsWith("\x1b")) pending += token;
    else if (token === "\r") {
      if (i < tokens.length - 1) cursor = 0; // a trailing "\r" (from "\r\n") changes nothing
    } else if (token === "\b") cursor = Math.max(0, cursor - 1);
    else {
      cells[cursor] = pending + token;
      pending = "";
      cursor += 1;
    }
  });
  return cells.join("") + pending;
}

function colour(code, bright) {
  return `nb-ansi-${bright ? "bright-" : ""}${NAMES[code]}`;
}

function rgb(params, i) {
  // 38;5;n (256 colours) or 38;2;r;g;b; returns [css colour, params consumed].
  if (params[i + 1] === 5) {
    const n = params[i + 2];
    if (n < 16) return [`var(--nb-ansi-${n < 8 ? "" : "bright-"}${NAMES[n % 8]})`, 3];
    if (n < 232) {
      const v = n - 16;
      const level = (x) => (x === 0 ? 0 : 55 + x * 40);
      return [`rgb(${level(Math.floor(v / 36))}, ${level(Math.floor(v / 6) % 6)}, ${level(v % 6)})`, 3];
    }
    const grey = 8 + (n - 232) * 10;
    return [`rgb(${grey}, ${grey}, ${grey})`, 3];
  }
  if (params[i + 1] === 2) return [`rgb(${params[i + 2]}, ${params[i + 3]}, ${params[i + 4]})`, 5];
  return [null, 1];
}

/** Append `text` (with ANSI escapes) to `parent` as text nodes and styled spans. */
export function appendAnsi(parent, text) {
  let state = { fg: null, bg: null, fgCss: null, bgCss: null, bold: false, italic: false, underline: false };
  let last = 0;
  const flush = (chunk) => {
    if (!chunk) return;
    const plain = !state.fg && !state.bg && !state.fgCss && !state.bgCss && !state.bold && !state.italic && !state.underline;
    if (plain) {
      parent.append(document.createTextNode(chunk));
      return;
    }
    const span = document.createElement("span");
    const classes = [];
    if (state.fg) classes.push(state.fg);
    if (state.bg) classes.push(state.bg.replace("nb-ansi-", "nb-ansi-bg-"));
    if (state.bold) classes.push("nb-ansi-bold");
    if (state.italic) classes.push("nb-ansi-italic");
    if (state.underline) classes.push("nb-ansi-underline");
    span.className = classes.join(" ");
    if (state.fgCss) span.style.color = state.fgCss;
    if (state.bgCss) span.style.backgroundColor = state.bgCss;
    span.textContent = chunk;
    parent.append(span);
  };
  for (const match of text.matchAll(ESCAPE)) {
    flush(text.slice(last, match.index));
    last = match.index + match[0].length;
    if (match[2] !== "m") continue; // cursor movement and the like: dropped
    const params = match[1] === "" ? [0] : match[1].split(";").map((x) => Number(x || 0));
    for (let i = 0; i < params.length; i++) {
      const p = params[i];
      if (p === 0) state = { fg: null, bg: null, fgCss: null, bgCss: null, bold: false, italic: false, underline: false };
      else if (p === 1) state.bold = true;
      else if (p === 3) state.italic = true;
      else if (p === 4) state.underline = true;
      else if (p === 22) state.bold = false;
      else if (p === 23) state.italic = false;
      else if (p === 24) state.underline = false;
      else if (p >= 30 && p <= 37) { state.fg = colour(p - 30, false); state.fgCss = null; }
      else if (p >= 90 && p <= 97) { state.fg = colour(p - 90, true); state.fgCss = null; }
      else if (p >= 40 && p <= 47) { state.bg = colour(p - 40, false); state.bgCss = null; }
      else if (p >= 100 && p <= 107) { state.bg = colour(p - 100, true); state.bgCss = null; }
      else if (p === 39) { state.fg = null; state.fgCss = null; }
      else if (p === 49) { state.bg = null; state.bgCss = null; }
      else if (p === 38 || p === 48) {
        const [css, used] = rgb(params, i);
        if (p === 38) { state.fgCss = css; state.fg = null; } else { state.bgCss = css; state.bg = null; }
        i += used - 1;
      }
    }
  }
  flush(text.slice(last));
}
