// The IOC map: every layer toggleable, plus live points (cameras, environmental sensors)
// refreshed from the OGC API every few seconds (`?refresh=N` seconds, default 5), with the
// alert colour when a reading crosses the catalogue's threshold (layers/sensor_readings.yml).
// New readings also arrive as they are committed, pushed by the server (Server-Sent Events,
// /events/readings): a point turns red at once; a dropped stream resumes after the last event.
import { items } from "./api.js";
import { config, provinceLabel } from "./config.js";
import { bindSwitch, fmtDate, fmtNumber, lang, onLangChange, pick, t } from "./i18n.js";
import { addVectorLayers, buildLayerSwitcher, createMap, fitToData, renderLegend, trackIdle } from "./map.js";

const L = window.L;
const $ = (id) => document.getElementById(id);
const ALERT = "#c1121f";
const OFFLINE = "#8a8a8a";
/** Connection states a live point may report (values of its status field's domain). */
const STATUS = {
  hoat_dong: { ok: true, vi: "hoạt động", en: "online" },
  mat_ket_noi: { ok: false, vi: "mất kết nối", en: "offline" },
};
/** Readable names for the coded values of the live layers' domains. */
const VALUES = {
  pm25: { vi: "bụi mịn PM2.5", en: "PM2.5 fine dust" },
  muc_nuoc: { vi: "mực nước", en: "water level" },
};

function refreshSeconds() {
  const value = Number(new URLSearchParams(location.search).get("refresh"));
  return Number.isFinite(value) && value >= 1 && value <= 300 ? value : 5;
}

const REFRESH_S = refreshSeconds();
// sensors (which can alert) first, then the other live points
const liveLayers = config.layers.filter((l) => l.role === "sensor").concat(config.layers.filter((l) => l.role === "live"));
const readingsFor = (layerId) => config.readings.find((r) => r.parent === layerId);
const state = new Map(); // layer id -> {group, markers: Map key -> marker, features: Map key -> {props, reading}}
let lastOk = null;

bindSwitch();
$("refresh-every").textContent = String(REFRESH_S);
const map = createMap("map");
// live layers are drawn from their items below, not from tiles
for (const l of liveLayers) l.tiles = null;
const layers = addVectorLayers(map);
trackIdle(map);
for (const layer of liveLayers) {
  state.set(layer.id, { layer, group: L.layerGroup().addTo(map), markers: new Map(), features: new Map() });
}

function statusField(layer) {
  return layer.fields.find((f) => f.values && f.values.some((v) => v in STATUS))?.name;
}

function nameField(layer) {
  const key = layer.key[0];
  return layer.fields.find((f) => f.type === "text" && f.name !== key && !f.values)?.name || key;
}

function statusLabel(value) {
  return STATUS[value]?.[lang] || value || "—";
}

function isAlert(layer, entry) {
  const r = readingsFor(layer.id);
  if (!r || !entry.reading) return false;
  const kind = entry.reading[r.by] ?? entry.props[r.by];
  const limit = r.thresholds[kind];
  return limit != null && Number(entry.reading[r.value]) > limit;
}

function threshold(layer, entry) {
  const r = readingsFor(layer.id);
  if (!r) return null;
  return r.thresholds[entry.reading?.[r.by] ?? entry.props[r.by]] ?? null;
}

function unitOf(layer, entry) {
  const f = layer.fields.find((x) => x.name === "donVi" || /unit/i.test(x.title.en));
  return f ? entry.props[f.name] || "" : "";
}

function describe(layer, entry) {
  const sf = statusField(layer);
  const r = readingsFor(layer.id);
  const out = { alert: false, offline: false, value: null, time: null, status: null };
  if (sf) {
    out.status = entry.props[sf];
    out.offline = STATUS[out.status] ? !STATUS[out.status].ok : false;
  }
  if (r) {
    out.alert = isAlert(layer, entry);
    if (entry.reading) {
      out.value = `${fmtNumber(entry.reading[r.value], 1, 2)} ${unitOf(layer, entry)}`.trim();
      out.time = entry.reading[r.time];
    }
  }
  return out;
}

function markerStyle(layer, d) {
  const s = layer.style;
  const fill = d.alert ? ALERT : d.offline ? OFFLINE : s.fill || s.stroke;
  return { radius: d.alert ? s.radius + 3 : s.radius + 1, color: s.stroke, weight: d.alert ? 2.5 : s.width,
    fillColor: fill, fillOpacity: 0.95 };
}

