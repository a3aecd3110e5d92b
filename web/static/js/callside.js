/**
 * What sits beside the video for whoever runs the consult: the resident's record in short
 * (allergies, conditions, last vitals, follow-up plan) and the visit-note form (SOAP, vitals, next
 * visit), saved with PUT /api/consults/{id}/note while the call goes on, so a follow-up is
 * documented during the call. A specialist gets the part of the record the referral shares.
 */

import {
  ApiError, api, errorMessage, facts, fill, formatDate, formatDateTime, formatTime, h, joinList, vitalsFacts,
} from "./app.js";
import { t } from "./i18n.js";

/** The vitals of the note form: API field, label key, unit, integer or decimal. */
const VITALS = [
  ["systolic_mmhg", "vitals.systolic", "mmHg", true],
  ["diastolic_mmhg", "vitals.diastolic", "mmHg", true],
  ["heart_rate_bpm", "vitals.heart_rate", "unit.bpm", true],
  ["glucose_mmol_l", "vitals.glucose", "mmol/L", false],
  ["temperature_c", "vitals.temperature", "°C", false],
  ["spo2_percent", "vitals.spo2", "%", true],
  ["weight_kg", "vitals.weight", "kg", false],
];
/** The note's text fields, in SOAP order. */
const TEXTS = ["subjective", "objective", "assessment", "plan"];

const has = (value) => value !== null && value !== undefined && value !== "";

/**
 * The resident's record in short, read from GET /api/residents/{id}. A refusal (a role that
 * may not read it) leaves the card out quietly; the call does not depend on it.
 */
export function recordSummary(residentId) {
  const node = h("section", { class: "card call-record", testid: "call-record" });
  let record = null;
  let failure = null;

  function section(titleKey, testid, ...content) {
    return h("div", { class: "call-record-part", testid }, h("h3", {}, t(titleKey)), content);
  }

  function draw() {
    if (failure) {
      node.hidden = failure instanceof ApiError && failure.status === 403;
      fill(node, h("h2", {}, t("callside.record")), h("p", { class: "muted" }, errorMessage(failure)));
      return;
    }
    if (!record) {
      fill(node, h("h2", {}, t("callside.record")), h("p", { class: "muted" }, t("common.loading")));
      return;
    }
    const { resident, access } = record;
    const allergies = resident.allergies ?? [];
    const conditions = (record.conditions ?? []).filter((c) => c.active !== false);
    const plans = (record.followup_plans ?? []).filter((p) => p.active !== false);
    const tasks = [...(record.due_tasks ?? [])].sort((a, b) => a.due_date.localeCompare(b.due_date));
    // The referral this consult is about: an open one (requested or accepted).
    const referral = (record.referrals ?? []).find((r) => ["requested", "accepted"].includes(r.status));
    fill(node,
      h("h2", {}, t("callside.record")),
      h("p", { class: allergies.length ? "danger-text" : "muted", testid: "call-allergies" },
        allergies.length ? t("record.allergies", { list: joinList(allergies) }) : t("record.no_allergies")),
      access === "shared" ? h("p", { class: "note" }, t("record.shared")) : null,
      section("record.conditions", "call-conditions",
        conditions.length
          ? h("ul", { class: "call-list" }, conditions.map((c) => h("li", { testid: "call-condition" },
              c.name, c.diagnosed_offline
                ? h("span", { class: "muted" }, ` · ${t("record.offline")} ${formatDate(c.diagnosed_on)}`)
                : h("span", { class: "badge badge-warn" }, t("record.not_offline")))))
          : h("p", { class: "muted" }, t("record.conditions_empty"))),
      access === "shared" && !record.last_vitals ? null
        : section("record.vitals", "call-vitals",
            record.last_vitals ? vitalsFacts(record.last_vitals)
              : h("p", { class: "muted" }, t("record.vitals_empty"))),
      access === "shared" && !plans.length ? null
        : section("record.plans", "call-plans",
            plans.length
              ? h("ul", { class: "call-list" }, plans.map((p) => h("li", {},
                  `${p.title} · ${t("record.every", { days: p.interval_days })}`)))
              : h("p", { class: "muted" }, t("record.plans_empty")),
            tasks.length
              ? h("ul", { class: "call-list" }, tasks.map((task) => h("li", { testid: "call-due-task" },
                  t("callside.due", { title: task.title, date: formatDate(task.due_date) }), " ",
                  task.overdue ? h("span", { class: "badge badge-danger" }, t("workbench.overdue")) : null)))
              : null),
      referral ? section("callside.referral", "call-referral",
        h("p", {}, referral.reason),
        (referral.shared_results ?? []).length
          ? h("ul", { class: "call-list" }, referral.shared_results.map((r) => h("li", {},
              `${r.title}：${r.value}`)))
          : null) : null);
  }

  async function load() {
    draw();
    try {
      record = await api(`/api/residents/${encodeURIComponent(residentId)}`);
      failure = null;
    } catch (err) {
      failure = err;
    }
    draw();
  }

  return { node, load, redraw: draw };
}

