/**
 * One resident's record (/residents/{id}): who they are, allergies, conditions with their
 * offline diagnosis, contract, follow-up plans and due tasks, recent consults, last vitals.
 * A refusal (403) shows only the refusal: nothing of the record is drawn.
 */

import {
  ApiError, api, card, consultKindMode, facts, fill, formatDate, formatDateTime, h, homeFor, joinList,
  overdueBadge, row, rowList, sexAndAge, showError, startPage, statusBadge, tagList, vitalsFacts,
} from "./app.js";
import { label, onLanguageChange, t } from "./i18n.js";

/** The record as the API sent it, kept for redrawing in another language. */
let record = null;

function residentIdFromPath() {
  const match = /^\/residents\/(\d+)\/?$/.exec(location.pathname);
  return match ? match[1] : null;
}

/** A <dl> of [labelKey, value] pairs; pairs without a value are left out. */
function drawHead(resident, contract, access) {
  const allergies = resident.allergies ?? [];
  return h("section", { class: "card record-head" },
    h("h1", { testid: "record-name" }, resident.name),
    h("p", { class: "lead" }, sexAndAge(resident),
      // In a shared view a missing contract was withheld, not absent: claim no "not signed".
      contract || access !== "shared"
        ? [" ", statusBadge("contract_status", contract?.status ?? "none")]
        : null),
    h("p", { class: allergies.length ? "danger-text" : "muted", testid: "allergies" },
      allergies.length
        ? t("record.allergies", { list: joinList(allergies) })
        : t("record.no_allergies")),
    access === "shared"
      ? h("p", { class: "note", testid: "shared-note" }, t("record.shared"))
      : null);
}

function taskRow(task) {
  const stillDue = task.status === undefined || task.status === "due";
  return row({
    testid: "due-task",
    overdue: task.overdue,
    title: task.title,
    lines: [[
      t("workbench.due_on", { date: formatDate(task.due_date) }), " ",
      overdueBadge(task.overdue),
      stillDue
        ? null
        : h("span", { class: "badge badge-muted" }, label("task_status", task.status)),
    ]],
  });
}

function conditionRow(condition) {
  const offline = condition.diagnosed_offline;
  return row({
    testid: "condition",
    title: [
      condition.name,
      condition.code ? h("span", { class: "muted" }, ` (${condition.code})`) : null,
      condition.active === false
        ? h("span", { class: "badge badge-muted" }, t("record.inactive"))
        : null,
    ],
    lines: [
      offline
        ? h("span", { class: "badge badge-ok", testid: "diagnosed-offline" },
            [t("record.offline"), formatDate(condition.diagnosed_on)].filter(Boolean).join(" "))
        : h("span", { class: "badge badge-warn", testid: "not-diagnosed-offline" },
            t("record.not_offline")),
      offline && condition.diagnosed_at
        ? t("record.offline_at", { place: condition.diagnosed_at })
        : null,
    ],
  });
}

function planRow(plan) {
  return row({
    testid: "followup-plan",
    title: [
      plan.title,
      plan.active === false
        ? h("span", { class: "badge badge-muted" }, t("record.plan_stopped"))
        : null,
    ],
    lines: [[
      t("record.every", { days: plan.interval_days }),
      plan.start_date
        ? [" · ", h("span", { class: "nowrap" },
                    t("record.plan_from", { date: formatDate(plan.start_date) }))]
        : null,
    ]],
  });
}

function consultRow(consult) {
  return row({
    testid: "consult-row",
    title: formatDateTime(consult.scheduled_at ?? consult.started_at) || "—",
    lines: [
      [consultKindMode(consult), " ", statusBadge("consult_status", consult.status)],
      consult.reason ? t("record.reason", { reason: consult.reason }) : null,
    ],
  });
}

function drawVitals(vitals) {
  if (!vitals) return h("p", { class: "muted" }, t("record.vitals_empty"));
  return vitalsFacts(vitals);
}

/** Whether the resident's standing consent to recording follow-ups is in force (the care team reads it). */
function standingBadge(standing) {
  return standing
    ? h("span", { class: "badge badge-ok", testid: "record-standing", "data-in-force": "true" },
        t("record.standing_yes", { date: formatDate(standing.given_at) }))
    : h("span", { class: "badge badge-muted", testid: "record-standing", "data-in-force": "false" },
        t("record.standing_no"));
}

