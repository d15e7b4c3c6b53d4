// The parcel panel: renders the `planning-report` process output (api_config/processes/planning_report.py).
import { config, landUse, layerById, provinceLabel } from "./config.js";
import { fmtDate, fmtNumber, fmtPercent, lang, pick, t } from "./i18n.js";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null) node.append(c);
  return node;
}

/** The plan zones' identifier field (the plan layer's key in the catalogue). */
export function zoneKey() {
  return layerById(config.planLayer)?.key?.[0] || "maVung";
}

function codeName(code) {
  const c = landUse[code];
  return c ? `${code} — ${pick(c.name)}` : code || t("report.unknown");
}

function swatch(code, colour) {
  const s = el("span", { class: "swatch", "aria-hidden": "true" });
  s.style.background = colour || landUse[code]?.colour || "#ddd";
  return s;
}

function table(caption, head, rows, numeric) {
  const thead = el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { scope: "col", class: numeric.includes(i) ? "num" : null, text: h }))));
  const tbody = el("tbody", {}, rows.map((r) => el("tr", { class: r.className },
    r.cells.map((c, i) => el("td", { class: numeric.includes(i) ? "num" : null, "data-label": head[i] }, c)))));
  // where the columns do not fit (a phone, the desktop panel), each row becomes a block of
  // "label: value" lines (site.css, container query) instead of a sideways scroll
  return el("div", { class: "table-wrap" },
    el("table", { class: head.length > 4 ? "wide" : "narrow" }, el("caption", { text: caption }), thead, tbody));
}

function useCell(code, colour, extra) {
  return el("span", {}, swatch(code, colour), " ", codeName(code), extra || null);
}

function decisionText(v) {
  if (!v) return "—";
  return t("report.decisionText", { number: v.decision || "—", date: fmtDate(v.decisionDate), authority: v.authority || "—" });
}

/** Parcel identification line: commune name from the commune list the page loaded. */
function communeName(maXa, communes) {
  return communes.get(maXa) || maXa;
}

/**
 * Render the report. `ctx`: {communes: Map, versions: [...], selected, changes, permalink,
 * onVersion(id), onPrint(), changedZones: Set of zone ids}.
 */
