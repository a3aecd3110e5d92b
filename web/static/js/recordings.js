/**
 * The recordings to review (/review): filters kept in the URL query (so a filtered list can
 * be bookmarked, reloaded or sent to a colleague) and one table row per recording with its
 * consent, hold and completeness badges. A compliance officer sees every recording; a
 * resident or family member sees only their own (the API decides).
 */

import { ApiError, api, fill, formatDateTime, h, showError, startPage } from "./app.js";
import { label, onLanguageChange, t } from "./i18n.js";
import { applyReviewI18n, clock, rlabel, rt, secondsBetween } from "./review-strings.js";

/** The query parameters the API filters by, in the form's order. */
const FILTERS = ["doctor_id", "resident_id", "date_from", "date_to", "kind", "consent", "held",
                 "complete"];
const ENUMS = {
  kind: ["follow_up", "advice", "referral"],
  consent: ["all_granted", "refused"],
  held: ["true", "false"],
  complete: ["true", "false"],
};
const LIMIT = 500;
/** Names of doctors and residents seen in earlier lists, for the filter menus (with the lookup's). */
const PEOPLE_KEY = "jiayi.review.people";

let items = null;
let failure = null;
/** Everyone the recordings name (GET /api/recordings/people, compliance only), or null. */
let lookup = null;
/** The part of a name the lookup was narrowed by ("" for everyone). */
let nameQuery = "";

function currentFilters() {
  const params = new URLSearchParams(location.search);
  const out = {};
  for (const name of FILTERS) {
    const value = params.get(name);
    if (value) out[name] = value;
  }
  return out;
}

/** The names earlier lists of this tab showed. */
function storedPeople() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(PEOPLE_KEY) ?? "{}");
    return { doctors: stored.doctors ?? {}, residents: stored.residents ?? {} };
  } catch {
    return { doctors: {}, residents: {} };
  }
}

/** The names the menus offer: a name search's findings (drawForm adds what the URL chose), or the
 * names earlier lists showed together with the server's lookup. */
function loadPeople() {
  const people = nameQuery && lookup ? { doctors: {}, residents: {} } : storedPeople();
  for (const doctor of lookup?.doctors ?? []) people.doctors[doctor.id] = doctor.name;
  for (const resident of lookup?.residents ?? []) people.residents[resident.id] = resident.name;
  return people;
}

function rememberPeople(list) {
  const people = storedPeople();
  for (const item of list) {
    people.doctors[item.requested_by] = item.requested_by_name || `#${item.requested_by}`;
    people.residents[item.resident_id] = item.resident_name || `#${item.resident_id}`;
  }
  try {
    sessionStorage.setItem(PEOPLE_KEY, JSON.stringify(people));
  } catch {
    // Not remembered: the menus then only offer what this list shows.
  }
}

/** Ask the server for the people the recordings name, narrowed to `q` (part of a name) if given. */
async function findPeople(q) {
  nameQuery = q;
  try {
    lookup = await api("/api/recordings/people", q ? { query: { q } } : {});
  } catch {
    lookup = null; // the menus then offer the names the lists show, as before
  }
}

/** Under the name search: the menus were cut short, or what the search found. */
function drawPeopleNote() {
  const note = document.getElementById("people-note");
  if (lookup?.truncated) {
    note.textContent = rt("review.people_truncated", { n: lookup.limit });
  } else if (lookup && nameQuery) {
    const found = { doctors: lookup.doctors.length, residents: lookup.residents.length };
    note.textContent = found.doctors || found.residents
      ? rt("review.people_found", found) : rt("review.people_none", { q: nameQuery });
  } else {
    note.textContent = "";
  }
}

function option(value, text, selected) {
  return h("option", { value, selected: value === selected }, text);
}

/** Fill the filter form's menus (in the reader's language) and set every field from the URL. */
function drawForm() {
  const form = document.getElementById("filters");
  const chosen = currentFilters();
  const people = loadPeople();
  const menu = (name, entries) => {
    const select = form.elements[name];
    const known = new Set(entries.map(([value]) => value));
    // A value from the URL that no list has shown yet stays selectable (and selected).
    if (chosen[name] && !known.has(chosen[name])) entries.push([chosen[name], `#${chosen[name]}`]);
    fill(select, option("", rt("review.any"), chosen[name] ?? ""),
      entries.map(([value, text]) => option(value, text, chosen[name] ?? "")));
  };
  const byName = (map) => Object.entries(map).sort((a, b) => a[1].localeCompare(b[1], "zh"));
  menu("doctor_id", byName(people.doctors));
  menu("resident_id", byName(people.residents));
  menu("kind", ENUMS.kind.map((v) => [v, label("kind", v)]));
  menu("consent", ENUMS.consent.map((v) => [v, rt(`consent.${v}`)]));
  menu("held", ENUMS.held.map((v) => [v, rt(`held.${v}`)]));
  menu("complete", ENUMS.complete.map((v) => [v, rt(`complete.${v}`)]));
  form.elements.date_from.value = chosen.date_from ?? "";
  form.elements.date_to.value = chosen.date_to ?? "";
}

