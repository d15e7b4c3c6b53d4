// The citizens' planning-disclosure site: find a parcel (by key, by click, by coordinates),
// show its planning report, switch plan versions, link to it and print it.
import { ApiError, cqlString, execute, items } from "./api.js";
import { config, landUse, layerById, provinceLabel } from "./config.js";
import { bindSwitch, lang, onLangChange, pick, t } from "./i18n.js";
import { addVectorLayers, buildLayerSwitcher, createMap, fitToData, legendExtras, renderLegend, scheduleLegend, trackIdle } from "./map.js";
import { consultBox, loadConsultations } from "./consult.js";
import { bindPlaceSearch } from "./places.js";
import { comparePlans, renderReport, zoneKey } from "./report.js";

const L = window.L;
const REPORT = "planning-report";
const $ = (id) => document.getElementById(id);
const parcelLayer = layerById(config.parcelLayer);
const [KEY_XA, KEY_TO, KEY_THUA] = parcelLayer?.key || ["maXa", "soHieuToBanDo", "soThuTuThua"];
const fieldOf = (name) => parcelLayer?.fields.find((f) => f.name === name) || {};

const state = {
  query: null, // {kind: "parcel", xa, to, thua} | {kind: "point", lon, lat} | {kind: "coords", ...}
  version: null, // plan version shown; null = the one in force
  versions: [], // [{id, validFrom, validTo, current, draft}]
  communes: new Map(),
  report: null,
  changes: null,
  changedZones: new Set(),
};

bindSwitch();
const map = createMap("map");
const layers = addVectorLayers(map);
trackIdle(map);
const highlight = L.layerGroup({ pane: "highlight" }).addTo(map);
const searchHits = L.layerGroup({ pane: "highlight" }).addTo(map); // a road or zone found by name
const versionPlan = L.layerGroup().addTo(map); // an older plan version around the parcel (tiles show the one in force)
const searchMessage = $("search-message");

legendExtras.push(() => {
  if (!state.report) return null;
  const ul = document.createElement("ul");
  ul.className = "legend-list";
  const item = (cls, text) => {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = `swatch ${cls}`;
    sw.setAttribute("aria-hidden", "true");
    const label = document.createElement("span");
    label.textContent = text;
    li.append(sw, label);
    return li;
  };
  ul.append(item("legend-parcel", t("legend.parcel")));
  if (state.report.redLines?.areaM2 > 0) ul.append(item("legend-redline", t("legend.redline")));
  return ul;
});

function announce(text) {
  $("status").textContent = text;
}

function showMessage(text, kind = "") {
  searchMessage.textContent = text;
  searchMessage.className = `message ${kind}`;
}

// -- communes and versions, read from the OGC API ------------------------------------

async function loadCommunes() {
  const layer = layerById(config.communeLayer);
  if (!layer) return;
  const key = layer.key[0];
  const nameField = layer.fields.find((f) => f.type === "text" && f.name !== key && !f.values)?.name;
  const kindField = layer.fields.find((f) => f.values && f.values.length)?.name;
  const fc = await items(layer.id, { limit: 1000, skipGeometry: "true", sortby: nameField || key });
  const select = $("xa");
  for (const f of fc.features) {
    const p = f.properties;
    const label = [kindField ? p[kindField] : null, nameField ? p[nameField] : p[key]].filter(Boolean).join(" ");
    state.communes.set(p[key], label);
    const opt = document.createElement("option");
    opt.value = p[key];
    opt.textContent = `${label} (${p[key]})`;
    select.append(opt);
  }
}

