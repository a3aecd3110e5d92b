/**
 * The home page of residents and of the family members acting for them. A resident sees
 * the few things they ask about: the next follow-up, booked consults, their doctor's team,
 * and one big button to their record. A proxy sees one big button per person they act for.
 */

import {
  api, card, consultKindMode, fill, formatDate, formatDateTime, h, joinList, overdueBadge,
  recordHref, row, rowList, showError, startPage, statusBadge,
} from "./app.js";
import { label, onLanguageChange, t } from "./i18n.js";
import { createStandingConsent } from "./standing.js";

/** Consults a resident is still waiting for. */
const UPCOMING = new Set(["scheduled", "waiting", "in_progress"]);

let me = null;
/** The resident's own record, or null (not loaded, not linked, or refused). */
let record = null;
/** Standing-consent cards by resident id (the resident's own, or one per person a proxy consents for). */
const standing = new Map();

const hasResident = (user) => user.resident_id !== null && user.resident_id !== undefined;

function upcomingRow(consult) {
  return row({
    testid: "upcoming-consult",
    // The row opens the waiting room (which says so plainly when it is too early).
    href: `/consults/${encodeURIComponent(consult.id)}`,
    title: formatDateTime(consult.scheduled_at) || "—",
    lines: [[consultKindMode(consult), " ", statusBadge("consult_status", consult.status)]],
  });
}

function nextFollowUp() {
  const next = (record?.due_tasks ?? [])
    .filter((task) => task.status === undefined || task.status === "due")
    .sort((a, b) => a.due_date.localeCompare(b.due_date))[0];
  if (!next) return h("p", { class: "muted" }, t("home.no_followup"));
  return [
    h("p", { class: "next-date", testid: "next-followup-date" },
      formatDate(next.due_date), overdueBadge(next.overdue)),
    h("p", {}, next.title),
  ];
}

function upcomingConsults() {
  const upcoming = (record?.consults ?? [])
    .filter((consult) => UPCOMING.has(consult.status))
    .sort((a, b) => (a.scheduled_at ?? "").localeCompare(b.scheduled_at ?? ""));
  return rowList({ testid: "upcoming-list", items: upcoming, drawRow: upcomingRow,
                   empty: "home.no_upcoming" });
}

function team() {
  // The contract names the team that binds the resident; /api/me's teams are the fallback
  // when the record could not be read.
  const contract = record?.contract ?? null;
  const name = contract?.team_name ?? me.teams?.[0]?.name ?? null;
  if (!name) return h("p", { class: "muted" }, t("home.no_team"));
  return h("p", { class: "lead" }, h("span", { testid: "team-name" }, name), " ",
    contract ? statusBadge("contract_status", contract.status) : null);
}

function drawResident() {
  const name = record?.resident?.name ?? (me.display_name || me.username);
  const greeting = h("h1", {}, t("home.greeting", { name }));
  if (!hasResident(me)) return [greeting, h("p", { class: "note" }, t("home.no_resident"))];
  return [
    greeting,
    card("home.next_followup", "next-followup", nextFollowUp()),
    card("home.upcoming", "upcoming", upcomingConsults()),
    card("home.team", "team", team()),
    h("a", { class: "btn btn-primary btn-block btn-big", testid: "open-chat", href: "/chat" },
      t("home.open_chat")),
    h("a", { class: "btn btn-secondary btn-block btn-big home-record", testid: "open-record",
             href: recordHref(me.resident_id) }, t("home.open_record")),
    standing.get(me.resident_id)?.node ?? null,
  ];
}

function proxyChoice(person) {
  const scopes = joinList((person.scopes ?? []).map((scope) => label("scope", scope)));
  const relation = label("relation", person.relation);
  const choice = h("a", { class: "big-choice", href: recordHref(person.resident_id),
                          testid: "proxy-resident" },
    h("span", { class: "row-title" }, person.name),
    relation
      ? h("span", { class: "row-sub" }, t("home.proxy_relation", { name: person.name, relation }))
      : null,
    scopes ? h("span", { class: "row-sub" }, t("home.proxy_scopes", { scopes })) : null);
  const chat = (person.scopes ?? []).includes("message")
    ? h("a", { class: "btn btn-primary btn-block btn-big proxy-chat", testid: "proxy-chat",
               href: `/chat?resident=${encodeURIComponent(person.resident_id)}` },
        t("home.proxy_chat", { name: person.name }))
    : null;
  return [choice, chat, standing.get(person.resident_id)?.node ?? null];
}

function drawProxy() {
  const people = me.proxy_for ?? [];
  return [
    h("h1", {}, t("home.greeting", { name: me.display_name || me.username })),
    h("h2", {}, t("home.proxy_heading")),
    people.length
      ? [h("p", {}, t("home.proxy_intro")),
         h("nav", { testid: "proxy-list", "aria-label": t("home.proxy_heading") },
           people.map(proxyChoice))]
      : h("p", { class: "note" }, t("home.proxy_empty")),
  ];
}

function draw() {
  fill(document.getElementById("home"), me.role === "proxy" ? drawProxy() : drawResident());
  for (const part of standing.values()) part.redraw();
}

/** The standing-consent cards this user may use: their own, or each person they consent for. */
function standingCards() {
  if (me.role === "proxy") {
    for (const person of me.proxy_for ?? []) {
      if ((person.scopes ?? []).includes("consent")) {
        standing.set(person.resident_id,
          createStandingConsent({ residentId: person.resident_id, name: person.name }));
      }
    }
  } else if (hasResident(me)) {
    standing.set(me.resident_id, createStandingConsent({ residentId: me.resident_id }));
  }
  return Promise.all([...standing.values()].map((part) => part.load()));
}

startPage({
  home: "/home",
  render: async (user) => {
    me = user;
    onLanguageChange(draw);
    const cards = standingCards();
    if (me.role !== "proxy" && hasResident(me)) {
      try {
        record = await api(`/api/residents/${me.resident_id}`);
      } catch (err) {
        // Still draw what /api/me knows (name, team) under the error.
        showError(err);
      }
    }
    await cards;
    draw();
  },
});