export function renderReport(section, report, ctx) {
  section.replaceChildren();
  const p = report.parcel;
  const key = config.layers.find((l) => l.id === config.parcelLayer)?.key || [];
  const planField = config.planField;
  if (p) {
    section.append(el("h2", { id: "report-title", text: t("report.title", { thua: p[key[2]], to: p[key[1]] }) }));
    section.append(el("p", { class: "sub", text: `${communeName(p[key[0]], ctx.communes)} (${p[key[0]]}) · ${provinceLabel(lang)}` }));
  } else {
    section.append(el("h2", { id: "report-title", text: report.title }));
  }
  const facts = el("dl", { class: "facts" });
  const fact = (label, value) => facts.append(el("dt", { text: label }), el("dd", {}, value));
  if (p) {
    fact(t("report.area"), `${fmtNumber(p.dienTich ?? report.subject?.areaM2, 1)} m²`);
    if (p.dienTichPhapLy != null) fact(t("report.legalArea"), `${fmtNumber(p.dienTichPhapLy, 1)} m²`);
    fact(t("report.currentUse"), useCell(p.loaiDat, p.colour));
  }
  section.append(facts);

  const cur = report.currentLandUse;
  if (cur && cur.items?.length > 1) {
    section.append(table(cur.title, [t("report.use"), "m²", t("report.share")],
      cur.items.map((i) => ({ cells: [useCell(i.code, i.colour), fmtNumber(i.areaM2, 1), fmtPercent(i.percent)] })), [1, 2]));
  }

  const plan = report.plannedLandUse;
  if (plan) {
    const zones = plan.zones || [];
    const rows = zones.map((z) => {
      const changed = ctx.changedZones?.has(z.zone?.[zoneKey()]);
      const tag = changed ? el("span", { class: "tag", text: t("report.changed") }) : null;
      return { className: changed ? "changed" : null,
        cells: [z.zone?.[zoneKey()] || "—", useCell(z.zone?.[planField], z.colour, tag ? [" ", tag] : null),
          fmtNumber(z.areaM2, 1), fmtPercent(z.percent)] };
    });
    section.append(table(`${t("report.planned")} — ${plan.title}`, [t("report.zone"), t("report.use"), "m²", t("report.share")], rows, [2, 3]));
    section.append(versionBox(plan, ctx));
  }

  const red = report.redLines;
  if (red) {
    const has = red.areaM2 > 0;
    const roads = (red.roads || []).map((r) => r.road).filter(Boolean);
    const road = roads.length ? ` (${roads.join(", ")})` : "";
    section.append(el("p", { class: has ? "redline" : "redline none", "data-redline-m2": String(red.areaM2 || 0),
      text: has ? t("report.redline", { area: fmtNumber(red.areaM2, 1), pct: fmtPercent(red.percent), road })
        : t("report.noRedline") }));
    const details = (red.roads || []).filter((r) => r.width != null || r.note);
    if (has && details.length) {
      section.append(el("ul", { class: "road-list", id: "red-roads" }, details.map((r) => el("li", {},
        el("strong", { text: r.road || t("report.road") }),
        r.width != null ? ` — ${t("report.roadWidth", { width: fmtNumber(r.width, 1) })}` : null,
        r.note ? el("span", { class: "road-note", text: ` — ${r.note}` }) : null))));
    }
  }

  const cons = report.construction;
  if (cons && cons.plots?.length) {
    const rows = cons.plots.map((c) => {
      const pl = c.plot || {};
      const storeys = pl.tangCaoMin != null || pl.tangCaoMax != null ? `${pl.tangCaoMin ?? "—"}–${pl.tangCaoMax ?? "—"}` : "—";
      return { cells: [pl.kyHieuO || pl.maDoiTuong || "—", useCell(pl.chucNang, c.colour), fmtNumber(c.areaM2, 1),
        pl.matDoXayDung != null ? fmtPercent(pl.matDoXayDung, 0) : "—", storeys,
        pl.heSoSuDungDat != null ? fmtNumber(pl.heSoSuDungDat, 1) : "—",
        pl.khoangLui != null ? `${fmtNumber(pl.khoangLui, 1)} m` : "—"] };
    });
    section.append(table(`${t("report.construction")} — ${cons.title}`,
      [t("report.plot"), t("report.function"), "m²", t("report.coverage"), t("report.storeys"), t("report.far"), t("report.setback")],
      rows, [2, 3, 4, 5, 6]));
    const v = (cons.versions || []).find((x) => x.inForce) || cons.versions?.[0];
    if (v) section.append(el("p", { class: "hint", text: `${t("report.decision")}: ${decisionText(v)}` }));
  } else if (cons) {
    section.append(el("p", { class: "hint", text: t("report.noConstruction") }));
  }

  const dates = Object.values(report.dataDates || {}).filter(Boolean).sort();
  if (dates.length) {
    section.append(el("p", { class: "hint", id: "data-date", text: `${t("report.dataDate")}: ${fmtDate(dates[dates.length - 1])}` }));
  }
  const sources = sourceList(report);
  if (sources) section.append(sources);
  if (ctx.permalink) section.append(printFoot(report, ctx.permalink));
  const actions = el("div", { class: "actions" });
  const print = el("button", { type: "button", id: "print-report", text: t("report.print") });
  print.addEventListener("click", ctx.onPrint);
  const copy = el("button", { type: "button", id: "copy-link", text: t("report.copy") });
  copy.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(ctx.permalink); ctx.announce(t("report.copied")); } catch (e) { /* no clipboard */ }
  });
  actions.append(print, copy);
  section.append(actions);
  if (ctx.permalink) {
    section.append(el("p", { class: "permalink no-print" }, `${t("report.permalink")}: `,
      el("a", { href: ctx.permalink, id: "permalink", text: ctx.permalink })));
  }
  section.append(el("p", { class: "disclaimer", text: report.disclaimer || "" }));
}