/** Every plan version, newest first: one small request per version (each excludes those found). */
async function loadVersions() {
  if (!config.planLayer) return;
  const found = [];
  const plan = layerById(config.planLayer);
  const has = (name) => plan.fields.some((f) => f.name === name);
  const extra = ["soQuyetDinh", "ngayQuyetDinh"].filter(has);
  for (let i = 0; i < 12; i += 1) {
    const filter = found.length ? `version_id NOT IN (${found.map((v) => cqlString(v.id)).join(", ")})` : "version_id IS NOT NULL";
    const fc = await items(config.planLayer, { limit: 1, skipGeometry: "true", sortby: "-valid_from",
      properties: ["version_id", "valid_from", "valid_to", ...extra].join(","), filter });
    const f = fc.features[0];
    if (!f) break;
    const p = f.properties;
    // a draft is stored with an empty validity interval (valid_from = valid_to): on view, never in force
    const draft = p.valid_to != null && p.valid_to === p.valid_from;
    found.push({ id: p.version_id, validFrom: p.valid_from, validTo: p.valid_to, current: p.valid_to == null, draft,
      decision: p.soQuyetDinh, decisionDate: p.ngayQuyetDinh, title: plan.title });
  }
  found.forEach((v, i) => { v.adjustment = i < found.length - 1; }); // newest first: all but the oldest adjust it
  state.versions = found;
}

// -- validation ----------------------------------------------------------------------

function setError(input, message) {
  const err = $(`err-${input.id}`);
  if (err) err.textContent = message || "";
  if (message) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
  return !message;
}

function parseInteger(input, field) {
  const text = input.value.trim();
  const min = field.min ?? 1;
  const max = field.max ?? 999999;
  const ok = /^\d+$/.test(text) && Number(text) >= min && Number(text) <= max;
  setError(input, ok ? "" : t("val.integer", { min, max }));
  return ok ? Number(text) : null;
}

function parseDecimal(input) {
  let text = input.value.trim().replace(/\s+/g, "");
  if (/^-?\d+,\d+$/.test(text)) text = text.replace(",", ".");
  const ok = /^-?\d+(\.\d+)?$/.test(text);
  setError(input, ok ? "" : t("val.number"));
  return ok ? Number(text) : null;
}

// -- the report ----------------------------------------------------------------------

function inputsFor(query, version) {
  const extra = { lang, ...(version ? { version } : {}) };
  if (query.kind === "parcel") return { [KEY_XA]: query.xa, [KEY_TO]: query.to, [KEY_THUA]: query.thua, ...extra };
  if (query.kind === "tm3") return { point: [query.e, query.n], crs: config.province.tm3.crs, ...extra };
  return { point: [query.lon, query.lat], crs: config.crs84, ...extra };
}

function explain(error, query) {
  if (error.status === 0 || error.status >= 500) return [t("search.unavailable"), "bad"];
  const text = (error.message || "").replace(/^Error executing process:\s*/, "");
  if (/not found|không tìm thấy/i.test(text)) {
    if (query.kind === "parcel") {
      return [t("search.notFound", { thua: query.thua, to: query.to, xa: state.communes.get(query.xa) || query.xa }), "not-found"];
    }
    return [t("search.noParcelHere"), "not-found"];
  }
  const halves = text.split(" / ");
  const reason = halves.length === 2 ? halves[lang === "vi" ? 0 : 1] : text;
  return [t("search.failed", { reason }), "bad"];
}

function permalink(query, version) {
  const q = new URLSearchParams();
  if (query.kind === "parcel") {
    q.set("xa", query.xa);
    q.set("to", query.to);
    q.set("thua", query.thua);
  } else if (query.kind === "tm3") {
    q.set("x", query.n);
    q.set("y", query.e);
  } else {
    q.set("lat", query.lat.toFixed(7));
    q.set("lon", query.lon.toFixed(7));
  }
  if (version && !state.versions.find((v) => v.id === version)?.current) q.set("v", version);
  if (lang !== "vi") q.set("lang", lang);
  return `${location.origin}/?${q}`;
}

