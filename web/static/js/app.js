/**
 * What every Jiayi page shares: the login token, the `api()` fetch wrapper, problem+json
 * errors, the page frame (language switch, log out), and date and label formatting.
 *
 * Pages build their DOM with `h()`, which only ever creates text nodes for values, so
 * nothing that comes from the server is parsed as HTML.
 */

import { getLang, hasKey, label, onLanguageChange, setLang, t } from "./i18n.js";

/** sessionStorage key of the bearer token: it dies with the tab, as a shared phone needs. */
export const TOKEN_KEY = "jiayi.token";

/**
 * Times are shown on the service's clock whatever the device says: its "today" and its
 * appointments run on it, and a doctor and a resident must read the same time. China's
 * clock unless /api/me names the server's zone (`time_zone`).
 */
const DEFAULT_TIME_ZONE = "Asia/Shanghai";

/** Where each role lands after logging in. */
const HOME_BY_ROLE = {
  doctor: "/workbench",
  nurse: "/workbench",
  specialist: "/workbench",
  compliance: "/review",
  admin: "/workbench",
  resident: "/home",
  proxy: "/home",
};

// --- Token --------------------------------------------------------------------------

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** sessionStorage key of the page to come back to after logging in (an invite link). */
const RETURN_KEY = "jiayi.return";
/** Only invite links are returned to: a stored path must never send anyone elsewhere. */
const RETURNABLE = /^\/join\/[A-Za-z0-9_-]+$/;

/** Remember `path` (an invite link) to come back to after logging in. */
export function rememberReturn(path) {
  sessionStorage.setItem(RETURN_KEY, path);
}

/** The invite link to come back to after logging in, or null; it is forgotten once read. */
export function takeReturn() {
  const path = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  return path && RETURNABLE.test(path) ? path : null;
}

/** The page a user of `role` starts from. */
export function homeFor(role) {
  return HOME_BY_ROLE[role] ?? "/home";
}

/**
 * Drop the token and go to the login page. The returned promise never settles: the page is
 * being left, and callers awaiting it must not go on to draw an error in the meantime.
 */
export function leaveForLogin() {
  clearToken();
  location.replace("/login");
  return new Promise(() => {});
}

function logout() {
  clearToken();
  location.replace("/login");
}

// --- API ----------------------------------------------------------------------------

/** An HTTP error from the API, carrying the fields of its application/problem+json body. */
export class ApiError extends Error {
  constructor(status, problem = {}, retryAfter = null) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = "ApiError";
    /** HTTP status; 0 when the server could not be reached at all. */
    this.status = status;
    this.code = problem.code ?? null;
    this.title = problem.title ?? null;
    this.detail = problem.detail ?? null;
    /** Field errors: [{field, message}]. */
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    /** Seconds to wait before trying again (429), or null. */
    this.retryAfter = retryAfter;
  }

  static async from(response) {
    let problem = {};
    if ((response.headers.get("Content-Type") ?? "").includes("json")) {
      try {
        problem = await response.json();
      } catch {
        // A body that is not JSON after all: the status alone still says what happened.
      }
    }
    const retryAfter = retryAfterSeconds(response.headers.get("Retry-After"), problem);
    return new ApiError(response.status, problem, retryAfter);
  }
}

/** Retry-After as whole seconds: the header (seconds or an HTTP date), else the problem body. */
function retryAfterSeconds(header, problem) {
  if (header) {
    if (/^\d+$/.test(header.trim())) return Number(header.trim());
    const when = Date.parse(header);
    if (!Number.isNaN(when)) return Math.max(1, Math.ceil((when - Date.now()) / 1000));
  }
  const fromBody = Number(problem?.retry_after);
  return Number.isFinite(fromBody) && fromBody > 0 ? Math.ceil(fromBody) : null;
}

/**
 * Call the Jiayi API and return the parsed JSON body (null for 204).
 *
 * `body` is sent as JSON, or as it is when it is FormData (an upload); `query` values that
 * are empty are left out. With `auth` (the default) the bearer token is sent, and a missing
 * token or a 401 leads to the login page. Other failures throw `ApiError`; an aborted
 * request rethrows the AbortError. With `raw` the Response itself is returned (a download
 * that needs the token, e.g. an attachment read into a blob).
 */
