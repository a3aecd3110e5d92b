/**
 * The care team's inbox (/inbox): residents waiting to be seen (with how long they have
 * waited, and one button to admit them), alerts raised by messages, the conversations with
 * unread counts (one opens in a panel), the doctor's duty status, and the tag broadcast.
 * Everything live arrives over Socket.IO; the duty switch and broadcasts go over HTTP.
 */

import {
  api, applyI18n, errorMessage, fill, formatDateTime, h, homeFor, sectionError, showError, startPage,
} from "./app.js";
import { conversationView, messageTime, preview } from "./conversation.js";
import { label, onLanguageChange, t } from "./i18n.js";
import { connect, connectionLine, liveErrorMessage, request, whenConnected } from "./live.js";

const DUTY_STATUSES = ["auto", "on_duty", "busy", "off_duty"];
/** Alerts older than this are history (GET /api/alerts has them all), not something to act on. */
const ALERT_WINDOW_MS = 24 * 60 * 60 * 1000;
const CLINICIANS = new Set(["doctor", "nurse"]);

const root = document.getElementById("inbox");

/** "3 分 05 秒" / "3 min 05 s" of a number of seconds. */
function waitedText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  if (hours) return t("queue.waited_hm", { h: hours, m: minutes });
  if (minutes) return t("queue.waited_ms", { m: minutes, s: rest });
  return t("queue.waited_s", { s: s % 60 });
}

/** Tags typed with any of the usual separators, Chinese or not. */
function splitList(text) {
  return text.split(/[,，、;；\s]+/).map((part) => part.trim()).filter(Boolean);
}

/** A labelled input of the broadcast form; the label's words follow the language. */
function field(id, key, input) {
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id, "data-i18n": key }), input);
}