function drawReport(report) {
  highlight.clearLayers();
  const geom = report.parcel?.geometry;
  let bounds = null;
  if (geom) {
    const parcel = L.geoJSON(geom, { pane: "highlight", interactive: false,
      style: { color: "#0b3d91", weight: 3, fill: false, className: "parcel-outline" } }).addTo(highlight);
    bounds = parcel.getBounds();
  }
  const red = report.redLines?.geometry;
  if (red) {
    L.geoJSON(red, { pane: "highlight", interactive: false,
      style: { color: "#b00000", weight: 1.5, fillColor: "#ff1a1a", fillOpacity: 0.55, className: "redline-part" } }).addTo(highlight);
  }
  return bounds;
}

async function drawChangedZones(version) {
  if (!state.changedZones.size || !config.planLayer) return;
  const ids = [...state.changedZones].map(cqlString).join(", ");
  const filter = `version_id = ${cqlString(version)} AND ${zoneKey()} IN (${ids})`;
  try {
    const fc = await items(config.planLayer, { limit: 50, filter });
    L.geoJSON(fc, { pane: "highlight", interactive: false,
      style: (f) => ({ color: "#7b2cbf", weight: 3, dashArray: "8 5", fillColor: landUse[f.properties[config.planField]]?.colour || "#ccc",
        fillOpacity: 0.35, className: "changed-zone" }) }).addTo(highlight);
  } catch (e) { /* the table still lists the change */ }
}

async function drawVersionPlan(version, bounds) {
  versionPlan.clearLayers();
  const current = state.versions.find((v) => v.current)?.id;
  if (!version || version === current || !bounds || !config.planLayer) return;
  const b = bounds.pad(2);
  const style = layerById(config.planLayer).style;
  try {
    const fc = await items(config.planLayer, { limit: 500, filter: `version_id = ${cqlString(version)}`,
      bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",") });
    L.geoJSON(fc, { pane: "versionPlan", interactive: false,
      style: (f) => ({ color: style.stroke, weight: style.width, fillOpacity: 0.9, className: "version-zone",
        fillColor: landUse[f.properties[config.planField]]?.colour || "#ddd" }) }).addTo(versionPlan);
  } catch (e) { /* the report still says what the version plans */ }
}

async function show(query, { version = null, push = true, fit = true } = {}) {
  const versionId = version || state.versions.find((v) => v.current)?.id || null;
  showMessage(t("search.searching"));
  document.body.setAttribute("aria-busy", "true");
  let report;
  try {
    report = await execute(REPORT, inputsFor(query, version));
  } catch (error) {
    const [text, kind] = explain(error instanceof ApiError ? error : new ApiError(0), query);
    showMessage(text, kind);
    announce(text);
    document.body.removeAttribute("aria-busy");
    return false;
  }
  state.query = query;
  state.version = version;
  state.report = report;
  state.changes = null;
  state.changedZones = new Set();
  if (state.versions.length > 1 && report.plannedLandUse) {
    // the adjustment is compared with the plan it adjusted; an older version with the one in force
    const idx = state.versions.findIndex((v) => v.id === versionId);
    const other = idx === 0 ? state.versions[1] : state.versions.find((v) => v.current) || state.versions[0];
    if (other) {
      try {
        const otherReport = await execute(REPORT, inputsFor(query, other.id));
        const diff = comparePlans(report, otherReport);
        state.changes = { other: other.id, lines: diff.lines };
        state.changedZones = diff.changedZones;
      } catch (e) { /* comparison is a nicety */ }
    }
  }
  showMessage("");
  fillForm(report.parcel);
  const link = permalink(query, versionId);
  if (push) history.pushState({ q: query, v: version }, "", link);
  else history.replaceState({ q: query, v: version }, "", link); // e.g. the language changed
  const bounds = drawReport(report); // before render: a comment takes its point from the parcel drawn
  render();
  await Promise.all([versionId ? drawChangedZones(versionId) : null, drawVersionPlan(versionId, bounds)]);
  revealReport();
  if (fit && bounds) map.fitBounds(bounds, { maxZoom: 18, paddingTopLeft: [40, 40], paddingBottomRight: [40, 40 + sheetOverlap()] });
  scheduleLegend();
  document.body.removeAttribute("aria-busy");
  announce($("report-title")?.textContent || "");
  return true;
}

