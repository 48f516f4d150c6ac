// One kernel, seen through its WebSocket: requests with callbacks per message (kernel_info),
// the kernel's state, and reconnection with the same session_id, so the server replays what
// arrived while the socket was down (contract 9.5) and no output is lost.
//
// Events (a "status" CustomEvent, detail {status, reason}) report the state shown to people:
// connecting, starting, idle, busy, restarting, dead, disconnected, reconnecting. An "info"
// CustomEvent carries each kernel_info_reply's content (language_info, help_links...).
//
// A "problem" CustomEvent (detail {kind} or null) says why the WebSocket cannot connect, once
// it has failed to open a few times in a row while retrying goes on: "websocket" (the server
// answers HTTP, so something between it and the browser refuses the upgrade: a reverse
// proxy, usually), "login" (the REST API says 403: logged out) or "unreachable" (no answer
// at all). Null when the socket opens again. A socket that opened and then dropped counts
// for nothing here: it reconnects quietly.

import { apiUrl, request } from "../../js/api.js";
import { V1_PROTOCOL, deserialize, serialize } from "./wire.js";

// Cells do not run through this socket: they run as runs on the server (runs.js), whose
// outputs the socket sees on iopub too. Only replies to this page's own requests are handled
// here; the rest is an "unhandled" event, never drawn into a cell.

const RECONNECT_DELAYS_MS = [100, 250, 500, 1000, 2000, 4000];
const SHUTDOWN_CHECKS_MS = [300, 1000, 2000, 4000, 8000];
/** The "dead" status's reason once someone shut the kernel down (``checkGone``). */
export const SHUT_DOWN = "the kernel was shut down";
/** Handshakes that fail in a row before the page looks into why and says so. */
const FAILED_OPENS_BEFORE_DIAGNOSIS = 3;
/** Short reasons for the kernel state, beside the longer message the page shows. */
const PROBLEM_REASONS = {
  websocket: "the kernel WebSocket cannot connect",
  login: "not logged in",
  unreachable: "the server cannot be reached",
};
const PROTOCOL_VERSION = "5.4";

/** What a failing WebSocket means, from the status of a REST GET of its kernel. */
function problemKind(status) {
  // The API answers: the HTTP path works and only the WebSocket does not, which is what a
  // reverse proxy that does not pass the upgrade (or the Host header) looks like.
  if (status >= 200 && status < 300) return "websocket";
  if (status === 401 || status === 403) return "login";
  if (status === 0 || status === 502 || status === 503 || status === 504) return "unreachable";
  return null;
}

function uuid() {
  return crypto.randomUUID().replaceAll("-", "");
}

export class Kernel extends EventTarget {
  /** `kernelId` of a running kernel; `clientId` names this page's connection (the session_id). */
  constructor(kernelId, { clientId = uuid(), username = "flask-notebook" } = {}) {
    super();
    this.kernelId = kernelId;
    this.clientId = clientId;
    this.username = username;
    this.status = "connecting";
    this.reason = null;
    this.info = null;
    /** The last execution_state the kernel reported (null before the first). */
    this.executionState = null;
    this.ws = null;
    this.attempt = 0;
    /** WebSockets in a row that closed without ever opening (failed handshakes). */
    this.failedOpens = 0;
    /** Why the socket cannot connect ({kind}), once known; null while all is well. */
    this.problem = null;
    this.closed = false;
    this.reconnectTimer = null;
    /** msg_id -> {onIopub, onReply, onInput, onDone}; kept across reconnects, for the replay. */
    this.handlers = new Map();
    /** Messages waiting for the kernel to be connected and ready. */
    this.queue = [];
    this.restarting = false;
    /** onIopub() subscribers: they see iopub messages before the request handlers do. */
    this.iopubSubscribers = new Set();
    this.connect();
  }

  /**
   * Every iopub message but status goes to `handler(msg)` first, whoever's request it answers
   * (comm_open, comm_msg, comm_close of widgets; outputs an Output widget captures). A handler
   * that returns true takes the message: no request handler or "unhandled" listener sees it.
   * Returns the function that unsubscribes.
   */
  onIopub(handler) {
    this.iopubSubscribers.add(handler);
    return () => this.iopubSubscribers.delete(handler);
  }

  setStatus(status, reason = null) {
    if ((status === "idle" || status === "busy") && !this.restarting) this.flush();
    if (status === this.status && reason === this.reason) return;
    this.status = status;
    this.reason = reason;
    this.dispatchEvent(new CustomEvent("status", { detail: { status, reason } }));
  }

