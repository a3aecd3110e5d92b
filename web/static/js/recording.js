/**
 * One recording (/review/{id}): its summary, the purpose asked before any playback, the
 * participants' tracks played side by side under one control, the recording timeline (click a
 * mark to go there), the consent records and the consult chat; for compliance officers also
 * the legal holds (set, release), the export and the access trail.
 *
 * Playback is audited by the server before any byte is served: the purpose is sent to
 * POST …/views, which answers with track URLs carrying a short-lived ticket; the media
 * elements load those URLs themselves (with range requests to seek).
 *
 * Sync: the element whose track lasts longest is the master; on each of its timeupdates
 * every other element more than 0.1 s away is moved to the master's time.
 */

import {
  ApiError, api, errorMessage, fill, formatDateTime, h, showError, startPage,
} from "./app.js";
import { label, onLanguageChange } from "./i18n.js";
import { applyReviewI18n, clock, rlabel, rt, secondsBetween } from "./review-strings.js";

/** Largest drift (s) between the master and another element before it is corrected. */
const MAX_DRIFT_S = 0.1;
const MIN_TEXT = 2;

let me = null;
let rec = null;
let recordingId = null;
/** The running view: {purpose, expiresAt, elements, master, ends: Map, duration}, or null. */
let player = null;
/** The latest export: {expiresAt, tracks: [{track_id, url}]}, or null. */
let exported = null;
/** Inline messages of the forms, as functions so they follow the language. */
const formErrors = { purpose: null, hold: null, export: null, player: null };

function idFromPath() {
  const match = /^\/review\/(\d+)\/?$/.exec(location.pathname);
  return match ? match[1] : null;
}

const isCompliance = () => me?.role === "compliance";

function badge(tone, text, attrs = {}) {
  return h("span", { class: `badge badge-${tone}`, ...attrs }, text);
}

/** Names of the people this recording mentions, by user id. */
function names() {
  const out = new Map();
  for (const a of rec.access ?? []) if (a.user_id && a.username) out.set(a.user_id, a.username);
  for (const c of rec.consents ?? []) if (c.name) out.set(c.user_id, c.name);
  for (const tr of rec.tracks ?? []) if (tr.name) out.set(tr.user_id, tr.name);
  if (rec.requested_by_name) out.set(rec.requested_by, rec.requested_by_name);
  return out;
}

const nameOf = (userId) => names().get(userId) ?? `#${userId}`;

/** Seconds into the media of a wall-clock time, or null when the recording never started. */
function offsetOf(at) {
  const s = secondsBetween(rec.started_at, at);
  return s === null || Date.parse(at) < Date.parse(rec.started_at) ? null : s;
}

function inlineError(key) {
  const source = formErrors[key];
  if (!source) return null;
  return h("p", { class: "alert form-alert", role: "alert", testid: `${key}-error` },
    typeof source === "function" ? source() : errorMessage(source));
}

// --- Head -----------------------------------------------------------------------------

function drawHead() {
  const duration = secondsBetween(rec.started_at, rec.ended_at);
  fill(document.getElementById("head"),
    h("h1", { testid: "recording-title" },
      rt("rec.heading", { name: rec.resident_name || `#${rec.resident_id}`,
                          kind: label("kind", rec.consult_kind) })),
    h("p", { class: "muted" }, rt("rec.summary", {
      doctor: rec.requested_by_name || `#${rec.requested_by}`,
      started: formatDateTime(rec.started_at) || "—",
      ended: formatDateTime(rec.ended_at) || "—",
      duration: duration === null ? "—" : clock(duration),
    })),
    h("p", { class: "badges" },
      badge("info", rlabel("status", rec.status), { testid: "status-badge" }),
      badge(rec.consent === "refused" ? "danger" : "ok", rlabel("consent", rec.consent),
            { testid: "consent-badge", "data-consent": rec.consent }),
      badge(rec.held ? "warn" : "muted", rt(`held.${rec.held}`),
            { testid: "hold-badge", "data-held": String(rec.held) }),
      badge(rec.complete ? "ok" : "warn", rt(`complete.${rec.complete}`),
            { testid: "complete-badge", "data-complete": String(rec.complete) }),
      rec.destroyed_at ? badge("muted", rt("review.destroyed"), { testid: "destroyed-badge" }) : null,
      rec.expires_on && !rec.destroyed_at
        ? h("span", { class: "muted nowrap" }, rt("review.expires", { date: rec.expires_on }))
        : null));
}