function drawContract(contract, standing) {
  if (!contract) return h("p", { class: "muted" }, t("record.contract_none"));
  return facts([
    ["field.team", contract.team_name],
    ["field.package", label("package", contract.package)],
    ["field.period", `${formatDate(contract.start_date)} — ${formatDate(contract.end_date)}`],
    ["field.status", statusBadge("contract_status", contract.status)],
    ["record.standing", standingBadge(standing)],
  ]);
}

function draw() {
  if (!record) return;
  const { resident, contract = null, access } = record;
  const plans = record.followup_plans ?? [];
  const conditions = record.conditions ?? [];
  const tasks = [...(record.due_tasks ?? [])].sort((a, b) => a.due_date.localeCompare(b.due_date));
  // Most recent first.
  const when = (c) => c.started_at ?? c.scheduled_at ?? "";
  const consults = [...(record.consults ?? [])].sort((a, b) => when(b).localeCompare(when(a)));
  // A button-sized link: on a phone, one tap calls the resident.
  const phone = resident.phone
    ? h("a", { class: "btn btn-secondary", href: `tel:${resident.phone}` }, resident.phone)
    : null;
  // A shared view (a specialist's) leaves out what was not shared: an empty part there
  // means "not shared", so it is not drawn at all rather than claiming "none".
  const shown = (hasContent) => access !== "shared" || hasContent;

  const left = [
    card("record.details", "details", facts([
      ["field.birth_date", formatDate(resident.birth_date)],
      ["field.id_number", resident.id_number_masked],
      ["field.phone", phone],
      ["field.address", resident.address],
      ["field.tags", tagList(resident.tags)],
    ])),
    shown(conditions.length)
      ? card("record.conditions", "conditions",
          rowList({ testid: "condition-list", items: conditions, drawRow: conditionRow,
                    empty: "record.conditions_empty" }))
      : null,
    shown(record.last_vitals)
      ? card("record.vitals", "vitals", drawVitals(record.last_vitals))
      : null,
  ].filter(Boolean);
  const right = [
    shown(contract) ? card("record.contract", "contract",
        drawContract(contract, record.standing_consent ?? null)) : null,
    shown(plans.length)
      ? card("record.plans", "followup-plans",
          rowList({ testid: "plan-list", items: plans, drawRow: planRow,
                    empty: "record.plans_empty" }))
      : null,
    shown(consults.length)
      ? card("record.consults", "consults",
          rowList({ testid: "consult-list", items: consults, drawRow: consultRow,
                    empty: "record.consults_empty" }))
      : null,
  ].filter(Boolean);

  fill(document.getElementById("record"),
    drawHead(resident, contract, access),
    shown(tasks.length)
      ? h("section", { class: tasks.some((task) => task.overdue) ? "card card-alert" : "card",
                       testid: "due-tasks" },
          h("h2", {}, t("record.tasks")),
          rowList({ testid: "due-task-list", items: tasks, drawRow: taskRow,
                    empty: "record.tasks_empty" }))
      : null,
    // Two columns on a desktop only when both have something: else one full-width column.
    h("div", { class: right.length ? "grid grid-2" : "grid" },
      h("div", {}, left),
      h("div", {}, right)),
  );
  document.getElementById("record").hidden = false;
}

/** After a refusal or a missing record, only a way back home. */
function drawWayBack(me) {
  fill(document.getElementById("record"),
    h("a", { class: "btn btn-secondary", href: homeFor(me.role), testid: "back-home" },
      t("common.back_home")));
  document.getElementById("record").hidden = false;
}

startPage({
  render: async (me) => {
    const id = residentIdFromPath();
    let failure = id ? null : () => t("record.not_found");
    if (id) {
      try {
        record = await api(`/api/residents/${id}`);
      } catch (err) {
        const status = err instanceof ApiError ? err.status : null;
        if (status === 403) failure = () => t("record.forbidden");
        else if (status === 404) failure = () => t("record.not_found");
        else failure = err;
      }
    }
    if (failure) {
      showError(failure);
      drawWayBack(me);
      onLanguageChange(() => drawWayBack(me));
      return;
    }
    onLanguageChange(draw);
    draw();
  },
});
