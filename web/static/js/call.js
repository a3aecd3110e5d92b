/**
 * The video call of one consult room: one RTCPeerConnection to the server's media relay, driven by
 * the `/consult` namespace's media events (docs/protocol.md, media/room.py).
 *
 * The page offers first (its microphone and camera as sendonly transceivers, recvonly when it has
 * none); the server answers, then offers the other participants' tracks whenever someone joins or
 * leaves. The server is the impolite peer and the page the polite one: an offer of ours refused
 * with `negotiation_collision` is rolled back, the server's offer answered, and ours sent again.
 * Every step of signalling runs on one promise chain, in arrival order.
 *
 * What a resident sees: a big tile per other participant (name, role, "muted" / "camera off"
 * marks), a small self-view, four big buttons (microphone, camera, audio only, hang up) and one
 * plain line saying how the call is. A weak network (received video stalling, heavy loss) turns
 * the call into audio only by itself, with a button to try video again; a dropped connection is
 * joined again; no camera or no permission still lets them see and hear the others.
 */

import { fill, h } from "./app.js";
import { getLang, label, t } from "./i18n.js";
import { liveErrorMessage, request } from "./live.js";

/** How often the received media is measured (getStats) to notice a weak network. */
const STATS_INTERVAL_MS = 2_000;
/** Bad measurements in a row before switching to audio only: 3 × 2 s. */
const WEAK_WINDOWS = 3;
/** Received video below this many frames per second counts as bad. */
const WEAK_FPS = 5;
/** More than this share of packets lost counts as bad. */
const WEAK_LOSS = 0.15;
/** After connecting, or turning video back on, keyframes take a moment: not judged meanwhile. */
const SETTLE_MS = 8_000;
/** Waits between attempts to get the media back, growing, then repeating the last. */
const RESTART_DELAYS_MS = [1_000, 2_000, 4_000, 8_000, 15_000];
/** A connection "disconnected" this long is replaced (ICE usually recovers in a few seconds). */
const DISCONNECTED_GRACE_MS = 6_000;
/** After a collision, offer again by then even if the server's own offer never came. */
const REOFFER_MS = 3_000;


const CAMERA = {
  width: { ideal: 640 },
  height: { ideal: 480 },
  frameRate: { ideal: 20, max: 24 },
  facingMode: "user",
};

/**
 * The call of consult `consultId` for the signed-in user.
 *
 * `socket`: the page's `/consult` socket (already in the room when `start()` is called);
 * `resident`: true for a resident or proxy (plainer waiting words); `mode`: the consult's mode
 * ("voice" starts as audio only); `nameOf(userId)`: a participant's display name;
 * `hangUp`: {button, text, confirmText, onConfirm} (i18n keys and the action), the room's leave or
 * end action, asked once more.
 *
 * `recording`: the consult's recording part (`createRecording`), shown under the call's state line.
 * `onStatus(status)`: called when the call's status changes (the room redraws what depends on it).
 *
 * Returns {node, start, stop, redraw, showsHangUp}: `start()` (again) after every (re)join of the
 * room, `stop()` when the room is over, `redraw()` after a language switch or new names;
 * `showsHangUp` is true while the call's own controls (with the hang-up button) are on screen.
 */