// --- Player ---------------------------------------------------------------------------

function drawPurposeForm() {
  const input = h("input", { id: "purpose", name: "purpose", type: "text", required: true,
                             minlength: MIN_TEXT, maxlength: 200, autocomplete: "off",
                             placeholder: rt("rec.purpose_hint"), testid: "purpose" });
  const form = h("form", { class: "form purpose-form", testid: "purpose-form", novalidate: true,
                           onsubmit: (event) => { event.preventDefault(); startView(input); } },
    h("p", { class: "note", testid: "purpose-note" }, rt("rec.purpose_note")),
    h("label", { for: "purpose" }, rt("rec.purpose")),
    h("div", { class: "field-row" }, input,
      h("button", { type: "submit", class: "btn btn-primary", testid: "start-view" },
        rt("rec.start_view"))),
    inlineError("purpose"));
  fill(document.getElementById("player"), form);
}

async function startView(input) {
  const purpose = input.value.trim();
  if (purpose.length < MIN_TEXT) {
    formErrors.purpose = () => rt("rec.purpose_short");
    drawPurposeForm();
    document.getElementById("purpose")?.focus();
    return;
  }
  formErrors.purpose = null;
  let view;
  try {
    view = await api(`/api/recordings/${recordingId}/views`, { method: "POST", body: { purpose } });
  } catch (err) {
    formErrors.purpose = err;
    drawPurposeForm();
    document.getElementById("purpose").value = purpose;
    return;
  }
  buildPlayer(purpose, view);
  await reload(); // the access trail now lists this view
}

