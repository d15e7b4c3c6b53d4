// Public consultation on a draft plan: the comment form during the period, the count per
// zone after it. Comments go to bando's /comments endpoint with the page's signed token.
import { fmtDate, fmtNumber, t } from "./i18n.js";

let periods = [];

export async function loadConsultations() {
  try {
    const r = await fetch("/comments/consultations", { credentials: "same-origin" });
    if (r.ok) periods = (await r.json()).consultations || [];
  } catch (e) { /* the report works without it */ }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null) continue;
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null) node.append(c);
  return node;
}

async function send(body) {
  const tok = await fetch("/comments/token", { credentials: "same-origin" }).then((r) => r.json());
  const r = await fetch("/comments/", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Bando-Token": tok.token },
    body: JSON.stringify(body),
  });
  return r.status;
}

/** The consultation box for the plan version shown, or null. `where`: {point: [lon, lat], parcel, zones}. */
export function consultBox(layer, version, where) {
  const period = periods.find((p) => p.layer === layer && p.versionId === version);
  if (!period) return null;
  const box = el("section", { class: "consult", id: "consult", "aria-labelledby": "consult-title" });
  box.append(el("h3", { id: "consult-title", text: t("consult.title") }));
  if (!period.open) {
    const counts = period.commentsPerZone || {};
    const lines = (where.zones || []).filter((z) => counts[z] != null)
      .map((z) => el("li", { text: t("consult.count", { zone: z, n: fmtNumber(counts[z]) }) }));
    box.append(el("p", { text: t("consult.closed", { date: fmtDate(period.closesAt) }) }));
    box.append(lines.length ? el("ul", { id: "consult-counts" }, lines) : el("p", { text: t("consult.none") }));
    return box;
  }
  box.append(el("p", { text: t("consult.open", { date: fmtDate(period.closesAt) }) }));
  const form = el("form", { id: "consult-form", novalidate: "" },
    el("div", { class: "field" }, el("label", { for: "consult-text", text: t("consult.text") }),
      el("textarea", { id: "consult-text", rows: "4", maxlength: "2000", required: "" })),
    el("div", { class: "field" }, el("label", { for: "consult-name", text: t("consult.name") }),
      el("input", { id: "consult-name", maxlength: "100", autocomplete: "name" })),
    el("div", { class: "field" }, el("label", { for: "consult-contact", text: t("consult.contact") }),
      el("input", { id: "consult-contact", maxlength: "200", autocomplete: "email" })),
    el("p", { class: "hint", text: t("consult.private") }),
    el("button", { type: "submit", class: "primary", text: t("consult.send") }),
    el("p", { id: "consult-message", class: "message", role: "status" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = form.querySelector("#consult-text").value.trim();
    const message = form.querySelector("#consult-message");
    if (!text) { message.textContent = t("consult.empty"); return; }
    const status = await send({ layer, version, text, point: where.point, parcel: where.parcel || null,
      name: form.querySelector("#consult-name").value, contact: form.querySelector("#consult-contact").value })
      .catch(() => 0);
    message.textContent = t(status === 201 ? "consult.thanks" : status === 429 ? "consult.tooMany" : "consult.failed");
    if (status === 201) form.querySelector("#consult-text").value = "";
  });
  box.append(form);
  return box;
}
