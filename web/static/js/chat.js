/**
 * The resident's conversation with their family-doctor team (/chat), or a family member's on
 * the resident's behalf (/chat?resident=<id>). Above it, a consult the resident can check in
 * to now, with one big button to the waiting room.
 */

import {
  api, consultKindMode, fill, formatDateTime, h, showError, startPage, statusBadge,
} from "./app.js";
import { conversationView } from "./conversation.js";
import { onLanguageChange, t } from "./i18n.js";
import { connect, connectionLine, liveErrorMessage, request, whenConnected } from "./live.js";

/** Consults the resident may still walk into. */
const OPEN = new Set(["scheduled", "waiting", "in_progress"]);
/** How often the consult banner is looked up again (a doctor may open one at any time). */
const CONSULT_REFRESH_MS = 60_000;

const root = document.getElementById("chat");

/** The person this chat is about: {resident_id, name}, or null when the proxy must choose. */
function whoFor(me) {
  if (me.role !== "proxy") {
    return me.resident_id ? { resident_id: me.resident_id, name: me.display_name } : null;
  }
  const people = (me.proxy_for ?? []).filter((p) => (p.scopes ?? []).includes("message"));
  const wanted = Number(new URLSearchParams(location.search).get("resident"));
  return people.find((p) => p.resident_id === wanted) ?? (people.length === 1 ? people[0] : null);
}

function drawChoice(me) {
  const people = (me.proxy_for ?? []).filter((p) => (p.scopes ?? []).includes("message"));
  fill(root,
    h("h1", {}, t("chat.choose")),
    people.length
      ? h("nav", { testid: "chat-choice", "aria-label": t("chat.choose") },
          people.map((p) => h("a", { class: "big-choice", testid: "chat-for",
                                     href: `/chat?resident=${encodeURIComponent(p.resident_id)}` },
            h("span", { class: "row-title" }, p.name))))
      : h("p", { class: "note" }, t("home.proxy_empty")));
}

function consultBanner(consult) {
  if (!consult) return null;
  return h("section", { class: "card consult-banner", testid: "consult-banner" },
    h("h2", {}, t("chat.consult_heading")),
    h("p", { class: "lead" },
      [formatDateTime(consult.scheduled_at), consultKindMode(consult)].filter(Boolean).join(" · "),
      " ", statusBadge("consult_status", consult.status)),
    h("a", { class: "btn btn-primary btn-block btn-big", testid: "check-in",
             href: `/consults/${encodeURIComponent(consult.id)}` },
      t(consult.status === "in_progress" ? "chat.back_to_consult" : "chat.check_in")));
}

startPage({
  render: async (me) => {
    const person = whoFor(me);
    if (!person) {
      if (me.role === "proxy") {
        drawChoice(me);
        onLanguageChange(() => drawChoice(me));
      } else {
        fill(root, h("p", { class: "note" }, t("home.no_resident")));
      }
      return;
    }

    const chat = connect("/chat");
    if (!chat) return;
    const heading = h("h1", {});
    const banner = h("div", { testid: "consult-area" });
    const body = h("div", { class: "chat-body" });
    let consult = null;
    let view = null;

    const drawTexts = () => {
      heading.textContent = me.role === "proxy"
        ? t("chat.heading_proxy", { name: person.name })
        : t("chat.heading");
      fill(banner, consultBanner(consult));
    };
    fill(root, heading, banner, connectionLine(chat), body);
    drawTexts();
    onLanguageChange(drawTexts);

    const loadConsult = async () => {
      try {
        const { items } = await api("/api/consults", { query: { resident_id: person.resident_id } });
        consult = items
          .filter((c) => OPEN.has(c.status))
          .sort((a, b) => (a.scheduled_at ?? "").localeCompare(b.scheduled_at ?? ""))[0] ?? null;
      } catch {
        consult = null; // the chat still works without the banner
      }
      drawTexts();
    };
    setInterval(loadConsult, CONSULT_REFRESH_MS);

    whenConnected(chat, async () => {
      loadConsult();
      try {
        const { conversation } = await request(chat, "open_conversation",
          { resident_id: person.resident_id });
        if (!view) {
          view = conversationView({ chat, me, conversation });
          fill(body, view.node);
        }
        await view.sync();
        showError(null);
      } catch (err) {
        showError(() => liveErrorMessage(err));
      }
    });
  },
});