export async function api(path, { method = "GET", body, query, signal, auth = true,
                                  raw = false } = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json, application/problem+json" };
  if (auth) {
    const token = getToken();
    if (!token) return leaveForLogin();
    headers.Authorization = `Bearer ${token}`;
  }
  const init = { method, headers, signal };
  if (body instanceof FormData) {
    init.body = body; // the browser writes the multipart Content-Type with its boundary
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { code: "network", detail: String(err) });
  }
  if (response.status === 401 && auth) return leaveForLogin();
  if (!response.ok) throw await ApiError.from(response);
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

/** "Too many attempts, try again in …": seconds when short, whole minutes when long. */
export function tooManyAttempts(seconds) {
  if (!seconds) return t("error.too_many_later");
  if (seconds < 120) return t("error.too_many", { seconds });
  return t("error.too_many_minutes", { minutes: Math.ceil(seconds / 60) });
}

/** Plain words for an error, in the reader's language. */
export function errorMessage(err) {
  if (!(err instanceof ApiError)) return t("error.generic");
  if (err.status === 0) return t("error.network");
  if (err.status === 429) return tooManyAttempts(err.retryAfter);
  if (err.code && hasKey(`error.${err.code}`)) return t(`error.${err.code}`);
  if (err.status === 403) return t("error.forbidden");
  if (err.status === 404) return t("error.not_found");
  if (err.status >= 500) return t("error.server");
  // A 4xx we have no words of our own for: the server's detail says what and why.
  const fields = err.errors.map((e) => e.message).filter(Boolean);
  return [err.detail || err.title || t("error.generic"), ...fields].join(" ");
}

// --- DOM ----------------------------------------------------------------------------

/**
 * Create an element: `h("a", {href, class, testid}, child, ...)`. `testid` sets
 * data-testid, `on<event>` adds a listener, null/false props and children are skipped,
 * strings become text nodes.
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "testid") node.dataset.testid = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...present(children));
  return node;
}

/** Replace the children of `node`, with the same rules for children as `h()`. */
export function fill(node, ...children) {
  node.replaceChildren(...present(children));
  return node;
}

function present(children) {
  return children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
}

/** Fill elements marked data-i18n (text), data-i18n-placeholder and data-i18n-label. */
export function applyI18n(root = document) {
  document.documentElement.lang = getLang() === "zh" ? "zh-CN" : "en";
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of root.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
}

// --- Formatting ---------------------------------------------------------------------

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const HAS_ZONE = /(?:[zZ]|[+-]\d{2}:?\d{2})$/;
const NAIVE_DATETIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})/;

function makeClock(timeZone) {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
}

let clinicClock = makeClock(DEFAULT_TIME_ZONE);

/** Show times on `timeZone` (an IANA name); an unknown name keeps the current clock. */
function useTimeZone(timeZone) {
  if (!timeZone) return;
  try {
    clinicClock = makeClock(timeZone);
  } catch (err) {
    console.warn(`unknown time zone ${timeZone}`, err);
  }
}

/** {date: "YYYY-MM-DD", time: "HH:MM" or ""} of an ISO date or date-time, on the service clock. */
function clinicParts(value) {
  const text = String(value);
  if (DATE_ONLY.test(text)) return { date: text, time: "" };
  const naive = NAIVE_DATETIME.exec(text);
  // A date-time with no zone is already on the clinic's clock: show it as written.
  if (naive && !HAS_ZONE.test(text)) return { date: naive[1], time: naive[2] };
  const when = new Date(text);
  if (Number.isNaN(when.getTime())) return { date: text, time: "" };
  const parts = Object.fromEntries(clinicClock.formatToParts(when).map((p) => [p.type, p.value]));
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    time: `${parts.hour}:${parts.minute}`,
  };
}

/** YYYY-MM-DD, or "" for no value. */
export function formatDate(value) {
  return value ? clinicParts(value).date : "";
}

/** HH:MM, or "" for no value or a date without a time. */
export function formatTime(value) {
  return value ? clinicParts(value).time : "";
}

/** YYYY-MM-DD HH:MM (or just the date when there is no time). */
/** Label–value rows (`[i18n key, value]`), leaving out the values that are missing. */
export function facts(pairs) {
  return h("dl", { class: "facts" },
    pairs
      .filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([key, value]) => h("div", {}, h("dt", {}, t(key)), h("dd", {}, value))));
}