/** One tile per participant: their video (if any) and their audio, under their name. */
function buildPlayer(purpose, view) {
  const urls = new Map(view.tracks.map((tr) => [tr.track_id, tr.url]));
  const byUser = new Map();
  for (const track of rec.tracks) {
    if (!urls.has(track.id) || !["audio", "video"].includes(track.kind)) continue;
    if (!byUser.has(track.user_id)) byUser.set(track.user_id, { name: track.name, tracks: [] });
    byUser.get(track.user_id).tracks.push(track);
  }
  const ends = new Map();
  const elements = [];
  let master = null;
  let masterEnd = -1;
  const tiles = [...byUser.entries()].map(([userId, who]) => {
    const media = who.tracks.map((track) => {
      const el = h(track.kind, {
        src: urls.get(track.id), preload: "auto", playsinline: track.kind === "video",
        muted: track.kind === "video", class: track.kind === "video" ? "rec-video" : null,
        testid: `track-${track.kind}`, "data-track-id": track.id, "data-user-id": userId,
      });
      if (track.kind === "video") el.muted = true; // its own track has no sound; never block play
      const end = Math.max(0, ...track.segments.map((s) => s.start_ms + s.duration_ms)) / 1000;
      ends.set(el, end);
      // The longest track leads; a video leads an audio track of the same length.
      if (end > masterEnd + 0.05 || (Math.abs(end - masterEnd) <= 0.05 && track.kind === "video"
                                      && master?.tagName !== "VIDEO")) {
        master = el;
        masterEnd = Math.max(end, masterEnd);
      }
      el.addEventListener("error", () => {
        formErrors.player = () => rt("rec.media_error");
        drawPlayerMessages();
      });
      elements.push(el);
      return el;
    });
    const hasVideo = who.tracks.some((tr) => tr.kind === "video");
    const hasAudio = who.tracks.some((tr) => tr.kind === "audio");
    return h("figure", { class: "rec-tile", testid: "participant", "data-user-id": userId },
      hasVideo ? null : h("div", { class: "rec-novideo", "data-rt": "rec.audio_only" },
                          rt("rec.audio_only")),
      media,
      h("figcaption", {}, who.name || `#${userId}`,
        hasVideo && !hasAudio ? h("span", { class: "muted" }, ` · ${rt("rec.video_only")}`) : null));
  });

  if (!elements.length) {
    fill(document.getElementById("player"), h("p", { class: "muted" }, rt("rec.no_tracks")));
    return;
  }
  player = { purpose, expiresAt: view.expires_at, elements, master, ends, duration: masterEnd,
             dragging: false };

  const toggle = h("button", { type: "button", class: "btn btn-primary play-button",
                               testid: "play", onclick: () => (master.paused ? play() : pause()) });
  const seek = h("input", { type: "range", class: "seek", min: 0, step: 0.1, value: 0,
                            max: masterEnd || 0, testid: "seek" });
  const time = h("span", { class: "play-time nowrap", testid: "play-time" });
  seek.addEventListener("pointerdown", () => { player.dragging = true; });
  seek.addEventListener("pointerup", () => { player.dragging = false; });
  seek.addEventListener("input", () => seekTo(Number(seek.value)));
  Object.assign(player, { toggle, seek, time });

  master.addEventListener("loadedmetadata", () => {
    if (!player.duration && Number.isFinite(master.duration)) {
      player.duration = master.duration;
      seek.max = master.duration;
    }
    drawControls();
  });
  master.addEventListener("timeupdate", () => {
    syncOthers();
    drawControls();
  });
  master.addEventListener("seeked", syncOthers);
  master.addEventListener("play", drawControls);
  master.addEventListener("pause", drawControls);
  master.addEventListener("ended", () => {
    for (const el of elements) el.pause();
    drawControls();
  });

  fill(document.getElementById("player"),
    h("p", { class: "muted viewing", testid: "viewing" }),
    h("div", { class: "rec-tiles", testid: "tiles" }, tiles),
    h("div", { class: "rec-controls", testid: "controls" }, toggle, seek, time),
    h("div", { id: "player-messages" }));
  // The page's test hook: the elements and the master, to check sync.
  drawControls();
  drawPlayerMessages();
  drawTimeline();
}

function drawPlayerMessages() {
  const box = document.getElementById("player-messages");
  if (box) fill(box, inlineError("player"));
}

function drawControls() {
  if (!player) return;
  const { master, toggle, seek, time } = player;
  const now = master.currentTime;
  toggle.textContent = master.paused ? rt("rec.play") : rt("rec.pause");
  toggle.setAttribute("aria-pressed", String(!master.paused));
  seek.setAttribute("aria-label", rt("rec.seek"));
  if (!player.dragging) seek.value = String(now);
  time.textContent = `${clock(now)} / ${clock(player.duration)}`;
  const viewing = document.querySelector('[data-testid="viewing"]');
  if (viewing) {
    viewing.textContent = rt("rec.viewing_as", { purpose: player.purpose,
                                                 time: formatDateTime(player.expiresAt) });
  }
}

/** Move every element more than MAX_DRIFT_S from the master to the master's time. */
function syncOthers() {
  if (!player) return;
  const { master, elements, ends } = player;
  const now = master.currentTime;
  for (const el of elements) {
    if (el === master) continue;
    const end = ends.get(el) ?? Infinity;
    if (now >= end) {
      if (!el.paused) el.pause();
      continue;
    }
    if (!el.seeking && Math.abs(el.currentTime - now) > MAX_DRIFT_S) el.currentTime = now;
    if (!master.paused && el.paused) el.play().catch(() => {});
    if (master.paused && !el.paused) el.pause();
  }
}

function play() {
  const { master, elements, ends } = player;
  if (master.ended || master.currentTime >= player.duration - 0.05) seekTo(0);
  const now = master.currentTime;
  for (const el of elements) {
    if (now < (ends.get(el) ?? Infinity) || el === master) el.play().catch(() => {});
  }
}

function pause() {
  for (const el of player.elements) el.pause();
  syncOthers();
}

