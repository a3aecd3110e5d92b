/**
 * The doctor's workbench: follow-ups due (overdue first), today's consults, and a search
 * over the residents the user may see. Compliance and admin users land here too; a part
 * their role may not see says so instead of failing the page.
 */

import {
  api, consultKindMode, fill, formatDate, formatTime, h, joinList, overdueBadge, recordHref, row,
  rowList, sectionError, sexAndAge, startPage, statusBadge, tagList,
} from "./app.js";
import { onLanguageChange, t } from "./i18n.js";

const PAGE_SIZE = 20;

/** What the page shows, kept so that a language switch redraws without asking the server. */
const state = {
  workbench: null,
  workbenchError: null,
  search: { ran: false, q: "", items: [], total: 0, page: 0, error: null },
};

/** The search in flight; a new search aborts it so a slow old answer cannot win. */
let searchAbort = null;

function dueRow(task) {
  return row({
    testid: "due-task",
    href: recordHref(task.resident_id),
    overdue: task.overdue,
    title: task.resident_name,
    lines: [
      task.title,
      [t("workbench.due_on", { date: formatDate(task.due_date) }), " ", overdueBadge(task.overdue)],
    ],
  });
}

function consultRow(consult) {
  return row({
    testid: "consult-row",
    href: recordHref(consult.resident_id),
    time: formatTime(consult.scheduled_at) || "—",
    title: consult.resident_name,
    lines: [[consultKindMode(consult), " ", statusBadge("consult_status", consult.status)]],
  });
}

function residentRow(resident) {
  return row({
    testid: "resident-row",
    href: recordHref(resident.id),
    title: [resident.name, statusBadge("contract_status", resident.contract_status ?? "none")],
    lines: [
      [sexAndAge(resident), resident.phone ? ` · ${resident.phone}` : null],
      resident.id_number_masked,
      joinList(resident.conditions ?? []),
      tagList(resident.tags),
    ],
  });
}

function drawWorkbench() {
  const due = document.getElementById("due");
  const consults = document.getElementById("consults");
  const dueCount = document.getElementById("due-count");
  const consultsCount = document.getElementById("consults-count");
  if (state.workbenchError) {
    fill(due, sectionError(state.workbenchError));
    fill(consults, sectionError(state.workbenchError));
    return;
  }
  if (!state.workbench) return;
  const { today, due_tasks: dueTasks = [], consults_today: consultsToday = [] } = state.workbench;

  const todayLine = document.getElementById("today");
  todayLine.textContent = t("workbench.today_is", { date: formatDate(today) });
  todayLine.hidden = !today;

  // Overdue first, then the soonest due: the order a doctor should work through them.
  const tasks = [...dueTasks].sort((a, b) =>
    Number(Boolean(b.overdue)) - Number(Boolean(a.overdue))
    || a.due_date.localeCompare(b.due_date));
  fill(due, rowList({ testid: "due-list", items: tasks, drawRow: dueRow,
                      empty: "workbench.due_empty" }));
  dueCount.textContent = `(${tasks.length})`;

  // Unscheduled consults (walk-in messages) go last.
  const byTime = [...consultsToday].sort((a, b) =>
    (a.scheduled_at ?? "\uffff").localeCompare(b.scheduled_at ?? "\uffff"));
  fill(consults, rowList({ testid: "consult-list", items: byTime, drawRow: consultRow,
                            empty: "workbench.consults_empty" }));
  consultsCount.textContent = `(${byTime.length})`;
}

function drawSearch() {
  const box = document.getElementById("search-results");
  const s = state.search;
  if (!s.ran) {
    fill(box);
    return;
  }
  if (s.error && !s.items.length) {
    fill(box, sectionError(s.error));
    return;
  }
  fill(box,
    s.items.length ? h("p", { class: "muted", testid: "search-total" },
                       t("search.total", { total: s.total })) : null,
    rowList({ testid: "search-results", items: s.items, drawRow: residentRow,
              empty: "search.empty" }),
    s.error ? sectionError(s.error) : null,
    s.items.length < s.total
      ? h("button", { type: "button", class: "btn btn-secondary btn-block", testid: "search-more",
                      onclick: () => runSearch(s.q, s.page + 1) }, t("search.more"))
      : null,
  );
}

/** Ask for one page of residents matching `q`; page 1 replaces the list, later pages add to it. */
async function runSearch(q, page = 1) {
  searchAbort?.abort();
  searchAbort = new AbortController();
  const s = state.search;
  const shownBefore = page === 1 ? 0 : s.items.length;
  try {
    const result = await api("/api/residents", {
      query: { q, page, page_size: PAGE_SIZE },
      signal: searchAbort.signal,
    });
    s.items = page === 1 ? result.items : [...s.items, ...result.items];
    s.total = result.total ?? s.items.length;
    s.page = result.page ?? page;
    s.error = null;
  } catch (err) {
    if (err.name === "AbortError") return;
    if (page === 1) s.items = [];
    s.error = err;
  }
  s.q = q;
  s.ran = true;
  drawSearch();
  if (shownBefore) {
    // "Show more" was pressed and has been redrawn away: move focus to the first new row.
    document.querySelectorAll('[data-testid="resident-row"] a')[shownBefore]?.focus();
  }
}

function setUpSearch() {
  const form = document.getElementById("search-form");
  const input = document.getElementById("search-input");
  // Search on submit only, not on each keystroke: every search is a look at residents'
  // data that the server may audit, and half-typed ID numbers would fill that log.
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = input.value.trim();
    // Keep the query in the address so Back from a record returns to the same results.
    const url = new URL(location.href);
    if (q) url.searchParams.set("q", q);
    else url.searchParams.delete("q");
    history.replaceState(null, "", url);
    runSearch(q);
  });
  const q = new URLSearchParams(location.search).get("q");
  if (q) {
    input.value = q;
    runSearch(q);
  }
}

/** The care team's live page (messages, waiting queue): a big way there under the heading. */
function addInboxLink(me) {
  if (me.role !== "doctor" && me.role !== "nurse") return;
  const link = h("a", { class: "btn btn-primary btn-big inbox-link", href: "/inbox",
                        testid: "inbox-link", "data-i18n": "workbench.inbox" });
  link.textContent = t("workbench.inbox");
  document.querySelector("main h1")?.after(link);
}

startPage({
  home: "/workbench",
  render: async (me) => {
    addInboxLink(me);
    setUpSearch();
    onLanguageChange(() => {
      drawWorkbench();
      drawSearch();
    });
    try {
      state.workbench = await api("/api/workbench");
    } catch (err) {
      state.workbenchError = err;
    }
    drawWorkbench();
  },
});
