/**
 * One consult (/consults/{id}). The resident (or proxy) checks in and waits calmly, with their
 * place in the queue, until the doctor admits them; then they are in the room. Doctors,
 * nurses and specialists join the room at once. In the room: the video call (call.js), who is
 * there, and the consult's chat; beside the video, the doctor has the resident's record in short
 * and the visit note (callside.js), a specialist the part of the record the referral shares.
 * The doctor ends the consult (and sees when the next follow-up is due) and, for a referral,
 * invites a specialist.
 */

import {
  api, consultKindMode, fill, formatDate, formatDateTime, h, homeFor, showError, startPage,
} from "./app.js";
import { createCall, createRecording } from "./call.js";
import { noteForm, recordSummary } from "./callside.js";
import { conversationView } from "./conversation.js";
import { label, onLanguageChange, t } from "./i18n.js";
import { connect, connectionLine, liveErrorMessage, request, whenConnected } from "./live.js";

/** A waiting resident asks again for their place this often (checking in again keeps it). */
const POSITION_REFRESH_MS = 15_000;
const RESIDENT_SIDE = new Set(["resident", "proxy"]);
/** Roles that see the resident's record beside the video. */
const CLINICIANS = new Set(["doctor", "nurse", "specialist"]);
const PRESENCE_TONE = { connected: "ok", reconnecting: "warn", left: "muted" };
/** Where a room is over for good; nothing reconnects into it. */
const FINAL = new Set(["ended", "left", "removed", "refused"]);

const root = document.getElementById("room");

function consultIdFromPath() {
  const match = /^\/consults\/(\d+)\/?$/.exec(location.pathname);
  return match ? Number(match[1]) : null;
}

/**
 * A button that asks once more before acting: a stray tap must not end a consult. The first
 * tap shows "are you sure?" with the real action and a cancel.
 */
function confirmButton({ testid, text, confirmText, onConfirm }) {
  const box = h("div", { class: "confirm", testid: `${testid}-box` });
  const ask = () => fill(box,
    h("p", { class: "lead" }, t(confirmText)),
    h("div", { class: "button-row" },
      h("button", { type: "button", class: "btn btn-danger btn-big", testid: `${testid}-confirm`,
                    onclick: onConfirm }, t(text)),
      h("button", { type: "button", class: "btn btn-secondary btn-big", testid: `${testid}-cancel`,
                    onclick: idle }, t("common.cancel"))));
  function idle() {
    fill(box, h("button", { type: "button", class: "btn btn-danger btn-block btn-big", testid,
                            onclick: ask }, t(text)));
  }
  idle();
  return box;
}