function seekTo(seconds) {
  if (!player) return;
  const target = Math.max(0, Math.min(seconds, player.duration || seconds));
  for (const el of player.elements) {
    el.currentTime = Math.min(target, player.ends.get(el) ?? target);
  }
  drawControls();
}

// --- Timeline, consents, chat ---------------------------------------------------------

function drawTimeline() {
  const marks = rec.timeline ?? [];
  const rows = marks.map((mark) => {
    const offset = mark.at ? offsetOf(mark.at) : null;
    const about = (mark.user_ids ?? []).map(nameOf);
    return h("li", { testid: "timeline-mark", "data-kind": mark.kind },
      h("span", { class: "tl-time nowrap" }, formatDateTime(mark.at) || "—"),
      h("span", { class: `tl-kind tl-${mark.kind}` }, rlabel("tl", mark.kind)),
      h("span", { class: "tl-detail" },
        mark.reason ? h("span", {}, mark.reason) : null,
        about.length ? h("span", { class: "muted" }, rt("tl.about", { names: about.join("、") }))
          : null),
      offset === null
        ? h("span", {})
        : h("button", { type: "button", class: "btn btn-secondary btn-small tl-seek",
                        testid: "timeline-seek", disabled: !player, "data-offset": offset,
                        onclick: () => seekTo(offset) },
            rt("rec.seek_here", { offset: clock(offset) })));
  });
  fill(document.getElementById("timeline"),
    h("h2", {}, rt("rec.timeline")),
    rows.length ? h("ol", { class: "timeline" }, rows)
      : h("p", { class: "muted" }, rt("rec.timeline_empty")),
    rows.length && !player && rec.started_at && !rec.destroyed_at
      ? h("p", { class: "muted small" }, rt("rec.seek_needs_view")) : null);
}

function drawConsents() {
  const consents = rec.consents ?? [];
  const tone = { granted: "ok", refused: "danger", withdrawn: "danger" };
  const forWhom = (c) => {
    if (!c.on_behalf_of_resident_id) return rt("rec.self");
    return c.on_behalf_of_resident_id === rec.resident_id && rec.resident_name
      ? rec.resident_name : rt("rec.for_resident", { id: c.on_behalf_of_resident_id });
  };
  fill(document.getElementById("consents"),
    h("h2", {}, rt("rec.consents")),
    consents.length
      ? h("div", { class: "table-wrap" }, h("table", { class: "review-table compact" },
          h("thead", {}, h("tr", {}, ["col_who", "col_for", "col_decision", "col_time", "col_version"]
            .map((c) => h("th", { scope: "col" }, rt(`rec.${c}`))))),
          h("tbody", {}, consents.map((c) => h("tr", { testid: "consent-row" },
            h("td", {}, c.name || `#${c.user_id}`),
            h("td", {}, forWhom(c)),
            h("td", {}, badge(tone[c.decision] ?? "info", rlabel("decision", c.decision))),
            h("td", { class: "nowrap" }, formatDateTime(c.decided_at)),
            h("td", { class: "mono" }, c.text_version,
              // Not asked in the call: taken from the resident's standing consent on the contract.
              c.source === "standing"
                ? [" ", badge("info", rt("rec.source_standing"), { testid: "consent-standing" })]
                : null))))))
      : h("p", { class: "muted" }, rt("rec.consents_empty")));
}

function drawChat() {
  const chat = rec.chat ?? [];
  fill(document.getElementById("chat"),
    h("h2", {}, rt("rec.chat")),
    chat.length
      ? h("ol", { class: "rec-chat", testid: "chat-list" }, chat.map((line) =>
          h("li", { testid: "chat-line" },
            h("span", { class: "rec-chat-meta" },
              h("strong", {}, line.sender_name),
              line.sender_role ? ` · ${label("role", line.sender_role)}` : "",
              ` · ${formatDateTime(line.created_at)}`),
            h("span", { class: "rec-chat-text" },
              line.text || (line.kind !== "text" ? `[${line.kind}]` : "")))))
      : h("p", { class: "muted" }, rt("rec.chat_empty")));
}