/** The form always names the parcel on display (after a tap, a search or a permalink). */
function fillForm(parcel) {
  if (!parcel) return;
  const xa = $("xa");
  const code = parcel[KEY_XA];
  if (code && ![...xa.options].some((o) => o.value === code)) {
    xa.append(new Option(`${state.communes.get(code) || code} (${code})`, code));
  }
  xa.value = code || "";
  $("to").value = parcel[KEY_TO] != null ? String(parcel[KEY_TO]) : "";
  $("thua").value = parcel[KEY_THUA] != null ? String(parcel[KEY_THUA]) : "";
  for (const id of ["xa", "to", "thua"]) setError($(id), "");
}

const narrow = window.matchMedia("(max-width: 760px)");

/** Bring the report into view: a bottom sheet over the map on a phone, the panel scrolled on a desktop. */
function revealReport() {
  const section = $("report");
  document.body.classList.add("has-report");
  setSheet(true);
  if (!narrow.matches) section.scrollIntoView({ block: "start" });
}

/** How much of the map the bottom sheet covers (px), so a fit keeps the parcel above it. */
function sheetOverlap() {
  if (!narrow.matches || document.body.classList.contains("sheet-closed")) return 0;
  const mapBox = $("map").getBoundingClientRect();
  return Math.max(0, Math.min(mapBox.height - 80, mapBox.bottom - $("report").getBoundingClientRect().top));
}

function setSheet(open) {
  const toggle = $("sheet-toggle");
  document.body.classList.toggle("sheet-closed", !open);
  toggle.hidden = !state.report;
  toggle.setAttribute("aria-expanded", String(open));
  toggle.textContent = t(open ? "sheet.hide" : "sheet.show");
}

$("sheet-toggle").addEventListener("click", () => setSheet(document.body.classList.contains("sheet-closed")));

function render() {
  const section = $("report");
  if (!state.report) return;
  const versionId = state.version || state.versions.find((v) => v.current)?.id || null;
  renderReport(section, state.report, {
    communes: state.communes,
    versions: state.versions,
    selected: versionId,
    changes: state.changes,
    changedZones: state.changedZones,
    permalink: permalink(state.query, versionId),
    announce,
    onVersion: (id) => show(state.query, { version: id, fit: false }),
    onPrint: printReport,
  });
  const zones = (state.report.plannedLandUse?.zones || []).map((z) => z.zone?.[zoneKey()]).filter(Boolean);
  const consult = versionId && consultBox(config.planLayer, versionId, { point: reportPoint(), zones,
    parcel: state.report.parcel ? [KEY_XA, KEY_TO, KEY_THUA].map((k) => state.report.parcel[k]).join("/") : null });
  if (consult) section.insertBefore(consult, section.querySelector(".disclaimer"));
  section.hidden = false;
}

/** Where a comment on this report is: the point asked about, or the parcel's centre. */
function reportPoint() {
  const q = state.query;
  if (q?.kind === "point") return [q.lon, q.lat];
  const layers = highlight.getLayers();
  const c = layers.length ? L.featureGroup(layers).getBounds().getCenter() : map.getCenter();
  return [c.lng, c.lat];
}

// -- print: one A4 page with the map ---------------------------------------------------

function tilesSettled(timeoutMs = 5000) {
  const pending = [];
  map.eachLayer((layer) => {
    if (layer.isLoading && layer.isLoading()) pending.push(new Promise((resolve) => layer.once("load", resolve)));
  });
  return Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, timeoutMs))]);
}

async function printReport() {
  document.body.classList.add("printing");
  map.invalidateSize();
  const bounds = highlight.getLayers().length ? L.featureGroup(highlight.getLayers()).getBounds() : null;
  if (bounds && bounds.isValid()) map.fitBounds(bounds, { maxZoom: 19, padding: [20, 20], animate: false });
  await new Promise((r) => setTimeout(r, 50));
  await tilesSettled();
  await $("print-qr")?.decode().catch(() => null); // the QR code is on the page before the dialog opens
  window.print();
}