startPage({
  render: async (me) => {
    const consultId = consultIdFromPath();
    if (!consultId) {
      showError(() => t("error.not_found"));
      return;
    }
    const resident = RESIDENT_SIDE.has(me.role);
    const state = {
      phase: "connecting", // waiting | in_room | ended | left | removed | refused
      position: null,
      consult: null, // GET /api/consults/{id}, when the caller may read it
      kind: null,
      mode: null,
      members: [],
      refusal: null,
      invite: null,
      inviteError: null,
      nextDue: null, // the next follow-up's date, once the consult has ended
    };
    let view = null;
    let refreshTimer = null;
    let call = null; // the video call, from the first time in the room
    let record = null; // the resident's record in short, beside the video (clinicians)
    let note = null; // the visit-note form (the doctor)

    const consultSocket = connect("/consult");
    const chat = connect("/chat");
    if (!consultSocket || !chat) return;

    // The parts of the page; each is redrawn from `state`.
    const heading = h("h1", { testid: "room-heading" });
    const sub = h("p", { class: "lead", testid: "room-kind" });
    const stateBox = h("section", { class: "room-state", testid: "room-state", "aria-live": "polite" });
    const presence = h("section", { class: "card", testid: "presence" });
    const video = h("div", { class: "room-video" });
    const chatBox = h("section", { class: "card room-chat", testid: "room-chat" });
    const actions = h("div", { class: "room-actions", testid: "room-actions" });
    // Clinicians: video, chat and who is here on one side, the record (and note) on the other;
    // a resident: the video and who is here, then the chat. One column on a phone, video first.
    const clinician = CLINICIANS.has(me.role);
    const side = h("div", { class: "room-side", testid: "room-side" });
    const room = h("div", { class: "room", hidden: true },
      h("div", { class: "grid grid-2" },
        clinician ? h("div", {}, video, actions, chatBox, presence) : h("div", {}, video, presence),
        clinician ? h("div", {}, side) : h("div", {}, chatBox)),
      clinician ? null : actions);
    const after = h("div", { testid: "room-after" });
    fill(root, heading, sub, connectionLine(consultSocket, chat), stateBox, room, after);

    const stopRefresh = () => {
      clearInterval(refreshTimer);
      refreshTimer = null;
    };

    // --- drawing -----------------------------------------------------------------------

    function drawHead() {
      const name = state.consult?.resident_name;
      heading.textContent = resident || !name ? t("room.heading") : name;
      const kind = state.kind ?? state.consult?.kind;
      const mode = state.mode ?? state.consult?.mode;
      sub.textContent = kind ? consultKindMode({ kind, mode }) : "";
    }

    function stateLines() {
      switch (state.phase) {
        case "connecting":
          return [t("room.connecting")];
        case "waiting":
          return [t("room.waiting"),
            state.position > 1 ? t("room.ahead", { count: state.position - 1 }) : t("room.next"),
            t("room.keep_open")];
        case "in_room":
          return [t("room.connected")];
        case "ended":
          return [t(["cancelled", "no_show"].includes(state.consult?.status)
            ? "room.cancelled" : "room.ended"),
          state.nextDue ? t("room.next_followup", { date: formatDate(state.nextDue) }) : null]
            .filter(Boolean);
        case "left":
          return [t("room.left")];
        case "removed":
          return [t("room.removed")];
        default: {
          const when = state.consult?.scheduled_at;
          return [liveErrorMessage(state.refusal),
            state.refusal?.code === "too_early" && when
              ? t("room.scheduled_at", { when: formatDateTime(when) }) : null].filter(Boolean);
        }
      }
    }

    function drawState() {
      const [main, ...rest] = stateLines();
      stateBox.dataset.phase = state.phase;
      // Too early is no failure: said calmly, not in red.
      const calm = state.refusal?.code === "too_early" ? " room-state-calm" : "";
      stateBox.className = `room-state room-state-${state.phase}${calm}`;
      const firstSub = { waiting: "queue-position", ended: "next-followup" }[state.phase] ?? null;
      fill(stateBox,
        h("p", { class: "room-state-main", testid: "room-state-main" }, main),
        rest.map((line, i) => h("p", { class: i === 0 ? "room-state-sub" : "muted",
                                       testid: i === 0 ? firstSub : null }, line)));
    }

    function drawPresence() {
      fill(presence,
        h("h2", {}, t("room.present")),
        h("ul", { class: "rows", testid: "presence-list" },
          state.members.map((m) => h("li", { testid: "presence-member", "data-presence": m.presence },
            h("div", { class: "row-body" },
              h("span", { class: "row-main" },
                h("span", { class: "row-title" }, m.display_name),
                h("span", { class: "row-sub" }, label("role", m.role))),
              h("span", { class: `badge badge-${PRESENCE_TONE[m.presence] ?? "info"}` },
                label("presence", m.presence)))))));
    }

    /** A participant's name, from who is here or, failing that, the consult's participants. */
    function nameOf(userId) {
      return state.members.find((m) => m.user_id === userId)?.display_name
        ?? state.consult?.participants?.find((p) => p.user_id === userId)?.display_name ?? "";
    }

    function ensureCall() {
      const mode = state.mode ?? state.consult?.mode;
      if (call || mode === "text" || !window.RTCPeerConnection) return call;
      const doctor = me.role === "doctor";
      // Recording (with everyone's consent) goes with the call: the doctor asks, all present answer.
      const recording = createRecording({ socket: consultSocket, consultId, me, nameOf, doctor });
      call = createCall({
        socket: consultSocket,
        consultId,
        resident,
        mode,
        nameOf,
        recording,
        onStatus: () => drawActions(),
        hangUp: doctor
          ? { button: "room.end", text: "room.end", confirmText: "room.end_confirm", onConfirm: end }
          : { button: "call.hang_up", text: "room.leave", confirmText: "room.leave_confirm",
              onConfirm: leave },
      });
      return call;
    }

    function drawVideo() {
      if (call) {
        call.redraw();
        if (video.firstChild !== call.node) fill(video, call.node); // a moved <video> may pause
        return;
      }
      const mode = state.mode ?? state.consult?.mode;
      // A text consult has no call; a browser without WebRTC says so and keeps the chat.
      fill(video, h("section", { class: "call", testid: "video-area" },
        h("p", { class: "call-state call-state-unavailable", testid: "call-state" },
          t(mode === "text" ? "call.text_mode" : !window.RTCPeerConnection
            ? "call.no_webrtc" : "call.connecting"))));
    }

    function drawSide() {
      if (!clinician) return;
      record?.redraw();
      note?.redraw();
      const parts = [record?.node, note?.node].filter(Boolean);
      if (parts.some((part, i) => side.children[i] !== part) || side.children.length !== parts.length) {
        fill(side, parts);
      }
    }

    function drawInvite() {
      if (state.inviteError) return h("p", { class: "danger-text" }, liveErrorMessage(state.inviteError));
      if (!state.invite) return null;
      const link = new URL(state.invite.url, location.origin).href;
      const input = h("input", { class: "invite-link", readonly: true, value: link,
                                 testid: "invite-link", "aria-label": t("room.invite_link") });
      input.addEventListener("focus", () => input.select());
      const copy = h("button", { type: "button", class: "btn btn-secondary", testid: "copy-invite" },
        t("room.copy"));
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(link);
          copy.textContent = t("room.copied");
        } catch {
          input.select(); // no clipboard (plain HTTP): the link is selected for a long-press copy
        }
      });
      return h("div", { class: "card invite", testid: "invite" },
        h("p", {}, t("room.invite_intro")),
        h("div", { class: "field-row" }, input, copy));
    }

    function drawActions() {
      const doctor = me.role === "doctor";
      const referral = (state.kind ?? state.consult?.kind) === "referral";
      fill(actions,
        doctor && referral
          ? h("button", { type: "button", class: "btn btn-secondary btn-block btn-big",
                          testid: "invite-button", onclick: invite }, t("room.invite"))
          : null,
        doctor && referral ? drawInvite() : null,
        // In a call its red button ends (or leaves) the consult: one such button on the page, not two.
        call?.showsHangUp && state.phase === "in_room"
          ? null
          : doctor
            ? confirmButton({ testid: "end-consult", text: "room.end", confirmText: "room.end_confirm",
                              onConfirm: end })
            : confirmButton({ testid: "leave", text: "room.leave", confirmText: "room.leave_confirm",
                              onConfirm: leave }));
    }

    function drawAfter() {
      // The care team goes back to its inbox (the next resident may be waiting); others home.
      const inbox = me.role === "doctor" || me.role === "nurse";
      fill(after, FINAL.has(state.phase)
        ? h("a", { class: "btn btn-primary btn-block btn-big", testid: "room-back",
                   href: inbox ? "/inbox" : homeFor(me.role) },
            t(inbox ? "room.back_inbox" : "common.back_home"))
        : null);
    }

    function draw() {
      drawHead();
      drawState();
      room.hidden = state.phase !== "in_room";
      drawPresence();
      drawVideo();
      drawSide();
      drawActions();
      drawAfter();
      chatBox.setAttribute("aria-label", t("room.chat"));
      if (!view) fill(chatBox, h("h2", {}, t("room.chat")), h("p", { class: "muted" }, t("common.loading")));
      else chatBox.firstChild.textContent = t("room.chat");
    }

    function setPhase(phase, refusal = null) {
      state.phase = phase;
      state.refusal = refusal;
      if (phase !== "waiting") stopRefresh();
      if (FINAL.has(phase)) {
        call?.stop();
        consultSocket.disconnect();
        chat.disconnect();
      }
      draw();
    }

    // --- talking to the hub ------------------------------------------------------------

    async function openChat() {
      if (state.phase !== "in_room" || !chat.connected) return;
      try {
        const { conversation } = await request(chat, "open_consult_chat", { consult_id: consultId });
        if (!view) {
          view = conversationView({ chat, me, conversation, compact: true });
          fill(chatBox, h("h2", {}, t("room.chat")), view.node);
        }
        await view.sync();
      } catch (err) {
        complain(err);
      }
    }

    async function join() {
      try {
        const { consult } = await request(consultSocket, "join", { consult_id: consultId });
        state.kind = consult.kind;
        state.mode = consult.mode;
        ensureCall();
        setPhase("in_room");
        showError(null);
        openChat();
        // In the room on this connection (first time, or again after a reconnect): the media
        // starts afresh, on a new peer connection.
        call?.start();
      } catch (err) {
        if (FINAL.has(state.phase)) return;
        if (err.code === "consult_closed") setPhase("ended");
        else if (err.code === "timeout") complain(err);
        else setPhase("refused", err);
      }
    }

    async function checkIn() {
      try {
        const ack = await request(consultSocket, "check_in", { consult_id: consultId });
        if (state.phase === "in_room" || FINAL.has(state.phase)) return; // a late answer
        state.kind = ack.consult.kind;
        state.mode = ack.consult.mode;
        state.position = ack.position;
        if (state.phase !== "waiting") {
          setPhase("waiting");
          refreshTimer ??= setInterval(() => { if (consultSocket.connected) checkIn(); },
            POSITION_REFRESH_MS);
        } else {
          draw();
        }
      } catch (err) {
        // Already admitted (a reload, a second phone): straight into the room.
        if (FINAL.has(state.phase)) return;
        if (err.code === "consult_not_waiting") await join();
        else if (err.code === "timeout") complain(err);
        else setPhase("refused", err);
      }
    }

    function arrive() {
      if (FINAL.has(state.phase)) return;
      if (!resident || state.phase === "in_room") join();
      else checkIn();
    }

    /** An error, unless the room is already over (the `ended` event can beat the ack home). */
    const complain = (err) => {
      if (!FINAL.has(state.phase)) showError(() => liveErrorMessage(err));
    };

    async function leave() {
      try {
        await request(consultSocket, "leave", { consult_id: consultId });
        setPhase("left");
      } catch (err) {
        complain(err);
      }
    }

    // The hub sends the room's `ended` before the ack of `end`: the page that ended the consult
    // waits for its ack (it carries the next follow-up's date) before closing the connection.
    let ending = false;
    let endedSeen = false;

    async function end() {
      ending = true;
      try {
        const ack = await request(consultSocket, "end", { consult_id: consultId });
        state.nextDue = ack.next_task_due ?? null;
        setPhase("ended");
      } catch (err) {
        if (endedSeen) setPhase("ended");
        else complain(err);
      } finally {
        ending = false;
      }
    }

    async function invite() {
      try {
        state.invite = await request(consultSocket, "invite", { consult_id: consultId });
        state.inviteError = null;
      } catch (err) {
        state.inviteError = err;
      }
      drawActions();
    }

    const mine = (payload) => payload?.consult_id === consultId;
    consultSocket.on("admitted", (p) => { if (mine(p) && state.phase === "waiting") join(); });
    consultSocket.on("presence", (p) => {
      if (!mine(p)) return;
      state.members = p.members;
      drawPresence();
      call?.redraw(); // names on the tiles
    });
    consultSocket.on("ended", (p) => {
      if (!mine(p) || FINAL.has(state.phase)) return;
      if (ending) {
        endedSeen = true;
        call?.stop();
        return;
      }
      setPhase("ended");
      if (resident) showNextVisit();
    });

    /** The resident is told the next visit date the doctor set in the note, if any. */
    async function showNextVisit() {
      try {
        const consult = await api(`/api/consults/${consultId}`);
        if (consult.next_visit_on) {
          state.nextDue = consult.next_visit_on;
          drawState();
        }
      } catch {
        // Only a nicety: the resident's home page shows the next follow-up too.
      }
    }
    consultSocket.on("removed", (p) => { if (mine(p)) setPhase("removed"); });

    draw();
    onLanguageChange(draw);
    try {
      state.consult = await api(`/api/consults/${consultId}`);
      if (["ended", "cancelled", "no_show"].includes(state.consult.status)) {
        setPhase("ended");
        return;
      }
      if (clinician) {
        record = recordSummary(state.consult.resident_id);
        record.load();
        if (me.role === "doctor") note = noteForm(consultId, state.consult);
      }
      draw();
    } catch {
      // The hub decides who may come in and says why not; the header just stays short.
    }
    whenConnected(consultSocket, arrive);
    whenConnected(chat, openChat);
  },
});
