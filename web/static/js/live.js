/**
 * The live connection of a page: Socket.IO namespaces opened with the bearer token, events
 * answered through their ack (with a timeout), sends retried after a lost ack, and one line
 * telling the reader when the connection dropped. Both namespaces share one connection
 * (socket.io-client multiplexes sockets of the same origin).
 *
 * Protocol: docs/protocol.md. An ack is `{ok: true, ...}` or `{error: {code, message}}`;
 * `request()` turns the second into a thrown `LiveError`.
 */

import { io } from "/static/vendor/socket.io.esm.min.js";
import { getToken, h, leaveForLogin } from "./app.js";
import { hasKey, onLanguageChange, t } from "./i18n.js";

/** How long an ack may take before the event counts as lost. */
const ACK_TIMEOUT_MS = 10_000;
/** Codes of a refused connection that mean "log in again". */
const AUTH_CODES = new Set(["not_authenticated", "invalid_token"]);

/** A refusal from the hub (its ack's error), or `timeout` when no ack came back. */
export class LiveError extends Error {
  constructor(code, message = "", field = null) {
    super(message || code);
    this.name = "LiveError";
    this.code = code;
    this.field = field;
  }
}

/** Plain words for a hub refusal, in the reader's language. */
export function liveErrorMessage(err) {
  const code = err?.code;
  if (code && hasKey(`error.${code}`)) return t(`error.${code}`);
  // A refusal we have no words for: the hub's own message says what and why.
  if (err instanceof LiveError && err.message && err.message !== code) return err.message;
  return t("error.generic");
}

/**
 * Open `namespace` ("/chat" or "/consult") with this tab's token. A refused token leads to the
 * login page; any other failure is retried by Socket.IO itself.
 */
export function connect(namespace) {
  const token = getToken();
  if (!token) {
    leaveForLogin();
    return null;
  }
  const socket = io(namespace, { auth: { token }, transports: ["websocket", "polling"] });
  socket.on("connect_error", (err) => {
    const code = err?.data?.code ?? (/not_authenticated/.test(err?.message ?? "") ? "not_authenticated" : null);
    if (AUTH_CODES.has(code)) {
      socket.disconnect();
      leaveForLogin();
    }
  });
  return socket;
}

/** Run `fn()` now if `socket` is connected, and again after every (re)connect. */
export function whenConnected(socket, fn) {
  socket.on("connect", fn);
  if (socket.connected) fn();
}

/** Send `event` and return its ack; throws LiveError on a refusal or after the timeout. */
export async function request(socket, event, payload = {}, timeoutMs = ACK_TIMEOUT_MS) {
  let ack;
  try {
    ack = await socket.timeout(timeoutMs).emitWithAck(event, payload);
  } catch {
    throw new LiveError("timeout");
  }
  if (ack?.error) throw new LiveError(ack.error.code, ack.error.message, ack.error.field);
  return ack;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/**
 * `request()` that survives a dropped connection: it waits to be connected, and sends the very
 * same payload again when the ack was lost or the hub asked to slow down. Idempotent events
 * only (a message carries its client_msg_id, so a retry is never stored twice).
 */
export async function requestWithRetry(socket, event, payload, { attempts = 6 } = {}) {
  for (let attempt = 1; ; attempt += 1) {
    if (!socket.connected) await new Promise((resolve) => { socket.once("connect", resolve); });
    try {
      return await request(socket, event, payload);
    } catch (err) {
      const again = err.code === "timeout" || err.code === "rate_limited";
      if (!again || attempt >= attempts) throw err;
      await sleep(Math.min(500 * 2 ** attempt, 8000));
    }
  }
}

/** A fresh id for a message: a UUID without dashes (random hex where randomUUID is missing). */
export function newClientMsgId() {
  if (crypto.randomUUID) return crypto.randomUUID().replaceAll("-", "");
  // randomUUID needs a secure context; a phone on the clinic's plain-HTTP LAN has none.
  return Array.from(crypto.getRandomValues(new Uint8Array(16)),
    (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * A line that says "connection lost, reconnecting…" while any of `sockets` is down, so a
 * resident on a weak line knows why nothing moves. Returns the element to place on the page.
 */
export function connectionLine(...sockets) {
  const line = h("p", { class: "conn-line", role: "status", testid: "connection", hidden: true });
  let everConnected = false;
  const draw = () => {
    // A socket closed on purpose (the consult is over) is not "lost": it is not `active`.
    const up = sockets.every((socket) => socket.connected || !socket.active);
    everConnected ||= up;
    line.hidden = up;
    line.textContent = t(everConnected ? "live.reconnecting" : "live.connecting");
  };
  for (const socket of sockets) {
    socket.on("connect", draw);
    socket.on("disconnect", draw);
    socket.on("connect_error", draw);
  }
  onLanguageChange(draw);
  draw();
  return line;
}