window.addEventListener("afterprint", () => {
  document.body.classList.remove("printing");
  map.invalidateSize();
});

// -- forms, clicks, permalinks ---------------------------------------------------------

$("form-parcel").addEventListener("submit", (event) => {
  event.preventDefault();
  const xa = $("xa");
  const okXa = setError(xa, xa.value ? "" : t("val.commune"));
  const to = parseInteger($("to"), fieldOf(KEY_TO));
  const thua = parseInteger($("thua"), fieldOf(KEY_THUA));
  if (!okXa || to == null || thua == null) {
    showMessage("");
    document.querySelector("#form-parcel [aria-invalid='true']")?.focus();
    return;
  }
  show({ kind: "parcel", xa: xa.value, to, thua }, { version: state.version }).then((ok) => ok && $("report").focus());
});

function coordLabels() {
  const tm3 = $("crs").value === "tm3";
  $("c1-label").textContent = tm3 ? t("coord.x") : t("coord.lat");
  $("c2-label").textContent = tm3 ? t("coord.y") : t("coord.lon");
}

function fillCrs() {
  const select = $("crs");
  const value = select.value || "tm3";
  select.replaceChildren();
  for (const [v, text] of [["tm3", t("crs.tm3", { epsg: config.province.tm3.epsg })], ["wgs84", t("crs.wgs84")]]) {
    const opt = document.createElement("option");
    opt.value = v;
    opt.textContent = text;
    select.append(opt);
  }
  select.value = value;
  coordLabels();
}

$("crs").addEventListener("change", coordLabels);

$("form-coords").addEventListener("submit", (event) => {
  event.preventDefault();
  const c1 = $("c1");
  const c2 = $("c2");
  const a = parseDecimal(c1);
  const b = parseDecimal(c2);
  if (a == null || b == null) {
    document.querySelector("#form-coords [aria-invalid='true']")?.focus();
    return;
  }
  const tm3 = $("crs").value === "tm3";
  // the province's extent, with a margin, in the chosen system: [x0, y0, x1, y1] (east/lon first)
  const box = tm3 ? config.province.tm3.bbox : config.province.bbox;
  const pad = tm3 ? 5000 : 0.05;
  const inside = (east, north) => east >= box[0] - pad && east <= box[2] + pad && north >= box[1] - pad && north <= box[3] + pad;
  if (!inside(b, a)) {
    const round = (v) => Math.round(v * 1000) / 1000;
    setError(c1, t("val.range", { min: round(box[1] - pad), max: round(box[3] + pad) }));
    setError(c2, t("val.range", { min: round(box[0] - pad), max: round(box[2] + pad) }));
    showMessage(inside(a, b) ? t(tm3 ? "search.swappedXY" : "search.swappedLatLon") : t("search.outside"), "bad");
    c1.focus();
    return;
  }
  show(tm3 ? { kind: "tm3", n: a, e: b } : { kind: "point", lat: a, lon: b }, { version: state.version })
    .then((ok) => ok && $("report").focus());
});

map.on("click", (event) => {
  show({ kind: "point", lon: event.latlng.lng, lat: event.latlng.lat }, { version: state.version, fit: false });
});

$("query-centre").addEventListener("click", () => {
  const c = map.getCenter();
  show({ kind: "point", lon: c.lng, lat: c.lat }, { version: state.version, fit: false });
});

// -- search by name, locate me ----------------------------------------------------------

function fitBox(bbox, maxZoom = 18) {
  if (!bbox) return;
  map.fitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]], { maxZoom, padding: [30, 30] });
}

