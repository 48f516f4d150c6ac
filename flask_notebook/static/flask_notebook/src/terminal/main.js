// The terminal page (/terminals/<name>): xterm.js on the terminal's WebSocket, which speaks
// terminado's JSON arrays (blueprints/terminals.py): the server sends ["setup", {}], then
// ["stdout", text] (first all the output it has kept, in one frame) and ["disconnect", 1]
// when the shell has ended; we send ["stdin", text] and ["set_size", rows, cols].
//
// - Size: the terminal fits its box (FitAddon) and tells the server every new size.
// - Copy and paste: Ctrl+Shift+C copies the selection, Ctrl+Shift+V pastes (the browser's own
//   paste, which xterm takes as a paste event, bracketed when the program asks), as do the
//   Copy and Paste buttons.
// - A dropped socket: "Reconnecting…" and retries with backoff; the terminal still there (its
//   GET answers), the new socket's first frame is all the kept output again, so the screen is
//   reset first and drawn from it (nothing doubled). A terminal that is gone says so.
// - Theme: xterm's colours from the --nb-* variables, again when they change (dark mode).
//
// Tests reach the live objects through window.nbTerminal.

import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { ApiError, apiUrl, pageConfig, pageUrl, request } from "../../js/api.js";
import { confirmDialog, showError, toast } from "../../js/dialogs.js";
import "./terminal.css";

const name = pageConfig().name;
const $ = (id) => document.getElementById(id);
const box = $("nb-terminal");
const statusLine = $("nb-terminal-status");
/** Seconds between reconnection attempts, the last repeated. */
const BACKOFF = [0.25, 0.5, 1, 2, 4, 8];
const READER_KEY = "flask-notebook.terminal.screenReaderMode";

// -- the terminal --------------------------------------------------------------------------------

/** ANSI colours readable on a light background (GitHub's light terminal palette); on a dark
 *  one, xterm's own. */
const LIGHT_ANSI = {
  black: "#24292f", red: "#cf222e", green: "#116329", yellow: "#4d2d00", blue: "#0969da", magenta: "#8250df",
  cyan: "#1b7c83", white: "#6e7781", brightBlack: "#57606a", brightRed: "#a40e26", brightGreen: "#1a7f37",
  brightYellow: "#633c01", brightBlue: "#218bff", brightMagenta: "#a475f9", brightCyan: "#3192aa",
  brightWhite: "#8c959f",
};

/** Whether a CSS colour ("#ffffff", "rgb(13, 17, 23)") is light. */
function isLight(color) {
  const probe = document.createElement("span");
  probe.style.color = color;
  document.body.append(probe);
  const [r, g, b] = (getComputedStyle(probe).color.match(/\d+/g) || [0, 0, 0]).map(Number);
  probe.remove();
  return 0.299 * r + 0.587 * g + 0.114 * b > 128;
}

function theme() {
  const css = getComputedStyle(document.documentElement);
  const v = (key) => css.getPropertyValue(key).trim();
  return {
    background: v("--nb-bg"), foreground: v("--nb-fg"), cursor: v("--nb-fg"), cursorAccent: v("--nb-bg"),
    selectionBackground: v("--nb-selected"), selectionForeground: v("--nb-selected-fg"),
    ...(isLight(v("--nb-bg")) ? LIGHT_ANSI : {}),
  };
}

const term = new Terminal({
  fontFamily: getComputedStyle(document.documentElement).getPropertyValue("--nb-mono").trim() || "monospace",
  fontSize: 14,
  theme: theme(),
  cursorBlink: true,
  scrollback: 5000,
  screenReaderMode: localStorage.getItem(READER_KEY) === "1",
  allowProposedApi: false,
});
const fit = new FitAddon();
term.loadAddon(fit);
box.replaceChildren();
term.open(box);

function restyle() {
  term.options.theme = theme();
}
window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", restyle);
// A theme chosen in the page (a class or data attribute on <html>) changes the variables too.
new MutationObserver(restyle).observe(document.documentElement, { attributes: true });

// -- the connection ------------------------------------------------------------------------------

const conn = {
  ws: null,
  attempt: 0, // reconnection attempts since the last open socket
  timer: null,
  opened: false, // a socket was open once: a new one's kept output replaces the screen
  ended: false,
};

function setStatus(text, kind = "info") {
  statusLine.textContent = text;
  statusLine.dataset.kind = kind;
}

function send(...message) {
  if (conn.ws && conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(message));
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const base = pageConfig().baseUrl.replace(/\/$/, "");
  return `${scheme}//${location.host}${base}/terminals/websocket/${encodeURIComponent(name)}`;
}