function popupContent(layer, entry) {
  const d = describe(layer, entry);
  const root = document.createElement("div");
  root.className = "ioc-popup";
  const title = document.createElement("strong");
  title.textContent = entry.props[nameField(layer)] || entry.key;
  const dl = document.createElement("dl");
  const add = (label, value, cls) => {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    if (cls) dd.className = cls;
    dl.append(dt, dd);
  };
  for (const f of layer.fields) {
    if (f.name === nameField(layer)) continue;
    const v = entry.props[f.name];
    add(pick(f.title), f.name === statusField(layer) ? statusLabel(v) : VALUES[v]?.[lang] ?? v ?? "—");
  }
  if (readingsFor(layer.id)) {
    add(t("ioc.latest"), d.value ? `${d.value} (${fmtDate(d.time)})` : t("ioc.noReading"), d.alert ? "alert" : null);
    const limit = threshold(layer, entry);
    if (limit != null) add(t("ioc.threshold"), `${fmtNumber(limit, 1, 2)} ${unitOf(layer, entry)}`);
    if (d.alert) add("", t("ioc.alert"), "alert");
  }
  root.append(title, dl);
  return root;
}

function upsertMarker(layer, entry, latlng) {
  const st = state.get(layer.id);
  const d = describe(layer, entry);
  let marker = st.markers.get(entry.key);
  if (!marker) {
    marker = L.circleMarker(latlng, { pane: "live", className: `live-point live-${layer.id}`, ...markerStyle(layer, d) });
    marker.bindPopup(() => popupContent(layer, st.features.get(entry.key)));
    marker.addTo(st.group);
    st.markers.set(entry.key, marker);
  } else {
    marker.setLatLng(latlng);
    marker.setStyle(markerStyle(layer, d));
    if (marker.isPopupOpen()) marker.setPopupContent(popupContent(layer, entry));
  }
  const el = marker.getElement();
  if (el) {
    el.classList.toggle("alert", d.alert);
    el.classList.toggle("pulse", d.alert);
    el.dataset.key = entry.key;
  }
}

async function latestReadings(layer, keys) {
  const r = readingsFor(layer.id);
  if (!r || !keys.length) return new Map();
  const keyField = r.key[0];
  const latest = new Map();
  // one request for the newest readings of all sensors; a sensor not among them gets its own
  const fc = await items(r.id, { limit: Math.min(1000, keys.length * 12), sortby: `-${r.time}` });
  for (const f of fc.features) {
    const k = f.properties[keyField];
    if (!latest.has(k)) latest.set(k, f.properties);
  }
  const missing = keys.filter((k) => !latest.has(k));
  await Promise.all(missing.map(async (k) => {
    const one = await items(r.id, { limit: 1, sortby: `-${r.time}`, [keyField]: k });
    if (one.features[0]) latest.set(k, one.features[0].properties);
  }));
  return latest;
}

async function refreshLayer(layer) {
  const st = state.get(layer.id);
  const key = layer.key[0];
  const fc = await items(layer.id, { limit: 1000 });
  const keys = fc.features.map((f) => f.properties[key]);
  const readings = await latestReadings(layer, keys);
  const seen = new Set();
  for (const f of fc.features) {
    if (!f.geometry || f.geometry.type !== "Point") continue;
    const k = f.properties[key];
    seen.add(k);
    const entry = { key: k, props: f.properties, reading: readings.get(k) || null };
    st.features.set(k, entry);
    const [lon, lat] = f.geometry.coordinates;
    upsertMarker(layer, entry, [lat, lon]);
  }
  for (const [k, marker] of st.markers) {
    if (!seen.has(k)) {
      st.group.removeLayer(marker);
      st.markers.delete(k);
      st.features.delete(k);
    }
  }
}