/** Each section's source: the layer, the date of its source survey or plan, and when it was published. */
function sourceList(report) {
  const sections = [report.currentLandUse, report.plannedLandUse, report.construction, report.redLines]
    .filter((s) => s && (s.sourceDate || s.dataDate));
  if (!sections.length) return null;
  return el("div", { class: "sources", id: "report-sources" },
    el("p", { class: "hint", text: `${t("report.sources")}:` }),
    el("ul", { class: "hint" }, sections.map((s) => el("li", { "data-layer": s.layer, text: [
      s.title,
      s.sourceDate ? t("report.sourceDate", { date: fmtDate(s.sourceDate) }) : null,
      s.dataDate ? t("report.publishedOn", { date: fmtDate(s.dataDate) }) : null,
    ].filter(Boolean).join(" — ") }))));
}

/** A plan version as people name it: "Điều chỉnh Quy hoạch … — QĐ 2468/QĐ-UBND ngày 22/9/2025". */
export function versionName(v) {
  if (!v) return "—";
  const title = v.title ? pick(v.title) : v.id;
  const adjusted = v.adjustment ? t("version.adjusted", { title }) : title;
  const name = v.draft ? t("version.draftOf", { name: adjusted }) : adjusted;
  return v.decision ? `${name} — ${t("version.decision", { number: v.decision, date: fmtDate(v.decisionDate) })}` : name;
}

/** The printed page's foot: a legend of what the map shows, and the permalink as text and QR code. */
function printFoot(report, permalink) {
  const codes = new Map();
  const add = (code, colour) => { if (code && !codes.has(code)) codes.set(code, colour || landUse[code]?.colour); };
  add(report.parcel?.loaiDat, report.parcel?.colour);
  for (const z of report.plannedLandUse?.zones || []) add(z.zone?.[config.planField], z.colour);
  for (const c of report.construction?.plots || []) add(c.plot?.chucNang, c.colour);
  const legend = el("ul", { class: "legend-list print-legend", id: "print-legend" },
    el("li", {}, el("span", { class: "swatch legend-parcel", "aria-hidden": "true" }), t("legend.parcel")),
    report.redLines?.areaM2 > 0 ? el("li", {}, el("span", { class: "swatch legend-redline", "aria-hidden": "true" }), t("legend.redline")) : null,
    [...codes].map(([code, colour]) => el("li", {}, swatch(code, colour), codeName(code))));
  const qr = el("img", { class: "qr", id: "print-qr", width: "96", height: "96", alt: t("report.qr"),
    src: `/qr.svg?url=${encodeURIComponent(permalink)}` });
  return el("div", { class: "print-only print-foot" },
    el("div", {}, el("strong", { text: t("legend.title") }), legend),
    el("div", { class: "print-link" }, qr,
      el("p", { class: "permalink", text: t("report.printedOn", { date: fmtDate(new Date().toISOString()), url: permalink }) })));
}