function connect() {
  clearTimeout(conn.timer);
  const ws = new WebSocket(socketUrl());
  conn.ws = ws;
  let replaying = conn.opened; // a reconnect: the first output is the whole kept screen again
  ws.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (!Array.isArray(message)) return;
    if (message[0] === "setup") {
      conn.opened = true;
      conn.attempt = 0;
      box.dataset.state = "connected";
      term.options.disableStdin = false;
      setStatus("");
      send("set_size", term.rows, term.cols);
    } else if (message[0] === "stdout" && typeof message[1] === "string") {
      if (replaying) {
        replaying = false;
        term.reset();
      }
      term.write(message[1]);
    } else if (message[0] === "disconnect") {
      ended("The shell has exited: this terminal has ended.");
    }
  });
  ws.addEventListener("close", () => {
    if (conn.ws !== ws || conn.ended) return;
    conn.ws = null;
    lost();
  });
}

/** The socket dropped: say so, and try again after a while (sooner when the browser is back online). */
function lost() {
  box.dataset.state = "disconnected";
  term.options.disableStdin = true;
  setStatus("Reconnecting…", "warning");
  const delay = BACKOFF[Math.min(conn.attempt, BACKOFF.length - 1)];
  conn.attempt += 1;
  clearTimeout(conn.timer);
  conn.timer = setTimeout(retry, delay * 1000);
}

async function retry() {
  if (conn.ended || conn.ws) return;
  try {
    await request("GET", apiUrl("terminals", name));
  } catch (problem) {
    if (problem instanceof ApiError && problem.status === 404) {
      ended("This terminal has ended.");
    } else {
      lost(); // the network (or the server) is still away
    }
    return;
  }
  connect();
}

window.addEventListener("online", () => {
  if (!conn.ended && !conn.ws) {
    clearTimeout(conn.timer);
    retry();
  }
});

/** For good: the shell exited, or the terminal is gone. The page says so, with a way back. */
function ended(text) {
  if (conn.ended) return;
  conn.ended = true;
  clearTimeout(conn.timer);
  const ws = conn.ws;
  conn.ws = null;
  if (ws) ws.close();
  box.dataset.state = "ended";
  term.options.disableStdin = true;
  term.options.cursorBlink = false;
  const back = document.createElement("a");
  back.href = pageUrl("treeUrl");
  back.textContent = "Back to the files";
  statusLine.replaceChildren(`${text} `, back);
  statusLine.dataset.kind = "ended";
  $("nb-terminal-shutdown").disabled = true;
}

// -- input, size, copy and paste -----------------------------------------------------------------

term.onData((data) => send("stdin", data));
term.onResize(({ rows, cols }) => send("set_size", rows, cols));
new ResizeObserver(() => {
  if (box.clientWidth && box.clientHeight) fit.fit();
}).observe(box);

async function copySelection() {
  const text = term.getSelection();
  if (!text) {
    toast("Select some text in the terminal first.");
    return;
  }
  try {
    await navigator.clipboard.writeText(text);
  } catch (problem) {
    showError("Copying", problem);
  }
}

async function pasteClipboard() {
  try {
    term.paste(await navigator.clipboard.readText());
  } catch (problem) {
    showError("Pasting (Ctrl+Shift+V pastes without asking)", problem);
  }
  term.focus();
}

term.attachCustomKeyEventHandler((event) => {
  if (!(event.ctrlKey && event.shiftKey && !event.altKey && !event.metaKey)) return true;
  if (event.code === "KeyC") {
    // Not ^C to the shell, and not the browser's own Ctrl+Shift+C (the inspector).
    event.preventDefault();
    event.stopPropagation();
    if (event.type === "keydown" && term.hasSelection()) copySelection();
    return false;
  }
  if (event.code === "KeyV") {
    // Not ^V to the shell: the browser pastes, and xterm takes the paste event.
    event.stopPropagation();
    return false;
  }
  return true;
});

$("nb-terminal-copy").addEventListener("click", () => copySelection().then(() => term.focus()));
$("nb-terminal-paste").addEventListener("click", pasteClipboard);

const readerButton = $("nb-terminal-reader");
readerButton.setAttribute("aria-pressed", String(term.options.screenReaderMode));
readerButton.addEventListener("click", () => {
  const on = !term.options.screenReaderMode;
  term.options.screenReaderMode = on;
  localStorage.setItem(READER_KEY, on ? "1" : "0");
  readerButton.setAttribute("aria-pressed", String(on));
});

$("nb-terminal-shutdown").addEventListener("click", async () => {
  const yes = await confirmDialog({
    title: "Shut down the terminal?", message: `Terminal ${name}'s shell and what runs in it will end.`,
    confirmLabel: "Shut Down", danger: true,
  });
  if (!yes) return;
  try {
    await request("DELETE", apiUrl("terminals", name));
  } catch (problem) {
    if (!(problem instanceof ApiError && problem.status === 404)) {
      showError("Shutting down the terminal", problem);
      return;
    }
  }
  ended("This terminal has ended.");
});

document.title = `Terminal ${name}`;
fit.fit();
connect();
term.focus();

window.nbTerminal = { term, get socket() { return conn.ws; } };