export function createCall({ socket, consultId, resident, mode, nameOf, hangUp, recording = null,
                             onStatus = null }) {
  const call = {
    /** idle | connecting | connected | unstable | reconnecting | unavailable | ended */
    status: "idle",
    everConnected: false,
    /** The current attempt; every async step checks it is still current. */
    gen: 0,
    session: null,
    restartTimer: null,
    restartAttempt: 0,
    /** The page's own microphone and camera, asked for once and kept across reconnects. */
    local: null,
    localTried: false,
    deviceProblem: null,
    micOn: true,
    camOn: mode !== "voice",
    /** null, "chosen" (the audio-only button) or "weak" (switched by the network check). */
    audioOnly: mode === "voice" ? "chosen" : null,
    /** When video was last (re)started: the network check waits SETTLE_MS after it. */
    videoSince: 0,
    badWindows: 0,
    lastSample: null,
    /** Other participants in the media room: participant id → {user_id, role, audio, video}. */
    participants: new Map(),
    tiles: new Map(),
    soundBlocked: false,
    confirming: false,
    stopped: false,
  };

  // --- the view ------------------------------------------------------------------------------

  const stateLine = h("p", { class: "call-state", testid: "call-state", role: "status" });
  const deviceNote = h("p", { class: "call-note", testid: "call-device-note", hidden: true });
  const soundButton = h("button", { type: "button", class: "btn btn-primary btn-block btn-big",
                                    testid: "call-sound", hidden: true, onclick: unlockSound });
  const grid = h("div", { class: "call-grid", testid: "call-grid" });
  const selfVideo = h("video", { class: "call-video", autoplay: true, playsinline: true });
  selfVideo.muted = true; // never hear oneself
  const selfTile = h("figure", { class: "call-self", testid: "call-self", hidden: true },
    selfVideo, h("figcaption", { class: "call-self-name" }));
  const empty = h("p", { class: "call-empty", testid: "call-empty" });
  const stage = h("div", { class: "call-stage" }, grid, empty, selfTile);
  const controls = h("div", { class: "call-controls", testid: "call-controls" });
  const node = h("section", { class: "call", testid: "video-area" },
    stateLine, recording?.node ?? null, deviceNote, soundButton, stage, controls);

  function tileFor(participantId) {
    let tile = call.tiles.get(participantId);
    if (tile) return tile;
    const video = h("video", { class: "call-video", autoplay: true, playsinline: true });
    tile = {
      video,
      stream: null,
      trackIds: "",
      node: h("figure", { class: "call-tile", testid: "call-tile", "data-participant": participantId },
        video,
        h("div", { class: "call-avatar", "aria-hidden": "true" }),
        h("figcaption", { class: "call-caption" })),
    };
    call.tiles.set(participantId, tile);
    grid.append(tile.node);
    return tile;
  }

  function drawTile(participantId, info) {
    const tile = tileFor(participantId);
    const name = nameOf(Number(info.user_id)) || label("role", info.role);
    const showsVideo = info.video && !call.audioOnly && tile.stream?.getVideoTracks().length > 0;
    tile.node.dataset.role = info.role;
    tile.node.dataset.audio = String(Boolean(info.audio));
    tile.node.dataset.video = String(Boolean(info.video));
    tile.node.classList.toggle("call-tile-novideo", !showsVideo);
    tile.node.querySelector(".call-avatar").textContent = [...name][0] ?? "";
    fill(tile.node.querySelector(".call-caption"),
      h("span", { class: "call-name", testid: "call-name" }, name),
      h("span", { class: "call-role" }, label("role", info.role)),
      info.audio ? null : h("span", { class: "call-badge", testid: "call-muted" }, t("call.muted_badge")),
      info.video ? null : h("span", { class: "call-badge", testid: "call-camera-off" },
        t("call.camera_off_badge")));
  }

  function drawTiles() {
    for (const [participantId, tile] of call.tiles) {
      if (!call.participants.has(participantId)) {
        tile.video.srcObject = null;
        tile.node.remove();
        call.tiles.delete(participantId);
      }
    }
    for (const [participantId, info] of call.participants) drawTile(participantId, info);
    grid.dataset.count = String(call.tiles.size);
    empty.hidden = call.tiles.size > 0;
    empty.textContent = t(resident ? "call.waiting_doctor" : "call.waiting_others");
  }

  function stateText() {
    switch (call.status) {
      case "idle":
      case "connecting":
        return t("call.connecting");
      case "connected":
        if (call.audioOnly === "weak") return t("call.weak");
        if (call.audioOnly === "chosen") return t("call.audio_only_on");
        return t("call.connected");
      case "unstable":
      case "reconnecting":
        return t("call.reconnecting");
      case "unavailable":
        return t("call.unavailable");
      default:
        return t("call.ended");
    }
  }

  function drawState() {
    stateLine.textContent = stateText();
    const weak = call.status === "connected" && call.audioOnly === "weak";
    node.dataset.status = call.status;
    node.dataset.audioOnly = call.audioOnly ?? "";
    stateLine.className = `call-state call-state-${weak ? "weak" : call.status}`;
    deviceNote.hidden = !call.deviceProblem;
    deviceNote.textContent = call.deviceProblem ? t(`call.device.${call.deviceProblem}`) : "";
    soundButton.hidden = !call.soundBlocked;
    soundButton.textContent = t("call.sound");
  }

  function controlButton({ testid, text, pressed = null, onclick, disabled = false, kind = "secondary" }) {
    return h("button", { type: "button", class: `btn btn-${kind} btn-big call-button`, testid,
                         "aria-pressed": pressed === null ? null : String(pressed),
                         disabled, onclick }, text);
  }

  function drawControls() {
    const live = showsHangUp();
    stage.hidden = !live;
    if (!live) {
      fill(controls);
      return;
    }
    const hasMic = Boolean(call.local?.getAudioTracks().length);
    const hasCam = Boolean(call.local?.getVideoTracks().length);
    if (call.confirming) {
      fill(controls,
        h("p", { class: "lead call-confirm-text" }, t(hangUp.confirmText)),
        h("div", { class: "button-row call-confirm" },
          controlButton({ testid: "hang-up-confirm", text: t(hangUp.text), kind: "danger",
                          onclick: () => { call.confirming = false; hangUp.onConfirm(); } }),
          controlButton({ testid: "hang-up-cancel", text: t("common.cancel"),
                          onclick: () => { call.confirming = false; drawControls(); } })));
      return;
    }
    fill(controls,
      controlButton({ testid: "call-mic", pressed: hasMic && !call.micOn, disabled: !hasMic,
                      text: t(hasMic && !call.micOn ? "call.unmute" : "call.mute"), onclick: toggleMic }),
      controlButton({ testid: "call-camera", pressed: hasCam && !call.camOn,
                      disabled: !hasCam || Boolean(call.audioOnly),
                      text: t(hasCam && call.camOn && !call.audioOnly ? "call.camera_off" : "call.camera_on"),
                      onclick: toggleCamera }),
      call.audioOnly
        ? controlButton({ testid: "call-video-again", kind: "primary",
                          text: t(call.audioOnly === "weak" ? "call.try_video" : "call.video_back"),
                          onclick: videoAgain })
        : controlButton({ testid: "call-audio-only", text: t("call.audio_only"),
                          onclick: () => goAudioOnly("chosen") }),
      controlButton({ testid: "hang-up", kind: "danger", text: t(hangUp.button ?? hangUp.text),
                      onclick: () => {
                        call.confirming = true;
                        drawControls();
                        controls.querySelector('[data-testid="hang-up-confirm"]')?.focus();
                      } }));
  }

  function drawSelf() {
    const video = call.local?.getVideoTracks()[0];
    const showing = Boolean(video) && call.camOn && !call.audioOnly && call.status !== "ended"
      && call.status !== "unavailable";
    selfTile.hidden = !showing;
    if (showing && selfVideo.srcObject !== call.local) selfVideo.srcObject = call.local;
    selfTile.querySelector("figcaption").textContent = t("call.me");
  }

  function redraw() {
    drawState();
    drawTiles();
    drawSelf();
    drawControls();
    recording?.redraw();
    node.setAttribute("aria-label", t("call.label"));
  }

  function setStatus(status) {
    call.status = status;
    redraw();
    onStatus?.(status);
  }

  // --- sound: a phone may refuse to play sound before a tap ---------------------------------

  function play(video) {
    video.play().catch((err) => {
      if (err?.name === "NotAllowedError" && !call.soundBlocked) {
        call.soundBlocked = true;
        drawState();
      }
    });
  }

  function unlockSound() {
    call.soundBlocked = false;
    for (const tile of call.tiles.values()) if (tile.stream) play(tile.video);
    drawState();
  }

  // --- the page's own microphone and camera ------------------------------------------------

  async function getMedia(constraints) {
    return navigator.mediaDevices.getUserMedia(constraints);
  }

  /** Ask for the microphone and camera once; say plainly what is missing and go on without it. */
  async function ensureLocalMedia() {
    if (call.localTried) return;
    call.localTried = true;
    if (!navigator.mediaDevices?.getUserMedia) {
      call.deviceProblem = "insecure"; // getUserMedia needs https (or localhost)
      return;
    }
    const wantVideo = mode !== "voice";
    try {
      call.local = await getMedia({ audio: true, video: wantVideo ? CAMERA : false });
      return;
    } catch (err) {
      if (["NotAllowedError", "SecurityError"].includes(err?.name)) {
        call.deviceProblem = "denied";
        return;
      }
    }
    // One of the two is missing or busy: take what there is.
    try {
      call.local = await getMedia({ audio: true });
      call.deviceProblem = wantVideo ? "no_camera" : null;
      return;
    } catch { /* no microphone either */ }
    if (wantVideo) {
      try {
        call.local = await getMedia({ video: CAMERA });
        call.deviceProblem = "no_mic";
        return;
      } catch { /* nothing at all */ }
    }
    call.deviceProblem = "no_devices";
  }

  function applyLocalEnabled() {
    for (const track of call.local?.getAudioTracks() ?? []) track.enabled = call.micOn;
    for (const track of call.local?.getVideoTracks() ?? []) track.enabled = call.camOn && !call.audioOnly;
  }

  /** Tell the server (and so the others) what this page sends and whether it wants video. */
  function sendState() {
    const session = call.session;
    if (!session?.offered) return;
    request(socket, "media_state", {
      consult_id: consultId,
      audio: call.micOn && Boolean(call.local?.getAudioTracks().length),
      video: call.camOn && !call.audioOnly && Boolean(call.local?.getVideoTracks().length),
      receive_video: !call.audioOnly,
    }).catch((err) => console.warn("media_state refused", err));
  }

  function toggleMic() {
    call.micOn = !call.micOn;
    applyLocalEnabled();
    sendState();
    redraw();
  }

  function toggleCamera() {
    call.camOn = !call.camOn;
    applyLocalEnabled();
    sendState();
    redraw();
  }

  function goAudioOnly(why) {
    call.audioOnly = why;
    call.badWindows = 0;
    applyLocalEnabled();
    sendState();
    redraw();
  }

  function videoAgain() {
    call.audioOnly = null;
    call.camOn = true;
    call.badWindows = 0;
    call.videoSince = Date.now();
    applyLocalEnabled();
    sendState();
    redraw();
  }

  // --- signalling: one chain, in arrival order ------------------------------------------------

  let chain = Promise.resolve();

  /** Run `step` after every earlier step; a failure of the current attempt starts a new one. */
  function queue(gen, step) {
    chain = chain.then(() => (gen === call.gen ? step() : undefined)).catch((err) => {
      if (gen !== call.gen || call.stopped) return; // an old attempt's connection was closed under it
      console.warn("call: signalling failed", err);
      scheduleRestart();
    });
    return chain;
  }

  function current(session) {
    return !call.stopped && call.session === session && session.pc.signalingState !== "closed";
  }

  async function sendOffer(session) {
    if (!current(session)) return;
    clearTimeout(session.reofferTimer);
    session.needOffer = false;
    const { pc } = session;
    await pc.setLocalDescription(await pc.createOffer());
    // From here the server may offer back (its offer can overtake the ack of ours).
    session.offerSent = true;
    let ack;
    try {
      ack = await request(socket, "media_offer", { consult_id: consultId, sdp: pc.localDescription.sdp });
    } catch (err) {
      if (!current(session)) return;
      if (err.code !== "negotiation_collision") throw err;
      // The polite side gives way: take ours back, answer the server's offer (queued after this
      // step), then offer again; by REOFFER_MS at the latest if that offer never comes.
      await pc.setLocalDescription({ type: "rollback" });
      session.needOffer = true;
      session.reofferTimer = setTimeout(() => {
        if (session.needOffer) queue(session.gen, () => sendOffer(session));
      }, REOFFER_MS);
      return;
    }
    if (!current(session)) return;
    await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    const first = !session.offered;
    session.offered = true;
    if (first) sendState();
    bindStreams();
  }

  async function answerServer(session, payload) {
    if (!current(session)) return;
    const { pc } = session;
    if (pc.signalingState === "have-local-offer") await pc.setLocalDescription({ type: "rollback" });
    await pc.setRemoteDescription({ type: "offer", sdp: payload.sdp });
    session.tracks = payload.tracks ?? {};
    call.participants = new Map(Object.entries(payload.participants ?? {}));
    await pc.setLocalDescription(await pc.createAnswer());
    await request(socket, "media_answer", { consult_id: consultId, sdp: pc.localDescription.sdp });
    if (!current(session)) return;
    bindStreams();
    if (session.needOffer) await sendOffer(session);
  }

  /** Give each tile the tracks its participant publishes to this page (one MediaStream each). */
  function bindStreams() {
    const session = call.session;
    if (!session) return;
    const byParticipant = new Map();
    for (const transceiver of session.pc.getTransceivers()) {
      const meta = session.tracks[transceiver.mid];
      const direction = transceiver.currentDirection;
      if (!meta || (direction !== "recvonly" && direction !== "sendrecv")) continue;
      const track = transceiver.receiver.track;
      if (track.readyState === "ended") continue;
      if (!byParticipant.has(meta.participant_id)) byParticipant.set(meta.participant_id, []);
      byParticipant.get(meta.participant_id).push(track);
    }
    for (const [participantId] of call.participants) {
      const tile = tileFor(participantId);
      const tracks = byParticipant.get(participantId) ?? [];
      const ids = tracks.map((track) => track.id).sort().join(",");
      if (ids !== tile.trackIds) {
        tile.trackIds = ids;
        tile.stream = tracks.length ? new MediaStream(tracks) : null;
        tile.video.srcObject = tile.stream;
        if (tile.stream) play(tile.video);
      }
    }
    redraw();
  }

  // --- one attempt: join the media, connect, offer -----------------------------------------------

  function closeSession() {
    const session = call.session;
    call.session = null;
    if (!session) return;
    clearTimeout(session.reofferTimer);
    clearTimeout(session.disconnectTimer);
    session.pc.onicecandidate = null;
    session.pc.onconnectionstatechange = null;
    session.pc.ontrack = null;
    session.pc.close();
    for (const tile of call.tiles.values()) {
      tile.video.srcObject = null;
      tile.stream = null;
      tile.trackIds = "";
    }
  }

  function wire(session) {
    const { pc } = session;
    pc.onicecandidate = (event) => {
      if (call.session !== session) return;
      const candidate = event.candidate ? event.candidate.toJSON() : null;
      request(socket, "media_candidate", { consult_id: consultId, candidate })
        .catch((err) => console.warn("media_candidate refused", err));
    };
    pc.ontrack = () => { if (call.session === session) bindStreams(); };
    pc.onconnectionstatechange = () => {
      if (call.session !== session) return;
      clearTimeout(session.disconnectTimer);
      switch (pc.connectionState) {
        case "connected":
          queue(session.gen, () => publish(session));
          call.everConnected = true;
          call.restartAttempt = 0;
          call.videoSince = Date.now();
          call.badWindows = 0;
          setStatus("connected");
          break;
        case "disconnected":
          setStatus("unstable");
          session.disconnectTimer = setTimeout(() => {
            if (call.session === session && pc.connectionState !== "connected") scheduleRestart();
          }, DISCONNECTED_GRACE_MS);
          break;
        case "failed":
          scheduleRestart();
          break;
        default:
          break;
      }
    };
  }

  /**
   * The first offer carries the microphone and camera (sendonly), or only receives when the page has
   * no devices; `publish` adds tracks that arrive later. (The relay offers back only once this
   * connection is up: offering earlier made aiortc renumber the payload types a browser sends with.)
   */
  function addTransceivers(session) {
    const streams = call.local ? [call.local] : [];
    const audio = call.local?.getAudioTracks()[0];
    const video = call.local?.getVideoTracks()[0];
    session.audio = session.pc.addTransceiver(audio ?? "audio",
      { direction: audio ? "sendonly" : "recvonly", streams });
    session.video = session.pc.addTransceiver(video ?? "video",
      { direction: video ? "sendonly" : "recvonly", streams });
    session.published = Boolean(audio || video);
  }

  async function publish(session) {
    if (!current(session) || session.published) return;
    session.published = true;
    const streams = call.local ? [call.local] : [];
    let changed = false;
    for (const [transceiver, track] of [[session.audio, call.local?.getAudioTracks()[0]],
                                        [session.video, call.local?.getVideoTracks()[0]]]) {
      if (!track) continue;
      await transceiver.sender.replaceTrack(track);
      transceiver.sender.setStreams?.(...streams);
      transceiver.direction = "sendonly";
      changed = true;
    }
    if (changed) await sendOffer(session);
  }

  /** (Re)start the media: after joining the room, after a reconnect, after the worker restarted. */
  function start() {
    if (call.stopped) return;
    clearTimeout(call.restartTimer);
    call.restartTimer = null;
    call.gen += 1;
    const gen = call.gen;
    closeSession();
    setStatus(call.everConnected ? "reconnecting" : "connecting");
    queue(gen, async () => {
      let joined;
      try {
        joined = await request(socket, "media_join", { consult_id: consultId });
      } catch (err) {
        if (gen !== call.gen) return;
        if (err.code === "media_unavailable") {
          setStatus("unavailable");
          return;
        }
        // Not in the room on this connection (yet): the room joins again and calls start().
        if (["not_in_room", "consult_closed", "not_authenticated"].includes(err.code)) return;
        throw err;
      }
      await ensureLocalMedia();
      if (gen !== call.gen) return;
      applyLocalEnabled();
      const pc = new RTCPeerConnection({ iceServers: joined.ice_servers ?? [], bundlePolicy: "max-bundle" });
      const session = { gen, pc, tracks: {}, offerSent: false, offered: false, needOffer: false,
                        audio: null, video: null, published: false,
                        reofferTimer: null, disconnectTimer: null };
      call.session = session;
      wire(session);
      addTransceivers(session);
      redraw();
      await sendOffer(session);
    });
  }

  function scheduleRestart() {
    if (call.stopped || call.status === "unavailable" || call.restartTimer) return;
    closeSession();
    setStatus("reconnecting");
    const delay = RESTART_DELAYS_MS[Math.min(call.restartAttempt, RESTART_DELAYS_MS.length - 1)];
    call.restartAttempt += 1;
    call.restartTimer = setTimeout(() => {
      call.restartTimer = null;
      // While the socket is down the room joins again on reconnect and starts the media then.
      if (socket.connected) start();
    }, delay);
  }

  /** Close everything: the connection, the microphone and camera, the timers. */
  function stop() {
    if (call.stopped) return;
    call.stopped = true;
    call.gen += 1;
    clearTimeout(call.restartTimer);
    clearInterval(statsTimer);
    closeSession();
    for (const track of call.local?.getTracks() ?? []) track.stop();
    call.local = null;
    selfVideo.srcObject = null;
    call.participants.clear();
    call.confirming = false;
    if (window.jiayiCall === diagnostics) delete window.jiayiCall;
    recording?.stop();
    setStatus("ended");
  }

  // --- what the server says ----------------------------------------------------------------------

  const mine = (payload) => payload?.consult_id === consultId;
  socket.on("media_offer", (payload) => {
    const session = call.session;
    // An offer that arrives before this attempt's own offer belongs to the connection it replaced.
    if (!mine(payload) || !session?.offerSent) return;
    queue(session.gen, () => answerServer(session, payload));
  });
  socket.on("media_state", (payload) => {
    if (!mine(payload)) return;
    // Someone new (perhaps with no camera or microphone, so with no tracks to offer) gets a tile now.
    const info = call.participants.get(payload.participant_id)
      ?? { user_id: payload.user_id, role: payload.role };
    info.audio = payload.audio;
    info.video = payload.video;
    call.participants.set(payload.participant_id, info);
    drawTiles();
  });
  socket.on("media_left", (payload) => {
    if (!mine(payload)) return;
    call.participants.delete(payload.participant_id);
    drawTiles();
  });
  socket.on("media_connection", (payload) => {
    if (!mine(payload) || !call.session?.offered) return;
    if (payload.state === "failed") scheduleRestart();
  });
  socket.on("media_error", (payload) => {
    if (!mine(payload)) return;
    console.warn("media error", payload.code, payload.message);
    if (payload.code === "renegotiation_failed") scheduleRestart();
  });
  socket.on("media_restart", (payload) => {
    if (mine(payload) && call.session) start();
  });
  socket.on("disconnect", () => {
    if (!call.stopped && ["connecting", "connected", "unstable"].includes(call.status)) {
      setStatus("reconnecting");
    }
  });

  // --- watching the network ----------------------------------------------------------------------

  /** What this page receives, per participant: frames decoded, audio packets (getStats). */
  async function inbound() {
    const session = call.session;
    if (!session) return {};
    const out = {};
    const stats = await session.pc.getStats();
    for (const report of stats.values()) {
      if (report.type !== "inbound-rtp") continue;
      const meta = session.tracks[report.mid];
      if (!meta) continue;
      const entry = out[meta.participant_id] ??= {
        role: meta.role, framesDecoded: 0, audioPackets: 0, videoPackets: 0, packetsLost: 0,
      };
      if (report.kind === "video") {
        entry.framesDecoded += report.framesDecoded ?? 0;
        entry.videoPackets += report.packetsReceived ?? 0;
      } else {
        entry.audioPackets += report.packetsReceived ?? 0;
      }
      entry.packetsLost += report.packetsLost ?? 0;
    }
    return out;
  }

  /** Sustained stalled video or heavy loss: switch to audio only rather than drop the call. */
  async function checkNetwork() {
    if (call.status !== "connected" || call.audioOnly || !call.session?.offered) {
      call.lastSample = null;
      return;
    }
    let per;
    try {
      per = await inbound();
    } catch {
      return;
    }
    const now = Date.now();
    const previous = call.lastSample;
    call.lastSample = { at: now, per };
    if (!previous || now - call.videoSince < SETTLE_MS) return;
    const seconds = (now - previous.at) / 1000;
    let fpsSum = 0;
    let videoStreams = 0;
    let lost = 0;
    let received = 0;
    for (const [participantId, entry] of Object.entries(per)) {
      const before = previous.per[participantId];
      if (!before) continue;
      lost += Math.max(0, entry.packetsLost - before.packetsLost);
      received += Math.max(0, entry.audioPackets + entry.videoPackets
        - before.audioPackets - before.videoPackets);
      if (call.participants.get(participantId)?.video) {
        fpsSum += (entry.framesDecoded - before.framesDecoded) / seconds;
        videoStreams += 1;
      }
    }
    const stalled = videoStreams > 0 && fpsSum / videoStreams < WEAK_FPS;
    const lossy = received + lost > 50 && lost / (received + lost) > WEAK_LOSS;
    call.badWindows = stalled || lossy ? call.badWindows + 1 : 0;
    if (call.badWindows >= WEAK_WINDOWS) goAudioOnly("weak");
  }

  const statsTimer = setInterval(checkNetwork, STATS_INTERVAL_MS);
  /** For support and tests: what this page receives, without reaching into the page's closures. */
  const diagnostics = { inbound, status: () => call.status };
  window.jiayiCall = diagnostics;

  function showsHangUp() {
    return !["unavailable", "ended"].includes(call.status);
  }

  redraw();
  return { node, start, stop, redraw, get showsHangUp() { return showsHangUp(); } };
}