async function drawHits(result) {
  searchHits.clearLayers();
  if (!result.layer || !result.field) return;
  try {
    // a name repeated in several communes ("Thôn 3") is one hit per commune: draw only its own
    const inCommune = result.communeField ? ` AND ${result.communeField} = ${cqlString(result.maXa)}` : "";
    const fc = await items(result.layer, { limit: 200, filter: `${result.field} = ${cqlString(result.name)}${inCommune}` });
    L.geoJSON(fc, { pane: "highlight", interactive: false,
      style: { color: "#e36c0a", weight: 6, opacity: 0.9, fillOpacity: 0.15, className: "search-hit" } }).addTo(searchHits);
  } catch (e) { /* the map still moved there */ }
}

async function pickPlace(result) {
  if (result.kind === "parcel") {
    const ok = await show({ kind: "parcel", xa: result.maXa, to: result.soHieuToBanDo, thua: result.soThuTuThua },
      { version: state.version });
    if (ok) $("report").focus();
    return;
  }
  if (result.kind === "commune" || result.kind === "formerCommune") {
    const xa = $("xa");
    if ([...xa.options].some((o) => o.value === result.maXa)) xa.value = result.maXa;
    searchHits.clearLayers();
  } else {
    const xa = $("xa");
    if (result.maXa && [...xa.options].some((o) => o.value === result.maXa)) xa.value = result.maXa;
    await drawHits(result);
  }
  fitBox(result.bbox, result.kind === "road" ? 17 : 18);
  announce(t("find.shown", { name: result.name }));
}

bindPlaceSearch({ input: $("place-q"), list: $("place-results"), message: $("place-message"), onPick: pickPlace });

$("locate-me").addEventListener("click", () => {
  if (!navigator.geolocation) return showMessage(t("site.noLocation"), "bad");
  showMessage(t("site.locating"));
  navigator.geolocation.getCurrentPosition(
    (pos) => show({ kind: "point", lon: pos.coords.longitude, lat: pos.coords.latitude }, { version: state.version }),
    () => showMessage(t("site.noLocation"), "bad"),
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
});

function queryFromUrl() {
  const q = new URLSearchParams(location.search);
  const version = q.get("v");
  if (q.has("xa") && q.has("to") && q.has("thua")) {
    const to = Number(q.get("to"));
    const thua = Number(q.get("thua"));
    if (Number.isInteger(to) && Number.isInteger(thua)) {
      return [{ kind: "parcel", xa: q.get("xa"), to, thua }, version];
    }
  }
  if (q.has("lat") && q.has("lon")) {
    const lat = Number(q.get("lat"));
    const lon = Number(q.get("lon"));
    if (Number.isFinite(lat) && Number.isFinite(lon)) return [{ kind: "point", lat, lon }, version];
  }
  if (q.has("x") && q.has("y")) {
    const n = Number(q.get("x"));
    const e = Number(q.get("y"));
    if (Number.isFinite(n) && Number.isFinite(e)) return [{ kind: "tm3", n, e }, version];
  }
  return [null, null];
}

window.addEventListener("popstate", (event) => {
  const [query, version] = event.state?.q ? [event.state.q, event.state.v] : queryFromUrl();
  if (query) show(query, { version, push: false });
});

onLangChange(() => {
  fillCrs();
  if (state.query) show(state.query, { version: state.version, push: false, fit: false });
  document.title = `${t("site.title")} — ${provinceLabel(lang)}`;
  const chooser = $("xa").options[0];
  if (chooser) chooser.textContent = t("search.chooseCommune");
});

async function start() {
  fillCrs();
  document.title = `${t("site.title")} — ${provinceLabel(lang)}`;
  buildLayerSwitcher(map, layers);
  renderLegend();
  const [query, version] = queryFromUrl();
  const fitting = query ? null : fitToData(map);
  await Promise.allSettled([loadCommunes(), loadVersions(), loadConsultations(), fitting]);
  if (query?.kind === "parcel") {
    $("xa").value = query.xa;
    $("to").value = String(query.to);
    $("thua").value = String(query.thua);
  }
  if (query) {
    const ok = await show(query, { version, push: false });
    if (!ok) await fitToData(map);
  }
  document.body.dataset.ready = "true";
}

start();
