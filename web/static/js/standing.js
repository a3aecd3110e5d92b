/**
 * The standing-consent card: a resident (or a family member acting for them) gives or withdraws
 * consent to recording their follow-up video visits, on their contract, in plain words. The words
 * shown are the server's versioned text (GET /api/residents/{id}/standing-consent); the version
 * shown is sent back with the answer, so the record names exactly what was read.
 */

import { api, errorMessage, formatDate, h, fill } from "./app.js";
import { getLang, t } from "./i18n.js";

/**
 * A card for resident `residentId`; `name` is set when a family member acts for them (the
 * buttons then say for whom). Returns {node, load, redraw}: `load()` fetches and draws,
 * `redraw()` after a language switch.
 */
export function createStandingConsent({ residentId, name = null }) {
  const part = {
    state: null,
    busy: false,
    error: null,
    /** What the last tap did: "given" | "withdrawn" | null (said once, under the buttons). */
    done: null,
  };
  const node = h("section", { class: "card standing", testid: "standing-consent",
                              "data-resident": String(residentId) });

  function statusLine(state) {
    const current = state.current;
    if (!current) {
      return h("p", { class: "standing-status", testid: "standing-status", "data-in-force": "false" },
        h("span", { class: "badge badge-muted" }, t("standing.not_given")), " ",
        t("standing.not_given_detail"));
    }
    const by = current.given_by_role === "proxy"
      ? t("standing.given_by", { name: current.given_by_name }) : null;
    return h("p", { class: "standing-status", testid: "standing-status", "data-in-force": "true" },
      h("span", { class: "badge badge-ok" }, t("standing.in_force")), " ",
      t("standing.since", { date: formatDate(current.given_at) }),
      by ? [" · ", by] : null);
  }

  function button() {
    const state = part.state;
    if (!state.may_change) return null;
    if (!state.current && state.contract_id === null) {
      return h("p", { class: "note", testid: "standing-no-contract" }, t("standing.no_contract"));
    }
    const give = !state.current;
    const key = give ? "standing.give" : "standing.withdraw";
    return h("button", {
      type: "button",
      class: `btn ${give ? "btn-primary" : "btn-secondary"} btn-block btn-big standing-button`,
      testid: give ? "standing-give" : "standing-withdraw",
      disabled: part.busy,
      onclick: give ? giveIt : withdrawIt,
    }, name ? t(`${key}_for`, { name }) : t(key));
  }

  function draw() {
    const state = part.state;
    if (!state) return;
    const text = state.text?.[getLang()] ?? state.text?.zh ?? "";
    fill(node,
      h("h2", {}, name ? t("standing.title_for", { name }) : t("standing.title")),
      statusLine(state),
      h("p", { class: "standing-text", testid: "standing-text", lang: getLang() === "zh" ? "zh-CN" : "en" },
        text),
      button(),
      h("div", { role: "status", "aria-live": "polite" },
        part.done ? h("p", { class: "note", testid: "standing-done" }, t(`standing.done_${part.done}`))
          : null),
      part.error ? h("p", { class: "alert", role: "alert", testid: "standing-error" },
        errorMessage(part.error)) : null);
  }

  async function run(action, done) {
    if (part.busy) return;
    part.busy = true;
    part.error = null;
    part.done = null;
    draw();
    try {
      part.state = await action();
      part.done = done;
    } catch (err) {
      part.error = err;
    } finally {
      part.busy = false;
      draw();
      node.querySelector(".standing-button")?.focus();
    }
  }

  const url = `/api/residents/${encodeURIComponent(residentId)}/standing-consent`;

  function giveIt() {
    return run(() => api(url, { method: "POST", body: { text_version: part.state.text_version } }),
      "given");
  }

  function withdrawIt() {
    return run(() => api(`${url}/withdraw`, { method: "POST" }), "withdrawn");
  }

  async function load() {
    try {
      part.state = await api(url);
      draw();
    } catch (err) {
      // A 403 (a family member without the scope): no card at all rather than an error.
      if (err?.status === 403) {
        node.hidden = true;
        return;
      }
      fill(node, h("h2", {}, name ? t("standing.title_for", { name }) : t("standing.title")),
        h("p", { class: "alert", role: "alert", testid: "standing-error" }, errorMessage(err)));
    }
  }

  return { node, load, redraw: draw };
}