/** A set of vitals as rows: blood pressure, heart rate, glucose, temperature, SpO2, weight, when. */
export function vitalsFacts(vitals) {
  const has = (value) => value !== null && value !== undefined;
  const unit = (value, suffix) => (has(value) ? `${value} ${suffix}` : null);
  const bp = has(vitals.systolic_mmhg) || has(vitals.diastolic_mmhg)
    ? `${vitals.systolic_mmhg ?? "—"}/${vitals.diastolic_mmhg ?? "—"} mmHg`
    : null;
  return facts([
    ["vitals.blood_pressure", bp],
    ["vitals.heart_rate", unit(vitals.heart_rate_bpm, t("unit.bpm"))],
    ["vitals.glucose", unit(vitals.glucose_mmol_l, "mmol/L")],
    ["vitals.temperature", unit(vitals.temperature_c, "℃")],
    ["vitals.spo2", has(vitals.spo2_percent) ? `${vitals.spo2_percent}%` : null],
    ["vitals.weight", unit(vitals.weight_kg, "kg")],
    ["vitals.taken_at", formatDateTime(vitals.taken_at)],
  ]);
}

export function formatDateTime(value) {
  if (!value) return "";
  const { date, time } = clinicParts(value);
  return time ? `${date} ${time}` : date;
}

/** Join already-translated words with the language's list separator. */
export function joinList(items) {
  return items.filter(Boolean).join(t("common.list_sep"));
}

/** How loud each status should look: ok (green), warn (amber), danger (red), info, muted. */
const STATUS_TONE = {
  contract_status: {
    active: "ok",
    due_for_renewal: "warn",
    pending: "info",
    expired: "danger",
    refused: "muted",
    cancelled: "muted",
    unable_to_sign: "muted",
    none: "muted",
  },
  consult_status: {
    scheduled: "info",
    waiting: "warn",
    in_progress: "ok",
    ended: "muted",
    cancelled: "muted",
    no_show: "muted",
  },
};

/** A badge showing the Chinese or English label of a status value. */
export function statusBadge(group, value) {
  const tone = STATUS_TONE[group]?.[value] ?? "info";
  return h("span", { class: `badge badge-${tone}`, "data-status": value }, label(group, value));
}

/** "女 · 73 岁" for a resident. */
export function sexAndAge(resident) {
  const age = resident.age === null || resident.age === undefined
    ? null
    : t("record.age", { age: resident.age });
  return [label("sex", resident.sex), age].filter(Boolean).join(" · ");
}

/** The chips of a resident's tags, or null when there are none. */
export function tagList(tags) {
  if (!tags?.length) return null;
  return h("span", { class: "tags" }, tags.map((tag) => h("span", { class: "tag" }, tag)));
}

/** The page of a resident's record. */
export function recordHref(residentId) {
  return `/residents/${encodeURIComponent(residentId)}`;
}

/** "复诊 · 视频" for a consult. */
export function consultKindMode(consult) {
  return [label("kind", consult.kind), label("mode", consult.mode)].filter(Boolean).join(" · ");
}

// --- Page frame and page-level error ------------------------------------------------

let errorSource = null;

/**
 * Show an error in the page's single data-testid="error" box (created at the top of <main>
 * when the page has none). `source` is an Error or a function returning the text, so the
 * message is rewritten when the language changes; null hides the box.
 */
export function showError(source) {
  errorSource = source;
  drawError();
}

function drawError() {
  let box = document.querySelector('[data-testid="error"]');
  if (!box) {
    box = h("p", { class: "alert", role: "alert", testid: "error", hidden: true });
    document.querySelector("main")?.prepend(box);
  }
  if (!errorSource) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  const text = typeof errorSource === "function" ? errorSource() : errorMessage(errorSource);
  // Rewrite only a changed text: a screen reader announces every rewrite of an alert.
  if (box.textContent !== text) box.textContent = text;
  box.hidden = false;
}

let currentUser = null;

function drawWho() {
  const who = document.getElementById("who");
  if (!who) return;
  who.textContent = currentUser
    ? `${currentUser.display_name || currentUser.username} · ${label("role", currentUser.role)}`
    : "";
}