function versionBox(plan, ctx) {
  const box = el("div", { class: "version-box" });
  const used = (plan.versions || [])[0];
  const all = ctx.versions || [];
  const byId = (id) => all.find((v) => v.id === id);
  const selected = byId(ctx.selected);
  const current = all.find((v) => v.current);
  if (selected?.draft) {
    box.append(el("p", { class: "stamp", id: "draft-stamp", role: "note", text: t("report.draftNote") }));
  } else if (selected && current && !selected.current) {
    box.append(el("p", { class: "stamp", id: "superseded-stamp", role: "note",
      text: t("report.supersededBy", { name: versionName(current) }) }));
  }
  if (all.length > 1) {
    const select = el("select", { id: "plan-version" });
    for (const v of all) {
      const status = v.current ? "report.current" : v.draft ? "report.draft" : "report.superseded";
      const label = `${versionName(v)} (${t(status)})`;
      select.append(el("option", { value: v.id, text: label, selected: v.id === ctx.selected }));
    }
    select.addEventListener("change", () => ctx.onVersion(select.value));
    box.append(el("div", { class: "field" }, el("label", { for: "plan-version", text: t("report.version") }), select));
  }
  const facts = el("dl", {});
  const shown = byId(used?.versionId) || selected;
  facts.append(el("dt", { text: t("report.plan") }), el("dd", { id: "plan-name",
    text: shown ? versionName(shown) : used?.versionId || ctx.selected || "—" }));
  facts.append(el("dt", { text: t("report.decision") }), el("dd", { text: decisionText(used) }));
  box.append(facts);
  const docs = used?.documents || [];
  if (docs.length) {
    box.append(el("div", { class: "documents", id: "plan-documents" }, el("strong", { text: t("report.documents") }),
      el("ul", {}, docs.map((d) => el("li", {}, el("a", { href: d.href, download: d.name, text: d.name }),
        ` (${(d.mediaType.split("/")[1] || d.mediaType).toUpperCase()}, ${fmtNumber(d.sizeBytes / 1024, 1)} kB)`)))));
  }
  if (ctx.changes) box.append(changesBox(ctx.changes, byId(ctx.changes.other)));
  return box;
}

function changesBox(changes, other) {
  const box = el("div", { class: "changes", id: "plan-changes" });
  box.append(el("strong", { text: t("report.changesTitle", { other: other ? versionName(other) : changes.other }) }));
  if (!changes.lines.length) {
    box.append(el("p", { text: t("report.noChanges") }));
    return box;
  }
  box.append(el("ul", {}, changes.lines.map((c) => el("li", {
    text: t("report.changeLine", { area: fmtNumber(c.area, 1), from: codeName(c.from), to: codeName(c.to) }) }))));
  return box;
}

/**
 * What changed for this parcel between two reports of the plan: area moved from one
 * planned code to another (greedy pairing of the per-code area differences), and the
 * zones of `shown` that the other version does not have with the same use.
 */
export function comparePlans(shown, other) {
  const field = config.planField;
  const byCode = (r) => {
    const m = new Map();
    for (const z of r.plannedLandUse?.zones || []) {
      const code = z.zone?.[field];
      m.set(code, (m.get(code) || 0) + (z.areaM2 || 0));
    }
    return m;
  };
  const a = byCode(other);
  const b = byCode(shown);
  const codes = new Set([...a.keys(), ...b.keys()]);
  const lost = [];
  const gained = [];
  for (const c of codes) {
    const d = (b.get(c) || 0) - (a.get(c) || 0);
    if (d > 0.5) gained.push({ code: c, area: d });
    if (d < -0.5) lost.push({ code: c, area: -d });
  }
  const lines = [];
  for (const g of gained) {
    for (const l of lost) {
      const area = Math.min(g.area, l.area);
      if (area <= 0.5) continue;
      lines.push({ from: l.code, to: g.code, area });
      g.area -= area;
      l.area -= area;
    }
  }
  // a zone "changed" for this parcel when the other version does not give it the same
  // use over the same part of the parcel (new zone, other use, or area moved away)
  const zoneArea = (r) => {
    const m = new Map();
    for (const z of r.plannedLandUse?.zones || []) {
      const k = `${z.zone?.[zoneKey()]}|${z.zone?.[field]}`;
      m.set(k, (m.get(k) || 0) + (z.areaM2 || 0));
    }
    return m;
  };
  const before = zoneArea(other);
  const changedZones = new Set();
  for (const [k, area] of zoneArea(shown)) {
    if (Math.abs(area - (before.get(k) || 0)) > 0.5) changedZones.add(k.split("|")[0]);
  }
  return { lines, changedZones };
}