function badge(tone, text, attrs = {}) {
  return h("span", { class: `badge badge-${tone}`, ...attrs }, text);
}

function stateBadges(item) {
  return h("span", { class: "badges" },
    item.destroyed_at ? badge("muted", rt("review.destroyed"), { testid: "destroyed-badge" }) : null,
    badge(item.consent === "refused" ? "danger" : "ok", rlabel("consent", item.consent),
          { testid: "consent-badge", "data-consent": item.consent }),
    badge(item.held ? "warn" : "muted", rt(`held.${item.held}`),
          { testid: "hold-badge", "data-held": String(item.held) }),
    badge(item.complete ? "ok" : "warn", rt(`complete.${item.complete}`),
          { testid: "complete-badge", "data-complete": String(item.complete) }));
}

function tableRow(item, compliance) {
  const duration = secondsBetween(item.started_at, item.ended_at);
  return h("tr", { testid: "recording-row", "data-recording-id": item.id },
    h("td", {}, h("span", { class: "strong" }, item.resident_name || `#${item.resident_id}`)),
    h("td", {}, label("kind", item.consult_kind)),
    h("td", {}, item.requested_by_name || `#${item.requested_by}`),
    h("td", { class: "nowrap" }, formatDateTime(item.started_at) || "—"),
    h("td", { class: "nowrap" }, formatDateTime(item.ended_at) || "—"),
    h("td", { class: "nowrap num" }, duration === null ? "—" : clock(duration)),
    h("td", {}, stateBadges(item)),
    h("td", {},
      h("a", { class: "btn btn-secondary btn-small", href: `/review/${item.id}`,
               testid: "open-recording" },
        rt(compliance ? "review.open" : "review.open_own"))));
}

function drawList(me) {
  const results = document.getElementById("results");
  const count = document.getElementById("count");
  if (failure) {
    count.textContent = "";
    const forbidden = failure instanceof ApiError && failure.status === 403;
    showError(forbidden ? () => rt("review.forbidden") : failure);
    fill(results);
    return;
  }
  showError(null);
  if (!items) return;
  count.textContent = items.length >= LIMIT
    ? rt("review.count_max", { n: items.length })
    : rt("review.count", { n: items.length });
  if (!items.length) {
    const filtered = Object.keys(currentFilters()).length > 0;
    fill(results, h("p", { class: "muted empty", testid: "empty" },
      rt(filtered ? "review.empty" : "review.empty_none")));
    return;
  }
  const compliance = me.role === "compliance";
  const cols = ["col_resident", "col_kind", "col_doctor", "col_started", "col_ended",
                "col_duration", "col_state", "col_open"];
  fill(results,
    h("div", { class: "table-wrap" },
      h("table", { class: "review-table", testid: "recording-table" },
        h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, rt(`review.${c}`))))),
        h("tbody", {}, items.map((item) => tableRow(item, compliance))))));
}

async function load(me) {
  items = null;
  failure = null;
  fill(document.getElementById("results"), h("p", { class: "loading" }, t("common.loading")));
  try {
    items = (await api("/api/recordings", { query: currentFilters() })).items;
    rememberPeople(items);
  } catch (err) {
    failure = err;
  }
  drawForm();
  drawList(me);
}

startPage({
  render: async (me) => {
    applyReviewI18n();
    const form = document.getElementById("filters");
    if (me.role === "compliance") {
      await findPeople("");
      const find = document.getElementById("find-people");
      const input = document.getElementById("f-find");
      find.hidden = false;
      const search = async () => {
        await findPeople(input.value.trim());
        drawForm();
        drawPeopleNote();
      };
      document.getElementById("find-button").addEventListener("click", search);
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault(); // a search, not the list's filters
          search();
        }
      });
      input.addEventListener("search", () => {
        if (!input.value) search(); // the field's own clear button: everyone again
      });
    }
    drawForm();
    drawPeopleNote();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const query = new URLSearchParams();
      for (const name of FILTERS) {
        const value = String(form.elements[name].value ?? "").trim();
        if (value) query.set(name, value);
      }
      const search = query.toString();
      history.pushState(null, "", search ? `/review?${search}` : "/review");
      load(me);
    });
    window.addEventListener("popstate", () => load(me));
    onLanguageChange(() => {
      applyReviewI18n();
      drawForm();
      drawPeopleNote();
      drawList(me);
    });
    await load(me);
  },
});