function drawShell(loggedIn) {
  const bar = document.getElementById("topbar");
  const onHome = loggedIn && currentUser && location.pathname === homeFor(currentUser.role);
  fill(bar,
    h("div", { class: "topbar-title" },
      h("span", { class: "brand", "data-i18n": "app.name" }),
      h("span", { class: "who", id: "who" })),
    h("nav", { class: "topbar-actions" },
      loggedIn && currentUser && !onHome
        ? h("a", { class: "btn btn-bar", href: homeFor(currentUser.role), testid: "home-link",
                   "data-i18n": "nav.home" })
        : null,
      h("button", { type: "button", class: "btn btn-bar", testid: "lang-switch",
                    lang: getLang() === "zh" ? "en" : "zh-CN", "data-i18n": "lang.switch",
                    onclick: () => setLang(getLang() === "zh" ? "en" : "zh") }),
      loggedIn
        ? h("button", { type: "button", class: "btn btn-bar", testid: "logout",
                        "data-i18n": "nav.logout", onclick: logout })
        : null),
  );
  applyI18n(bar);
  drawWho();
}

/**
 * Start a page: draw the frame, load the signed-in user, send them to their own home when
 * this page is another role's home, then `render(me)`. Pages with `loggedIn: false` (login)
 * get the frame only. Elements marked data-loading are hidden once rendering is over.
 *
 * Returns the /api/me user, or null when the page could not start.
 */
export async function startPage({ home = null, render = null, loggedIn = true } = {}) {
  drawShell(loggedIn);
  applyI18n();
  onLanguageChange(() => {
    drawShell(loggedIn);
    applyI18n();
    drawError();
  });
  const done = () => {
    for (const node of document.querySelectorAll("[data-loading]")) node.hidden = true;
  };
  if (!loggedIn) {
    done();
    return null;
  }

  let me;
  try {
    me = await api("/api/me");
  } catch (err) {
    showError(err);
    done();
    return null;
  }
  if (home && homeFor(me.role) !== home) {
    location.replace(homeFor(me.role));
    return null;
  }
  currentUser = me;
  useTimeZone(me.time_zone);
  drawShell(loggedIn);
  try {
    if (render) await render(me);
  } catch (err) {
    console.error(err);
    showError(err);
  }
  done();
  return me;
}

// --- Sections -----------------------------------------------------------------------

/** A card section headed by the text of `titleKey`. */
export function card(titleKey, testid, ...content) {
  return h("section", { class: "card", testid }, h("h2", {}, t(titleKey)), content);
}

/**
 * One <li> of a row list: an optional time column, a bold title, and lines under it (each a
 * string, node or array of them; empty ones are skipped). With `href` the whole row is one
 * big link. `overdue` (true/false) paints the row red and sets data-overdue for tests.
 */
export function row({ testid, href = null, time = null, title, lines = [], overdue = null }) {
  const filled = lines.filter((line) => present([line]).some((part) => part !== ""));
  return h("li", { testid, class: overdue ? "overdue" : null,
                   "data-overdue": overdue === null ? null : String(Boolean(overdue)) },
    h(href ? "a" : "div", { class: href ? "row-link" : "row-body", href },
      time === null ? null : h("span", { class: "row-time" }, time),
      h("span", { class: "row-main" },
        h("span", { class: "row-title" }, title),
        filled.map((line) => h("span", { class: "row-sub" }, line)))));
}

/** The red "overdue" badge, or null when not overdue. */
export function overdueBadge(overdue) {
  return overdue ? h("span", { class: "badge badge-danger" }, t("workbench.overdue")) : null;
}

/**
 * A list of rows: the <ul data-testid=testid> (always there, so tests and screen readers
 * find it even when empty) and, when there are no items, a sentence saying so.
 */
export function rowList({ testid, items, drawRow, empty }) {
  const list = h("ul", { class: "rows", testid }, items.map(drawRow));
  return items.length ? [list] : [list, h("p", { class: "muted" }, t(empty))];
}

/**
 * The error of one part of a page. A 403 there is no failure, only a part this role does
 * not get (a compliance officer on the workbench), so it is said quietly.
 */
export function sectionError(err) {
  if (err instanceof ApiError && err.status === 403) {
    return h("p", { class: "note", testid: "section-error" }, t("error.section_forbidden"));
  }
  return h("p", { class: "alert", testid: "section-error" }, errorMessage(err));
}