startPage({
  render: async (me) => {
    if (!CLINICIANS.has(me.role)) {
      fill(root, h("p", { class: "note" }, t("inbox.only_team")),
        h("a", { class: "btn btn-secondary", href: homeFor(me.role) }, t("common.back_home")));
      return;
    }
    const chat = connect("/chat");
    const consult = connect("/consult");
    if (!chat || !consult) return;

    const state = {
      conversations: [],
      listError: null,
      openId: null,
      queue: [],
      queueAt: performance.now(),
      queueError: null,
      duty: null,
      dutyError: null,
      alerts: [],
    };
    let view = null;

    const alertsBox = h("section", { class: "card card-alert alerts", testid: "alerts",
                                     role: "alert", hidden: true });
    const dutyBox = h("section", { class: "card duty", testid: "duty" });
    const queueBox = h("section", { class: "card", testid: "queue" });
    const listBox = h("section", { class: "card", testid: "conversations" });
    const panel = h("section", { class: "card panel", testid: "conversation-panel" });
    const broadcastBox = me.role === "doctor" ? broadcastSection() : null;

    fill(root,
      h("h1", { "data-i18n": "inbox.heading" }),
      connectionLine(chat, consult),
      alertsBox,
      dutyBox,
      h("div", { class: "grid grid-2 inbox-grid" },
        h("div", {}, queueBox, listBox),
        panel),
      broadcastBox);
    applyI18n(root);

    // --- waiting queue -----------------------------------------------------------------

    async function admit(entry, button) {
      button.disabled = true;
      try {
        await request(consult, "admit", { consult_id: entry.consult_id });
        location.href = `/consults/${encodeURIComponent(entry.consult_id)}`;
      } catch (err) {
        button.disabled = false;
        state.queueError = err;
        drawQueue();
      }
    }

    function queueRow(entry) {
      const button = h("button", { type: "button", class: "btn btn-primary btn-big", testid: "admit" },
        t("queue.admit"));
      button.addEventListener("click", () => admit(entry, button));
      return h("li", { testid: "queue-entry", "data-consult-id": entry.consult_id },
        h("div", { class: "row-body" },
          h("span", { class: "row-time" }, String(entry.position)),
          h("span", { class: "row-main" },
            h("span", { class: "row-title" }, entry.resident_name),
            h("span", { class: "row-sub" }, label("kind", entry.kind), " · ",
              h("span", { testid: "waited", "data-waited": entry.waited_seconds },
                waitedText(entry.waited_seconds)),
              entry.presence === "reconnecting"
                ? [" ", h("span", { class: "badge badge-warn" }, label("presence", "reconnecting"))]
                : null)),
          button));
    }

    function drawQueue() {
      fill(queueBox,
        h("h2", {}, t("queue.heading"), " ",
          h("span", { class: "count", testid: "queue-count" }, `(${state.queue.length})`)),
        state.queueError ? h("p", { class: "danger-text" }, liveErrorMessage(state.queueError)) : null,
        h("ul", { class: "rows", testid: "queue-list" }, state.queue.map(queueRow)),
        state.queue.length ? null : h("p", { class: "muted" }, t("queue.empty")));
    }

    function tickQueue() {
      const elapsed = (performance.now() - state.queueAt) / 1000;
      for (const span of queueBox.querySelectorAll("[data-waited]")) {
        span.textContent = waitedText(Number(span.dataset.waited) + elapsed);
      }
    }

    function setQueue(queue) {
      state.queue = queue;
      state.queueAt = performance.now();
      drawQueue();
    }

    // --- conversations -----------------------------------------------------------------

    const byActivity = (a, b) => (b.last_message?.id ?? 0) - (a.last_message?.id ?? 0);

    function conversationRow(c) {
      const last = c.last_message;
      return h("li", { testid: "conversation-row", "data-unread": String(c.unread > 0),
                       class: c.unread > 0 ? "unread" : null },
        h("button", { type: "button", class: "conv-row", "aria-current": c.id === state.openId ? "true" : null,
                      onclick: () => openConversation(c) },
          h("span", { class: "row-main" },
            h("span", { class: "row-title" }, c.resident_name,
              c.kind === "consult"
                ? h("span", { class: "badge badge-info" }, t("inbox.consult_chat")) : null),
            h("span", { class: "conv-preview" }, preview(last) || t("inbox.no_messages"))),
          h("span", { class: "conv-side" },
            last ? h("span", { class: "conv-time" }, messageTime(last.created_at)) : null,
            c.unread > 0
              ? h("span", { class: "badge badge-danger", testid: "unread",
                            "aria-label": t("inbox.unread", { count: c.unread }) }, String(c.unread))
              : null)));
    }

    function drawList() {
      fill(listBox,
        h("h2", {}, t("inbox.conversations")),
        state.listError ? sectionError(state.listError) : null,
        h("ul", { class: "rows", testid: "conversation-list" },
          [...state.conversations].sort(byActivity).map(conversationRow)),
        state.conversations.length ? null : h("p", { class: "muted" }, t("inbox.no_conversations")));
    }

    function drawPanel() {
      const open = state.conversations.find((c) => c.id === state.openId);
      if (!open || !view) {
        fill(panel, h("h2", {}, t("inbox.panel")), h("p", { class: "muted" }, t("inbox.pick")));
        return;
      }
      const head = [
        h("h2", { testid: "panel-name" }, open.resident_name),
        h("p", {}, h("a", { href: `/residents/${encodeURIComponent(open.resident_id)}` },
          t("inbox.open_record"))),
      ];
      // Moving the open view out of the page and back would lose its scroll position.
      if (view.node.parentNode === panel) {
        while (panel.firstChild !== view.node) panel.firstChild.remove();
        view.node.before(...head);
      } else {
        fill(panel, head, view.node);
      }
    }

    async function openConversation(c) {
      if (state.openId === c.id && view) return;
      view?.close();
      state.openId = c.id;
      view = conversationView({
        chat, me, conversation: c, cards: true, compact: true,
        onRead: () => {
          // By id: a reconnect may have replaced the list's objects since this one was opened.
          const item = state.conversations.find((x) => x.id === c.id);
          if (item) item.unread = 0;
          drawList();
        },
      });
      drawList();
      drawPanel();
      if (matchMedia("(max-width: 52rem)").matches) panel.scrollIntoView({ block: "start" });
      try {
        await view.sync();
      } catch (err) {
        showError(() => liveErrorMessage(err));
      }
    }

    async function loadConversations() {
      try {
        const { conversations } = await request(chat, "list_conversations", {});
        state.conversations = conversations;
        state.listError = null;
      } catch (err) {
        state.listError = err;
      }
      drawList();
    }

    chat.on("message", (message) => {
      const c = state.conversations.find((item) => item.id === message.conversation_id);
      if (!c) {
        loadConversations(); // a conversation this page has not seen yet
        return;
      }
      if ((c.last_message?.id ?? 0) < message.id) c.last_message = message;
      if (message.sender?.user_id !== me.id && c.id !== state.openId) c.unread += 1;
      drawList();
    });

    // --- alerts ------------------------------------------------------------------------

    async function openForResident(alert) {
      let c = state.conversations.find((item) => item.id === alert.conversation_id)
        ?? state.conversations.find((item) => item.kind === "care_team"
                                              && item.resident_id === alert.resident_id);
      if (!c) {
        try {
          ({ conversation: c } = await request(chat, "open_conversation",
            { resident_id: alert.resident_id }));
          state.conversations.push(c);
        } catch (err) {
          showError(() => liveErrorMessage(err));
          return;
        }
      }
      openConversation(c);
    }

    function alertRow(alert) {
      return h("li", { testid: "alert", "data-kind": alert.kind },
        h("p", { class: "alert-line" },
          h("span", { class: "badge badge-danger" }, label("alert", alert.kind)), " ",
          h("strong", {}, alert.resident_name), " ",
          (alert.findings ?? []).join(t("common.list_sep")), " ",
          h("span", { class: "muted" }, formatDateTime(alert.created_at))),
        h("div", { class: "button-row" },
          h("button", { type: "button", class: "btn btn-primary", testid: "alert-open",
                        onclick: () => openForResident(alert) }, t("alert.open")),
          h("button", { type: "button", class: "btn btn-secondary", testid: "alert-dismiss",
                        onclick: () => {
                          state.alerts = state.alerts.filter((a) => a !== alert);
                          drawAlerts();
                        } }, t("alert.dismiss"))));
    }

    function drawAlerts() {
      alertsBox.hidden = !state.alerts.length;
      fill(alertsBox, h("h2", {}, t("alert.heading")),
        h("ul", { class: "alert-list" }, state.alerts.map(alertRow)));
    }

    chat.on("alert", (alert) => {
      if (state.alerts.some((a) => a.id === alert.id)) return;
      state.alerts.unshift(alert);
      drawAlerts();
    });

    // --- duty --------------------------------------------------------------------------

    async function setDuty(status) {
      try {
        state.duty = await api("/api/me/duty", { method: "PUT", body: { status } });
        state.dutyError = null;
      } catch (err) {
        state.dutyError = err;
      }
      drawDuty();
    }

    function drawDuty() {
      const duty = state.duty;
      const now = duty
        ? h("p", { class: duty.on_duty_now ? "duty-now duty-on" : "duty-now duty-off",
                   testid: "duty-now" },
            t(duty.on_duty_now ? "duty.now_on" : "duty.now_off"),
            !duty.on_duty_now && duty.next_on_duty
              ? ` ${t("duty.next", { when: formatDateTime(duty.next_on_duty) })}` : "")
        : null;
      fill(dutyBox,
        h("h2", {}, t("duty.heading")),
        state.dutyError ? sectionError(state.dutyError) : null,
        duty
          ? h("div", { class: "segmented", role: "group", "aria-label": t("duty.heading") },
              DUTY_STATUSES.map((status) => h("button", {
                type: "button", class: "btn btn-secondary", testid: `duty-${status}`,
                "aria-pressed": String(duty.status === status),
                onclick: () => setDuty(status),
              }, label("duty", status))))
          : null,
        now);
    }

    // --- broadcast ---------------------------------------------------------------------

    function broadcastSection() {
      const tags = h("input", { testid: "bc-tags", autocomplete: "off" });
      const condition = h("input", { testid: "bc-condition", autocomplete: "off" });
      const ageMin = h("input", { testid: "bc-age-min", type: "number", min: 0, max: 130,
                                  inputmode: "numeric" });
      const ageMax = h("input", { testid: "bc-age-max", type: "number", min: 0, max: 130,
                                  inputmode: "numeric" });
      const text = h("textarea", { testid: "bc-text", rows: 3, maxlength: 2000 });
      const result = h("div", { testid: "bc-result", "aria-live": "polite" });
      let sent = null;
      let last = null; // {kind: preview|sent|error, ...}

      const body = (dryRun) => {
        const number = (input) => (input.value === "" ? null : Number(input.value));
        return {
          audience: {
            tags: splitList(tags.value),
            conditions: condition.value.trim() ? [condition.value.trim()] : [],
            age_min: number(ageMin),
            age_max: number(ageMax),
          },
          text: text.value.trim(),
          dry_run: dryRun,
        };
      };
      const drawResult = () => {
        if (!last) return fill(result);
        if (last.kind === "need_text") {
          return fill(result, h("p", { class: "danger-text" }, t("broadcast.need_text")));
        }
        if (last.kind === "error") {
          return fill(result, h("p", { class: "danger-text" }, errorMessage(last.err)));
        }
        if (last.kind === "preview") {
          return fill(result, h("p", { class: "lead", testid: "bc-preview" },
            t("broadcast.preview_count", { count: last.out.recipients })));
        }
        return fill(result, h("div", { class: "note", testid: "bc-sent" },
          h("p", {}, t("broadcast.sent", { count: sent.recipients })),
          h("p", { testid: "bc-stats" },
            t("broadcast.stats", { delivered: sent.delivered, read: sent.read })),
          h("button", { type: "button", class: "btn btn-secondary", testid: "bc-refresh",
                        onclick: refresh }, t("broadcast.refresh"))));
      };
      async function refresh() {
        try {
          sent = await api(`/api/broadcasts/${sent.id}`);
          last = { kind: "sent" };
        } catch (err) {
          last = { kind: "error", err };
        }
        drawResult();
      }
      async function post(dryRun) {
        if (!dryRun && !text.value.trim()) {
          last = { kind: "need_text" };
          drawResult();
          text.focus();
          return;
        }
        try {
          const out = await api("/api/broadcasts", { method: "POST", body: body(dryRun) });
          if (dryRun) last = { kind: "preview", out };
          else {
            sent = out;
            last = { kind: "sent" };
          }
        } catch (err) {
          last = { kind: "error", err };
        }
        drawResult();
      }
      onLanguageChange(drawResult);
      return h("section", { class: "card", testid: "broadcast" },
        h("h2", { "data-i18n": "broadcast.heading" }),
        h("p", { class: "muted", "data-i18n": "broadcast.intro" }),
        h("div", { class: "form broadcast-form" },
          field("bc-tags", "broadcast.tags", tags),
          field("bc-condition", "broadcast.condition", condition),
          h("div", { class: "field-row age-row" },
            field("bc-age-min", "broadcast.age_min", ageMin),
            field("bc-age-max", "broadcast.age_max", ageMax)),
          field("bc-text", "broadcast.text", text),
          h("div", { class: "button-row" },
            h("button", { type: "button", class: "btn btn-secondary btn-big", testid: "bc-dry-run",
                          "data-i18n": "broadcast.preview", onclick: () => post(true) }),
            h("button", { type: "button", class: "btn btn-primary btn-big", testid: "bc-send",
                          "data-i18n": "broadcast.send", onclick: () => post(false) }))),
        result);
    }

    // --- start -------------------------------------------------------------------------

    const drawAll = () => {
      drawAlerts();
      drawDuty();
      drawQueue();
      drawList();
      drawPanel();
    };
    drawAll();
    onLanguageChange(drawAll);
    setInterval(tickQueue, 1000);

    consult.on("queue", (event) => {
      // One event per team; a member of several teams keeps the others' entries.
      const others = state.queue.filter((entry) => entry.team_id !== undefined
                                                   && entry.team_id !== event.team_id);
      setQueue([...others, ...event.queue.map((entry) => ({ ...entry, team_id: event.team_id }))]);
    });
    whenConnected(consult, async () => {
      try {
        const { queue } = await request(consult, "watch_queue", {});
        state.queueError = null;
        setQueue(queue);
      } catch (err) {
        state.queueError = err;
        drawQueue();
      }
    });
    whenConnected(chat, async () => {
      await loadConversations();
      if (view) view.sync().catch(() => {});
    });

    try {
      state.duty = await api("/api/me/duty");
    } catch (err) {
      state.dutyError = err;
    }
    drawDuty();
    try {
      const { items } = await api("/api/alerts");
      const since = Date.now() - ALERT_WINDOW_MS;
      const recent = items.filter((a) => !a.acknowledged_at && Date.parse(a.created_at) >= since);
      for (const a of recent) {
        if (!state.alerts.some((seen) => seen.id === a.id)) state.alerts.push(a);
      }
    } catch {
      // Live alerts still arrive; the list of earlier ones is a convenience.
    }
    drawAlerts();
  },
});