// --- recording, with everyone's consent (docs/protocol.md, "Recording") ---------------------------

/** Statuses in which a recording asks, runs or waits to run again. */
const REC_ACTIVE = new Set(["waiting", "running", "paused"]);
/** "Recording ended" stays this long, then the line goes away. */
const REC_ENDED_SHOWN_MS = 8_000;

/**
 * The consult's recording on every participant's page, driven by the server's `recording` event.
 *
 * One line under the call's state says plainly whether the consult is being recorded (a red dot
 * and "recording" while it runs; paused and whom it waits for; asking; ended), announced through
 * `aria-live`. Whoever the server waits for (`waiting_for`) gets a large card with the server's
 * consent text in the reader's language and two big buttons, agree and do not agree. While a
 * recording is on, anyone who has consented may withdraw at any time (which pauses it at once). The
 * family doctor (`doctor`) has the start and stop buttons.
 *
 * `me`: /api/me (its `id` is the user id in `waiting_for`); `nameOf(userId)`: a display name.
 * Returns {node, redraw, stop}.
 */
export function createRecording({ socket, consultId, me, nameOf, doctor }) {
  const myId = Number(me?.id ?? me?.user_id);
  const rec = {
    /** The last `recording` event (or the request's ack until the event comes), or null. */
    info: null,
    /** This page's own last answer: {recordingId, decision}. */
    answer: null,
    busy: false,
    error: null,
    endedTimer: null,
    /** The recording whose consent card was last shown (to move the focus to it once). */
    cardFor: null,
    stopped: false,
  };

  const line = h("p", { class: "rec-line", testid: "rec-state", hidden: true });
  const announce = h("div", { class: "rec-live", role: "status", "aria-live": "polite" }, line);
  const body = h("div", { class: "rec-body", testid: "rec-body" });
  const node = h("div", { class: "rec", testid: "recording" }, announce, body);

  function names(ids) {
    return ids.map((id) => (id === myId ? t("rec.you") : nameOf(Number(id)) || t("rec.someone")))
      .join(t("common.list_sep"));
  }

  function lineText(info) {
    const waiting = info.waiting_for ?? [];
    switch (info.status) {
      case "running":
        return t("rec.running");
      case "paused":
        return waiting.length ? t("rec.paused_for", { names: names(waiting) }) : t("rec.paused");
      case "waiting":
        return waiting.length ? t("rec.waiting_for", { names: names(waiting) }) : t("rec.waiting");
      case "ended":
        return t("rec.ended");
      case "incomplete":
        return t("rec.incomplete");
      default:
        return "";
    }
  }

  function button({ testid, text, kind = "secondary", onclick }) {
    return h("button", { type: "button", class: `btn btn-${kind} btn-big`, testid,
                         disabled: rec.busy, onclick }, text);
  }

  function consentCard(info) {
    const text = info.text?.[getLang()] ?? info.text?.zh ?? "";
    return h("section", { class: "card rec-consent", testid: "rec-consent",
                          "aria-labelledby": `rec-ask-${consultId}` },
      h("h2", { id: `rec-ask-${consultId}`, class: "rec-consent-title", tabindex: "-1" }, t("rec.ask_title")),
      h("p", { class: "rec-consent-text", testid: "rec-consent-text" }, text),
      h("div", { class: "button-row rec-consent-buttons" },
        button({ testid: "rec-agree", kind: "primary", text: t("rec.agree"),
                 onclick: () => answer("granted") }),
        button({ testid: "rec-refuse", text: t("rec.refuse"), onclick: () => answer("refused") })));
  }

  /** What was drawn last, so an unchanged part is not drawn (nor announced) again. */
  let drawnLine = null;
  let drawnBody = null;

  function redraw() {
    const info = rec.info;
    const status = info?.status ?? "none";
    const active = REC_ACTIVE.has(status);
    node.dataset.status = status;
    const text = info && !rec.stopped ? lineText(info) : "";
    if (drawnLine !== `${status}|${text}`) {
      drawnLine = `${status}|${text}`;
      line.hidden = !text;
      line.dataset.status = status;
      fill(line, status === "running" ? h("span", { class: "rec-dot", "aria-hidden": "true" }) : null,
        h("span", { class: "rec-text" }, text));
    }

    const asked = active && (info.waiting_for ?? []).includes(myId);
    const mine = rec.answer && rec.answer.recordingId === info?.recording_id ? rec.answer.decision : null;
    const saidNo = mine === "refused" || mine === "withdrawn";
    let view = "none";
    if (rec.stopped) view = "none";
    else if (asked && !saidNo) view = "card";
    else if (asked) view = `said-${mine}`;
    // Counted by a standing consent (a follow-up): not asked, but told why, and able to withdraw.
    else if (active) view = (info.standing ?? []).includes(myId) ? "withdraw-standing" : "withdraw";
    const signature = JSON.stringify([view, doctor && !rec.stopped ? active : null, rec.busy,
      rec.error ? liveErrorMessage(rec.error) : null, getLang(), info?.recording_id ?? null]);
    if (signature === drawnBody) return;
    drawnBody = signature;

    let part = null;
    if (view === "card") {
      part = consentCard(info);
    } else if (view.startsWith("said-")) {
      part = h("div", { class: "rec-note", testid: "rec-note" },
        h("p", { class: "lead" }, t(mine === "withdrawn" ? "rec.withdrawn_note" : "rec.refused_note")),
        button({ testid: "rec-agree", text: t("rec.change_mind"), onclick: () => answer("granted") }));
    } else if (view.startsWith("withdraw")) {
      part = [
        view === "withdraw-standing"
          ? h("p", { class: "lead rec-note", testid: "rec-standing-note" }, t("rec.standing_note"))
          : null,
        h("div", { class: "button-row rec-actions" },
          button({ testid: "rec-withdraw", text: t("rec.withdraw"), onclick: () => answer("withdrawn") })),
      ];
    }
    const doctorPart = doctor && !rec.stopped
      ? (active
        ? button({ testid: "rec-stop", text: t("rec.stop"), onclick: stopRecording })
        : button({ testid: "rec-start", text: t("rec.start"), onclick: requestRecording }))
      : null;
    const focused = body.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
    fill(body,
      part,
      doctorPart ? h("div", { class: "button-row rec-actions" }, doctorPart) : null,
      rec.error ? h("p", { class: "danger-text", testid: "rec-error", role: "alert" },
        liveErrorMessage(rec.error)) : null);
    // A new card: take the reader to it (on a phone the video may fill the screen above it).
    const card = body.querySelector('[data-testid="rec-consent"]');
    if (card && rec.cardFor !== info.recording_id) {
      rec.cardFor = info.recording_id;
      card.querySelector("h2").focus();
    } else if (focused) {
      body.querySelector(`[data-testid="${focused}"]`)?.focus();
    }
  }

  async function run(action) {
    if (rec.busy) return;
    rec.busy = true;
    rec.error = null;
    redraw();
    try {
      await action();
    } catch (err) {
      rec.error = err;
    } finally {
      rec.busy = false;
      redraw();
    }
  }

  function requestRecording() {
    return run(async () => {
      const ack = await request(socket, "record_request", { consult_id: consultId });
      // The room's `recording` event says whom it waits for; it may come before or after this ack.
      if (!REC_ACTIVE.has(rec.info?.status) || rec.info.recording_id !== ack.recording_id) {
        clearTimeout(rec.endedTimer);
        rec.info = { consult_id: consultId, recording_id: ack.recording_id, status: "waiting",
                     waiting_for: [], text_version: ack.text_version, text: ack.text };
      }
    });
  }

  function answer(decision) {
    const info = rec.info;
    if (!info) return undefined;
    return run(async () => {
      await request(socket, "record_consent",
        { consult_id: consultId, decision, text_version: info.text_version });
      rec.answer = { recordingId: info.recording_id, decision };
    });
  }

  function stopRecording() {
    return run(() => request(socket, "record_stop", { consult_id: consultId }));
  }

  socket.on("recording", (payload) => {
    if (payload?.consult_id !== consultId || rec.stopped) return;
    clearTimeout(rec.endedTimer);
    rec.info = payload;
    if (payload.status === "ended") {
      rec.endedTimer = setTimeout(() => {
        if (rec.info === payload) {
          rec.info = null;
          redraw();
        }
      }, REC_ENDED_SHOWN_MS);
    }
    redraw();
  });

  /** The room is over: no more buttons (the server ends the recording with the consult). */
  function stop() {
    rec.stopped = true;
    clearTimeout(rec.endedTimer);
    redraw();
  }

  redraw();
  return { node, redraw, stop };
}
