/**
 * The home page of residents and of the family members acting for them. A resident sees
 * the few things they ask about: the next follow-up, booked consults, their doctor's team,
 * and one big button to their record. A proxy sees one big button per person they act for.
 */

import {
  api, card, consultKindMode, fill, formatDate, formatDateTime, h, joinList, rowList, showError, startPage,
  statusBadge,
} from "./app.js";
import { label, onLanguageChange, t } from "./i18n.js";

/** Consults a resident is still waiting for. */
const UPCOMING = new Set(["scheduled", "waiting", "in_progress"]);

let me = null;
/** The resident's own record, or null (not loaded, not linked, or refused). */
let record = null;

const recordHref = (residentId) => `/residents/${encodeURIComponent(residentId)}`;

function upcomingRow(consult) {
  return h("li", { testid: "upcoming-consult" },
    h("div", { class: "row-body" },
      h("span", { class: "row-main" },
        h("span", { class: "row-title" }, formatDateTime(consult.scheduled_at) || "—"),
        h("span", { class: "row-sub" }, consultKindMode(consult), " ",
          statusBadge("consult_status", consult.status)))));
}

function drawResident() {
  const name = record?.resident?.name ?? me.display_name ?? me.username;
  const parts = [h("h1", {}, t("home.greeting", { name }))];
  if (me.resident_id === null || me.resident_id === undefined) {
    parts.push(h("p", { class: "note" }, t("home.no_resident")));
    return parts;
  }

  const dueTasks = (record?.due_tasks ?? [])
    .filter((task) => task.status === undefined || task.status === "due")
    .sort((a, b) => a.due_date.localeCompare(b.due_date));
  const next = dueTasks[0];
  parts.push(card("home.next_followup", "next-followup",
    next
      ? [h("p", { class: "next-date", testid: "next-followup-date" }, formatDate(next.due_date),
           next.overdue ? h("span", { class: "badge badge-danger" }, t("workbench.overdue")) : null),
         h("p", {}, next.title)]
      : h("p", { class: "muted" }, t("home.no_followup"))));

  const upcoming = (record?.consults ?? [])
    .filter((consult) => UPCOMING.has(consult.status))
    .sort((a, b) => (a.scheduled_at ?? "").localeCompare(b.scheduled_at ?? ""));
  parts.push(card("home.upcoming", "upcoming",
    rowList({ testid: "upcoming-list", items: upcoming, row: upcomingRow, empty: "home.no_upcoming" })));

  // The contract names the team that binds the resident; /api/me's teams are the fallback
  // when the record could not be read.
  const contract = record?.contract ?? null;
  const teamName = contract?.team_name ?? me.teams?.[0]?.name ?? null;
  parts.push(card("home.team", "team",
    teamName
      ? h("p", { class: "lead" }, h("span", { testid: "team-name" }, teamName), " ",
          contract ? statusBadge("contract_status", contract.status) : null)
      : h("p", { class: "muted" }, t("home.no_team"))));

  parts.push(h("a", { class: "btn btn-primary btn-block btn-big", testid: "open-record",
                      href: recordHref(me.resident_id) }, t("home.open_record")));
  return parts;
}

function proxyChoice(person) {
  const scopes = joinList((person.scopes ?? []).map((scope) => label("scope", scope)));
  return h("a", { class: "big-choice", href: recordHref(person.resident_id), testid: "proxy-resident" },
    h("span", { class: "row-title" }, person.name),
    person.relation
      ? h("span", { class: "row-sub" },
          t("home.proxy_relation", { name: person.name, relation: label("relation", person.relation) }))
      : null,
    scopes ? h("span", { class: "row-sub" }, t("home.proxy_scopes", { scopes })) : null);
}

function drawProxy() {
  const people = me.proxy_for ?? [];
  return [
    h("h1", {}, t("home.greeting", { name: me.display_name || me.username })),
    h("h2", {}, t("home.proxy_heading")),
    people.length
      ? [h("p", {}, t("home.proxy_intro")),
         h("nav", { testid: "proxy-list", "aria-label": t("home.proxy_heading") }, people.map(proxyChoice))]
      : h("p", { class: "note" }, t("home.proxy_empty")),
  ];
}

function draw() {
  fill(document.getElementById("home"), me.role === "proxy" ? drawProxy() : drawResident());
}

startPage({
  home: "/home",
  render: async (user) => {
    me = user;
    onLanguageChange(draw);
    if (me.role !== "proxy" && me.resident_id !== null && me.resident_id !== undefined) {
      try {
        record = await api(`/api/residents/${me.resident_id}`);
      } catch (err) {
        // Still draw what /api/me knows (name, team) under the error.
        showError(err);
      }
    }
    draw();
  },
});