function renderList() {
  const root = $("live-list");
  root.replaceChildren();
  let alerts = 0;
  for (const layer of liveLayers) {
    const st = state.get(layer.id);
    const box = document.createElement("section");
    box.className = "live-group";
    box.dataset.layer = layer.id;
    const h = document.createElement("h3");
    h.textContent = `${pick(layer.title)} (${st.features.size})`;
    const ul = document.createElement("ul");
    ul.className = "live-list";
    // alerts first, then points that lost their connection, then by code
    const rank = (d) => (d.alert ? 0 : d.offline ? 1 : 2);
    const entries = [...st.features.values()].map((entry) => [entry, describe(layer, entry)])
      .sort(([a, da], [b, db]) => rank(da) - rank(db) || String(a.key).localeCompare(String(b.key)));
    for (const [entry, d] of entries) {
      if (d.alert) alerts += 1;
      const li = document.createElement("li");
      li.dataset.key = entry.key;
      li.className = [d.alert ? "alert" : "", d.offline ? "offline" : ""].join(" ").trim();
      const dot = document.createElement("span");
      dot.className = "dot";
      dot.style.background = markerStyle(layer, d).fillColor;
      dot.setAttribute("aria-hidden", "true");
      const body = document.createElement("div");
      const name = document.createElement("button");
      name.type = "button";
      name.className = "link name";
      name.textContent = `${entry.key} — ${entry.props[nameField(layer)] || ""}`;
      name.setAttribute("aria-label", `${t("ioc.show")}: ${name.textContent}`);
      name.addEventListener("click", () => {
        const marker = st.markers.get(entry.key);
        if (!marker) return;
        map.setView(marker.getLatLng(), Math.max(map.getZoom(), 16));
        marker.openPopup();
      });
      const meta = document.createElement("div");
      meta.className = "meta";
      if (d.status != null) {
        const s = document.createElement("span");
        s.className = "state";
        s.textContent = statusLabel(d.status);
        meta.append(s);
      }
      if (readingsFor(layer.id)) {
        const v = document.createElement("span");
        v.className = "value";
        v.textContent = d.value || t("ioc.noReading");
        const when = document.createElement("span");
        when.textContent = d.time ? ` ${t("ioc.at")} ${fmtDate(d.time)}` : "";
        meta.append(v, when);
        if (d.alert) {
          const a = document.createElement("span");
          a.className = "state";
          a.textContent = ` — ${t("ioc.alert")}`;
          meta.append(a);
        }
      }
      body.append(name, meta);
      li.append(dot, body);
      ul.append(li);
    }
    box.append(h, ul);
    root.append(box);
  }
  const summary = $("alert-summary");
  summary.textContent = alerts === 1 ? t("ioc.alerts1") : alerts ? t("ioc.alerts", { n: alerts }) : t("ioc.noAlerts");
  summary.classList.toggle("has-alert", alerts > 0);
}

async function refresh() {
  const results = await Promise.allSettled(liveLayers.map(refreshLayer));
  const failed = results.some((r) => r.status === "rejected");
  const feed = $("feed-state");
  if (!failed) {
    lastOk = new Date();
    $("updated").textContent = lastOk.toLocaleTimeString(lang === "vi" ? "vi-VN" : "en-GB");
    $("updated").dateTime = lastOk.toISOString();
  }
  feed.textContent = failed ? t("ioc.stale") : "";
  feed.classList.toggle("stale", failed);
  renderList();
  document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
}

// -- pushed readings -------------------------------------------------------------------

const events = { source: null, lastId: null, ids: [] };

function applyReading(props) {
  for (const layer of liveLayers) {
    const r = readingsFor(layer.id);
    if (!r) continue;
    const st = state.get(layer.id);
    const entry = st.features.get(props[r.key[0]]);
    const marker = st.markers.get(props[r.key[0]]);
    if (!entry || !marker) continue;
    const older = entry.reading && Date.parse(entry.reading[r.time]) > Date.parse(props[r.time]);
    if (older) continue;
    entry.reading = props;
    upsertMarker(layer, entry, marker.getLatLng());
  }
}

function openEvents() {
  const query = events.lastId == null ? "" : `?after=${encodeURIComponent(events.lastId)}`;
  const source = new EventSource(`/events/readings${query}`);
  events.source = source;
  source.addEventListener("open", () => (document.body.dataset.events = "open"));
  source.addEventListener("reading", (e) => {
    const { id, properties } = JSON.parse(e.data);
    events.lastId = id;
    events.ids.push(id);
    document.body.dataset.lastEventId = String(id);
    applyReading(properties);
    renderList();
  });
  source.addEventListener("error", () => {
    document.body.dataset.events = "reconnecting";
    // The browser reconnects by itself with Last-Event-ID; if it gave up, start again after the last event.
    if (source.readyState === EventSource.CLOSED) setTimeout(openEvents, 1000);
  });
}

/** For operators' tooling and tests: drop the stream and resume it after the last event seen. */
window.bandoEvents = {
  ids: () => [...events.ids],
  drop(resumeAfterMs = 1500) {
    events.source?.close();
    document.body.dataset.events = "closed";
    setTimeout(openEvents, resumeAfterMs);
  },
};

function loop() {
  // setTimeout after each round (not setInterval): a slow server never gets overlapping polls
  refresh().finally(() => setTimeout(loop, REFRESH_S * 1000));
}

onLangChange(() => {
  document.title = `${t("ioc.title")} — ${provinceLabel(lang)}`;
  renderList();
});

async function start() {
  document.title = `${t("ioc.title")} — ${provinceLabel(lang)}`;
  const extra = liveLayers.map((layer) => ({
    theme: layer.theme,
    layer,
    isOn: () => map.hasLayer(state.get(layer.id).group),
    toggle: (on) => (on ? state.get(layer.id).group.addTo(map) : map.removeLayer(state.get(layer.id).group)),
  }));
  buildLayerSwitcher(map, layers, extra);
  renderLegend();
  await fitToData(map);
  await refresh();
  if (window.EventSource) openEvents();
  document.body.dataset.ready = "true";
  setTimeout(loop, REFRESH_S * 1000);
}

start();