  get socketUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const path = apiUrl("kernels", this.kernelId, "channels");
    return `${scheme}//${location.host}${path}?session_id=${encodeURIComponent(this.clientId)}`;
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    const ws = new WebSocket(this.socketUrl, [V1_PROTOCOL]);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    let opened = false;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      opened = true;
      this.attempt = 0;
      this.failedOpens = 0;
      this.setProblem(null);
      if (ws.protocol !== V1_PROTOCOL) {
        this.setStatus("dead", "the server did not accept the v1 kernel protocol");
        ws.close();
        return;
      }
      // A busy kernel answers kernel_info only when its cell is done: until then, the state
      // the server last saw (or, on a reconnect, the last we saw) stands.
      const reconnected = this.executionState !== null;
      this.setStatus(reconnected ? this.executionState : "starting");
      if (!reconnected) this.refreshState();
      this.send("shell", "kernel_info_request", {}, {
        onReply: (reply) => {
          this.info = reply.content;
          this.dispatchEvent(new CustomEvent("info", { detail: reply.content }));
          if (this.status === "starting") this.setStatus("idle");
        },
      });
    });
    ws.addEventListener("message", (event) => {
      if (ws === this.ws) this.handle(deserialize(event.data));
    });
    ws.addEventListener("close", () => {
      if (ws !== this.ws || this.closed) return;
      this.failedOpens = opened ? 0 : this.failedOpens + 1;
      if (this.status !== "dead") this.setStatus("disconnected", this.problemReason());
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    const delay = RECONNECT_DELAYS_MS[Math.min(this.attempt, RECONNECT_DELAYS_MS.length - 1)];
    this.attempt += 1;
    this.reconnectTimer = setTimeout(async () => {
      if (this.closed) return;
      if (this.attempt >= FAILED_OPENS_BEFORE_DIAGNOSIS) {
        // Still failing: ask the REST API about the kernel. A 404 means it was shut down or
        // culled; other answers tell what keeps the WebSocket from opening.
        const status = await this.probe();
        if (this.closed) return;
        if (status === 404) {
          this.setProblem(null);
          this.setStatus("dead", "the kernel no longer exists (shut down, culled or died)");
          this.failPending("the kernel is gone", { queued: true });
          return;
        }
        if (this.failedOpens >= FAILED_OPENS_BEFORE_DIAGNOSIS) this.setProblem(problemKind(status));
      }
      if (this.status !== "dead") this.setStatus("reconnecting", this.problemReason());
      this.connect();
    }, delay);
  }

  /** After a shutdown_request: the kernel leaves the server's list once its process is gone
   *  (a few seconds at most); then the page says so. */
  checkGone() {
    if (this.goneCheck) return;
    const kernelId = this.kernelId;
    this.goneCheck = (async () => {
      for (const delay of SHUTDOWN_CHECKS_MS) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        if (this.closed || this.kernelId !== kernelId || this.status === "dead") break;
        const status = await this.probe();
        if (this.closed || this.kernelId !== kernelId) break;
        if (status === 404) {
          this.setStatus("dead", SHUT_DOWN);
          this.failPending(SHUT_DOWN, { queued: true });
          break;
        }
        if (status === 200 && (this.restarting || this.status === "restarting")) break;
      }
      this.goneCheck = null;
    })();
  }

  /** The HTTP status of a GET of this kernel (0 when there is no answer at all). */
  async probe() {
    try {
      await request("GET", apiUrl("kernels", this.kernelId));
      return 200;
    } catch (error) {
      return typeof error.status === "number" ? error.status : 0;
    }
  }

  setProblem(kind) {
    if ((this.problem ? this.problem.kind : null) === kind) return;
    this.problem = kind ? { kind } : null;
    this.dispatchEvent(new CustomEvent("problem", { detail: this.problem }));
  }

  problemReason() {
    return this.problem ? PROBLEM_REASONS[this.problem.kind] : null;
  }

  async refreshState() {
    try {
      const { data } = await request("GET", apiUrl("kernels", this.kernelId));
      const state = data.execution_state;
      if (this.status === "starting" && (state === "idle" || state === "busy")) this.setStatus(state);
    } catch {
      // The socket's own messages will tell.
    }
  }

  /** Send a message; `handlers` get the messages whose parent it is. Returns its msg_id.
   *  `buffers` (ArrayBuffers or views) travel as binary parts (comm messages of widgets). */
  send(channel, msgType, content, handlers = null, metadata = {}, buffers = []) {
    const msgId = uuid();
    const msg = {
      channel,
      header: {
        msg_id: msgId, msg_type: msgType, session: this.clientId, username: this.username,
        date: new Date().toISOString(), version: PROTOCOL_VERSION,
      },
      parent_header: {},
      metadata,
      content,
      buffers,
    };
    if (handlers) this.handlers.set(msgId, { ...handlers, replied: false, idle: false, queued: false });
    const open = Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
    if (this.ready() || (open && msgType === "kernel_info_request")) {
      this.ws.send(serialize(msg));
    } else if (this.status === "dead") {
      this.handlers.delete(msgId);
      if (handlers && handlers.onFail) handlers.onFail("the kernel is dead");
    } else {
      // Disconnected, reconnecting or restarting: sent once the kernel is back.
      if (handlers) this.handlers.get(msgId).queued = true;
      this.queue.push(msg);
    }
    return msgId;
  }

  ready() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN && !this.restarting
      && ["idle", "busy"].includes(this.status));
  }

  flush() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const queue = this.queue;
    this.queue = [];
    for (const msg of queue) {
      const handler = this.handlers.get(msg.header.msg_id);
      if (handler) handler.queued = false;
      this.ws.send(serialize(msg));
    }
  }

  handle(msg) {
    const parentId = msg.parent_header && msg.parent_header.msg_id;
    const handler = parentId ? this.handlers.get(parentId) : undefined;
    const type = msg.header.msg_type;
    if (msg.channel === "iopub" && type === "status") {
      const state = msg.content.execution_state;
      // The server says why (an exit code or signal) in `reason`, beyond Jupyter's protocol.
      const reason = typeof msg.content.reason === "string" ? msg.content.reason : null;
      if (state === "dead") {
        this.setStatus("dead", reason || "the kernel died and could not be restarted");
        this.failPending("the kernel died", { queued: true });
      } else if (state === "restarting") {
        this.setStatus("restarting", reason);
        this.failPending();
      } else if (["starting", "idle", "busy"].includes(state)) {
        this.executionState = state;
        // During a restart the old kernel still reports (busy, idle: its shutdown) and the new
        // one starts: the page says "Restarting" until the restart request has answered, so
        // nobody runs code on a kernel about to go.
        if (!this.restarting) this.setStatus(state);
      }
      if (handler && state === "idle") {
        handler.idle = true;
        this.finish(parentId, handler);
      }
      // The kernel's last word when someone shuts it down (DELETE, the running page, another
      // tab): the server keeps the WebSocket open, as jupyter_server does, so ask it whether
      // the kernel is gone (a restart's shutdown leaves it there).
      if (state === "idle" && msg.parent_header && msg.parent_header.msg_type === "shutdown_request") this.checkGone();
      return;
    }
    if (msg.channel === "iopub") {
      for (const subscriber of [...this.iopubSubscribers]) {
        if (subscriber(msg) === true) return;
      }
    }
    if (!handler) {
      this.dispatchEvent(new CustomEvent("unhandled", { detail: msg }));
      return;
    }
    if (msg.channel === "iopub") {
      if (handler.onIopub) handler.onIopub(msg);
    } else if (msg.channel === "stdin") {
      if (handler.onInput) handler.onInput(msg);
    } else if (type.endsWith("_reply")) {
      handler.replied = true;
      if (handler.onReply) handler.onReply(msg);
      this.finish(parentId, handler);
    }
  }

  finish(msgId, handler) {
    // Requests without iopub traffic (kernel_info) finish on their reply; those the kernel
    // does not reply to (`noReply`: comm messages) at their idle status.
    if ((handler.replied || (handler.noReply && handler.idle)) && (handler.idle || !handler.onIopub)) {
      this.handlers.delete(msgId);
      if (handler.onDone) handler.onDone();
    }
  }

  /** Requests that will get no answer (restart, death): tell their owners. */
  failPending(reason = "the kernel restarted", { queued = false } = {}) {
    if (queued) this.queue = [];
    for (const [msgId, handler] of [...this.handlers]) {
      if (handler.queued && !queued) continue; // not sent yet: it goes to the new kernel
      this.handlers.delete(msgId);
      if (handler.onFail) handler.onFail(reason);
    }
  }

  async interrupt() {
    await request("POST", apiUrl("kernels", this.kernelId, "interrupt"));
  }

  async restart() {
    this.restarting = true;
    this.setStatus("restarting");
    this.failPending();
    try {
      await request("POST", apiUrl("kernels", this.kernelId, "restart"));
    } finally {
      this.restarting = false;
    }
    // The restarted kernel answers on the same socket; ask it for its info again.
    this.send("shell", "kernel_info_request", {}, {
      onReply: (reply) => {
        this.info = reply.content;
        this.dispatchEvent(new CustomEvent("info", { detail: reply.content }));
        if (["restarting", "starting", "idle"].includes(this.status)) this.setStatus("idle");
      },
    });
  }

  /** Use another kernel (after a change of kernel): a new socket with the same client id. */
  switchTo(kernelId) {
    this.failPending("the kernel was changed", { queued: true });
    this.executionState = null;
    this.kernelId = kernelId;
    this.attempt = 0;
    this.failedOpens = 0;
    const old = this.ws;
    this.ws = null;
    if (old) old.close();
    this.setStatus("connecting");
    this.connect();
  }

  close() {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    if (this.ws) this.ws.close();
  }
}