// --- Compliance only: holds, export, access trail -------------------------------------

function drawHolds() {
  const section = document.getElementById("holds");
  section.hidden = !isCompliance();
  if (section.hidden) return;
  const holds = rec.holds ?? [];
  const reason = h("textarea", { id: "hold-reason", name: "reason", rows: 2, required: true,
                                 maxlength: 500, placeholder: rt("rec.hold_reason_hint"),
                                 testid: "hold-reason" });
  fill(section,
    h("h2", {}, rt("rec.holds")),
    holds.length
      ? h("ul", { class: "rows holds" }, holds.map((hold) => h("li", {
            testid: "hold-row", "data-active": String(!hold.released_at) },
          h("div", { class: "row-body" },
            h("span", { class: "row-main" },
              h("span", { class: "row-title" }, hold.reason, " ",
                hold.released_at ? badge("muted", rt("rec.hold_released",
                                                     { time: formatDateTime(hold.released_at) }))
                  : badge("warn", rt("rec.hold_active"))),
              h("span", { class: "row-sub" }, rt("rec.hold_set", {
                time: formatDateTime(hold.set_at), who: nameOf(hold.set_by) }))),
            hold.released_at ? null
              : h("button", { type: "button", class: "btn btn-secondary btn-small",
                              testid: "release-hold", onclick: () => releaseHold(hold.id) },
                  rt("rec.release_hold"))))))
      : h("p", { class: "muted" }, rt("rec.holds_empty")),
    rec.destroyed_at ? null : h("form", { class: "form", testid: "hold-form", novalidate: true,
                                          onsubmit: (event) => { event.preventDefault(); setHold(reason); } },
      h("label", { for: "hold-reason" }, rt("rec.hold_reason")),
      reason,
      h("button", { type: "submit", class: "btn btn-primary form-submit", testid: "set-hold" },
        rt("rec.set_hold")),
      inlineError("hold")));
}

async function setHold(input) {
  const reason = input.value.trim();
  if (reason.length < MIN_TEXT) {
    formErrors.hold = () => rt("rec.reason_short");
    drawHolds();
    document.getElementById("hold-reason")?.focus();
    return;
  }
  formErrors.hold = null;
  try {
    await api(`/api/recordings/${recordingId}/holds`, { method: "POST", body: { reason } });
  } catch (err) {
    formErrors.hold = err;
    drawHolds();
    document.getElementById("hold-reason").value = reason;
    return;
  }
  await reload();
}

async function releaseHold(holdId) {
  if (!window.confirm(rt("rec.release_confirm"))) return;
  formErrors.hold = null;
  try {
    await api(`/api/recordings/${recordingId}/holds/${holdId}/release`, { method: "POST" });
  } catch (err) {
    formErrors.hold = err;
  }
  await reload();
}

function drawExport() {
  const section = document.getElementById("export");
  section.hidden = !isCompliance() || Boolean(rec.destroyed_at);
  if (section.hidden) return;
  const reason = h("input", { id: "export-reason", name: "reason", type: "text", required: true,
                              maxlength: 200, autocomplete: "off",
                              placeholder: rt("rec.export_reason_hint"), testid: "export-reason" });
  const tracks = new Map((rec.tracks ?? []).map((tr) => [tr.id, tr]));
  fill(section,
    h("h2", {}, rt("rec.export")),
    h("form", { class: "form", testid: "export-form", novalidate: true,
                onsubmit: (event) => { event.preventDefault(); startExport(reason); } },
      h("label", { for: "export-reason" }, rt("rec.export_reason")),
      h("div", { class: "field-row" }, reason,
        h("button", { type: "submit", class: "btn btn-secondary", testid: "export-button" },
          rt("rec.export_button"))),
      inlineError("export")),
    exported
      ? h("div", { class: "export-links", testid: "export-links" },
          h("p", {}, rt("rec.export_ready", { time: formatDateTime(exported.expires_at) })),
          h("ul", {}, exported.tracks.map((tr) => {
            const track = tracks.get(tr.track_id);
            return h("li", {}, h("a", { href: tr.url, download: "", testid: "export-link" },
              rt("rec.download", { name: track?.name || `#${track?.user_id ?? ""}`,
                                   kind: rlabel("rec.track_kind", track?.kind) })));
          })))
      : null);
}