/** Plain words for a field error of the note (pydantic's English, or the domain's). */
function fieldMessage(message) {
  const text = String(message ?? "");
  let match = /less than or equal to ([\d.]+)/.exec(text);
  if (match) return t("note.at_most", { n: match[1] });
  match = /greater than or equal to ([\d.]+)/.exec(text);
  if (match) return t("note.at_least", { n: match[1] });
  match = /outside the plausible range ([\d.]+)-([\d.]+)/.exec(text);
  if (match) return t("note.range", { low: match[1], high: match[2] });
  if (/valid integer/.test(text)) return t("note.integer");
  if (/valid number/.test(text)) return t("note.number");
  if (/diastolic .* below systolic/.test(text)) return t("note.diastolic_below");
  if (/after today/.test(text)) return t("note.after_today");
  return text;
}

/**
 * The visit note (SOAP, vitals, next visit date) of consult `consultId`, filled from the note
 * already saved (`consult.note`, `consult.next_visit_on`) and saved with PUT .../note.
 */
export function noteForm(consultId, consult) {
  const saved = consult?.note ?? null;
  const inputs = {};
  const errors = {};
  let savedAt = null;
  let problem = null;
  let busy = false;

  const idFor = (name) => `note-${name}`;
  for (const name of TEXTS) {
    inputs[name] = h("textarea", { id: idFor(name), testid: idFor(name), rows: 2, maxlength: 4000 });
    inputs[name].value = saved?.[name] ?? "";
  }
  for (const [name, , , integer] of VITALS) {
    inputs[name] = h("input", { id: idFor(name), testid: idFor(name), type: "number",
                                inputmode: integer ? "numeric" : "decimal", step: integer ? 1 : 0.1 });
    const value = saved?.vitals?.[name];
    inputs[name].value = has(value) ? String(value) : "";
  }
  inputs.next_visit_on = h("input", { id: idFor("next_visit_on"), testid: idFor("next_visit_on"),
                                      type: "date" });
  inputs.next_visit_on.value = consult?.next_visit_on ?? "";
  for (const key of Object.keys(inputs)) errors[key] = null;
  errors.vitals = null;

  const node = h("section", { class: "card call-note-form", testid: "note" });
  const form = h("form", { class: "form", novalidate: true });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });

  function field(name, labelText, extra = null) {
    const error = errors[name];
    inputs[name].setAttribute("aria-invalid", error ? "true" : "false");
    return h("div", { class: error ? "field field-invalid" : "field" },
      h("label", { for: idFor(name) }, labelText, extra ? h("span", { class: "muted" }, ` (${extra})`) : null),
      inputs[name],
      error ? h("p", { class: "field-error", testid: `error-${name}` }, error) : null);
  }

  function draw() {
    fill(form,
      field("subjective", t("note.subjective")),
      field("objective", t("note.objective")),
      h("fieldset", { class: "call-vitals-fields", testid: "note-vitals" },
        h("legend", {}, t("note.vitals")),
        h("div", { class: "call-vitals-grid" },
          VITALS.map(([name, key, unit]) => field(name, t(key), unit.startsWith("unit.") ? t(unit) : unit))),
        errors.vitals ? h("p", { class: "field-error", testid: "error-vitals" }, errors.vitals) : null),
      field("assessment", t("note.assessment")),
      field("plan", t("note.plan")),
      field("next_visit_on", t("note.next_visit")),
      problem ? h("p", { class: "alert form-alert", role: "alert", testid: "note-error" }, problem) : null,
      h("button", { type: "submit", class: "btn btn-primary btn-block btn-big", testid: "note-save",
                    disabled: busy }, t(busy ? "note.saving" : "note.save")),
      savedAt ? h("p", { class: "call-saved", role: "status", testid: "note-saved" },
        t("note.saved", { time: savedAt })) : null);
    fill(node, h("h2", {}, t("note.heading")), form);
  }

  function body() {
    const number = (value) => (value.trim() === "" ? null : Number(value));
    const vitals = {};
    for (const [name] of VITALS) vitals[name] = number(inputs[name].value);
    const out = { vitals, next_visit_on: inputs.next_visit_on.value || null };
    for (const name of TEXTS) out[name] = inputs[name].value;
    return out;
  }

  async function save() {
    if (busy) return;
    for (const key of Object.keys(errors)) errors[key] = null;
    problem = null;
    // A number the browser could not read (e.g. "12a") reaches us as "": say so, not save it empty.
    for (const [name] of VITALS) {
      if (inputs[name].validity.badInput) errors[name] = t("note.number");
    }
    if (Object.values(errors).some(Boolean)) {
      problem = t("note.check");
      draw();
      return;
    }
    busy = true;
    draw();
    try {
      await api(`/api/consults/${consultId}/note`, { method: "PUT", body: body() });
      savedAt = formatTime(new Date().toISOString());
    } catch (err) {
      savedAt = null;
      const known = [];
      for (const { field: path, message } of err instanceof ApiError ? err.errors : []) {
        const name = String(path ?? "").replace(/^body\./, "").split(".").pop();
        const key = name in errors ? name : (String(path).startsWith("vitals") ? "vitals" : null);
        if (key) {
          errors[key] = fieldMessage(message);
          known.push(key);
        }
      }
      problem = known.length ? t("note.check") : errorMessage(err);
    }
    busy = false;
    draw();
    const first = Object.keys(errors).find((key) => errors[key] && inputs[key]);
    if (first) inputs[first].focus();
  }

  draw();
  return { node, redraw: draw };
}