async function startExport(input) {
  const reason = input.value.trim();
  if (reason.length < MIN_TEXT) {
    formErrors.export = () => rt("rec.reason_short");
    drawExport();
    document.getElementById("export-reason")?.focus();
    return;
  }
  formErrors.export = null;
  try {
    exported = await api(`/api/recordings/${recordingId}/exports`,
                         { method: "POST", body: { purpose: reason } });
  } catch (err) {
    formErrors.export = err;
    drawExport();
    document.getElementById("export-reason").value = reason;
    return;
  }
  await reload();
}

function drawAccess() {
  const section = document.getElementById("access");
  section.hidden = !isCompliance();
  if (section.hidden) return;
  // Newest first: the reviewer looks for the latest access.
  const access = [...(rec.access ?? [])].reverse();
  fill(section,
    h("h2", {}, rt("rec.access")),
    access.length
      ? h("div", { class: "table-wrap access-wrap" }, h("table", { class: "review-table compact",
                                                                  testid: "access-table" },
          h("thead", {}, h("tr", {}, ["col_time", "col_user", "col_action", "col_purpose",
                                      "col_outcome"]
            .map((c) => h("th", { scope: "col" }, rt(`rec.${c}`))))),
          h("tbody", {}, access.map((a) => h("tr", { testid: "access-row", "data-action": a.action },
            h("td", { class: "nowrap" }, formatDateTime(a.at)),
            h("td", {}, a.username ?? (a.user_id ? `#${a.user_id}` : "—"),
              a.role ? h("span", { class: "muted" }, `（${label("role", a.role)}）`) : null),
            h("td", { class: "nowrap" }, rlabel("action", a.action)),
            h("td", {}, a.purpose || "—"),
            h("td", {}, a.outcome === "success" || a.outcome === "ok"
              ? rlabel("outcome", a.outcome)
              : badge("danger", rlabel("outcome", a.outcome))))))))
      : h("p", { class: "muted" }, rt("rec.access_empty")));
}

// --- Page -----------------------------------------------------------------------------

function draw() {
  drawHead();
  drawTimeline();
  drawConsents();
  drawChat();
  drawHolds();
  drawExport();
  drawAccess();
}

function drawPlayerPart() {
  if (player) {
    drawControls();
    for (const node of document.querySelectorAll("#player [data-rt]")) {
      node.textContent = rt(node.dataset.rt);
    }
    drawPlayerMessages();
  } else if (rec.destroyed_at) {
    fill(document.getElementById("player"),
      h("p", { class: "note", testid: "destroyed-note" }, rt("rec.destroyed_note")));
  } else {
    const typed = document.getElementById("purpose")?.value ?? "";
    drawPurposeForm();
    document.getElementById("purpose").value = typed;
  }
}

/** Fetch the recording again (after a view, hold or export) and redraw all but the player. */
async function reload() {
  try {
    rec = await api(`/api/recordings/${recordingId}`);
  } catch (err) {
    showError(err);
    return;
  }
  showError(null);
  draw();
}

startPage({
  render: async (user) => {
    me = user;
    applyReviewI18n();
    recordingId = idFromPath();
    let failure = recordingId ? null : () => rt("rec.not_found");
    if (recordingId) {
      try {
        rec = await api(`/api/recordings/${recordingId}`);
      } catch (err) {
        const status = err instanceof ApiError ? err.status : null;
        if (status === 403) failure = () => rt("rec.forbidden");
        else if (status === 404) failure = () => rt("rec.not_found");
        else failure = err;
      }
    }
    onLanguageChange(() => applyReviewI18n());
    if (failure) {
      showError(failure);
      return;
    }
    document.getElementById("recording").hidden = false;
    draw();
    drawPlayerPart();
    onLanguageChange(() => {
      draw();
      drawPlayerPart();
    });
  },
});
