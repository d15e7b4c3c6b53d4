// The map both pages share: our own vector tiles drawn on canvas, styled from the catalogue;
// a layer switcher and a legend built from the same configuration. Names (communes, roads,
// plan zones, "sheet/parcel" numbers) are drawn by MapLibre GL from the API's map style
// (/ogc/styles/bando, derived from the catalogue) with bando's own glyphs, in a pane above
// the data; where the browser has no WebGL the map works without them.
import { collection } from "./api.js";
import { config, landUse } from "./config.js";
import { onLangChange, pick, t } from "./i18n.js";

const L = window.L;
// drawing order: areas, an older plan version (site), parcel outlines, water, lines, points, highlights
const PANES = { polygon: 410, versionPlan: 412, parcels: 414, water: 415, line: 420, point: 430, labels: 440,
  highlight: 450, live: 460 };
const MAP_STYLE = "/ogc/styles/bando?f=mapbox";
const GL_WORKER = "/vendor/maplibre-gl/maplibre-gl-csp-worker.js";
let labelMap = null; // the MapLibre map inside the label layer, once its style is loaded
const seenCodes = new Map(); // layer id -> Set of land-use codes drawn so far in the view
const grids = new Map(); // layer id -> VectorGrid layer
let legendTimer = null;
/** Page-specific legend entries: functions returning a node (or null). */
export const legendExtras = [];

/** Leaflet style for one feature of a catalogue layer (colour by code where the catalogue says). */
function styleFor(layer) {
  const s = layer.style;
  const kind = layer.geometry;
  const dash = s.dash ? "6 4" : null;
  if (kind === "point") {
    return () => ({ radius: s.radius, weight: s.width, color: s.stroke, fill: true,
      fillColor: s.fill || s.stroke, fillOpacity: 0.9 });
  }
  if (kind === "line") return () => ({ weight: s.width, color: s.stroke, dashArray: dash, opacity: 0.95 });
  if (s.by && s.codes === "land_use") {
    const seen = seenCodes.get(layer.id) || new Set();
    seenCodes.set(layer.id, seen);
    return (props) => {
      const code = props[s.by];
      if (code) seen.add(code);
      return { weight: s.width, color: s.stroke, fill: true, fillColor: landUse[code]?.colour || "#DDDDDD",
        fillOpacity: layer.id === config.parcelLayer ? 0 : 0.72 };
    };
  }
  return () => ({ weight: s.width, color: s.stroke, fill: Boolean(s.fill), fillColor: s.fill, fillOpacity: 0.5,
    dashArray: dash });
}

function vectorGrid(tiles, layerName, style, pane) {
  return L.vectorGrid.protobuf(tiles.url, {
    rendererFactory: L.canvas.tile,
    vectorTileLayerStyles: { [layerName]: style },
    interactive: false,
    minZoom: tiles.minzoom,
    maxNativeZoom: tiles.maxzoom,
    pane,
    keepBuffer: 1,
    updateWhenZooming: false,
    fetchOptions: { credentials: "same-origin" },
  });
}

/** The Leaflet map with its panes, scale bar and keyboard navigation. */
export function createMap(elementId) {
  const map = L.map(elementId, { minZoom: 6, maxZoom: 21, zoomSnap: 1, keyboard: true, attributionControl: true,
    preferCanvas: false, worldCopyJump: false });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution(`© ${config.province.fullName}`);
  for (const [name, z] of Object.entries(PANES)) {
    map.createPane(name).style.zIndex = String(z);
  }
  L.control.scale({ metric: true, imperial: false, maxWidth: 160 }).addTo(map);
  const [x0, y0, x1, y1] = config.province.bbox;
  map.fitBounds([[y0, x0], [y1, x1]]);
  return map;
}

/**
 * body[data-map-idle] is "true" when the map is still and every shown tile layer has loaded
 * (print waits for it; so do the tests before a screenshot).
 */
export function trackIdle(map) {
  const update = () => {
    let loading = false;
    map.eachLayer((layer) => { if (layer.isLoading && layer.isLoading()) loading = true; });
    document.body.dataset.mapIdle = String(!loading && !map._animatingZoom);
  };
  map.on("movestart zoomstart", () => { document.body.dataset.mapIdle = "false"; });
  map.on("moveend zoomend layeradd layerremove", () => setTimeout(update, 0));
  for (const grid of grids.values()) grid.on("load loading", () => setTimeout(update, 0));
  update();
}

/** Fit the map to what is published (the commune layer's extent), else the province. */
export async function fitToData(map) {
  if (!config.communeLayer) return;
  try {
    const c = await collection(config.communeLayer);
    const box = c?.extent?.spatial?.bbox?.[0];
    if (box && box.length >= 4) map.fitBounds([[box[1], box[0]], [box[3], box[2]]]);
  } catch (e) { /* keep the province's extent */ }
}

function addGrid(map, id, grid, on) {
  grids.set(id, grid);
  grid.on("load", scheduleLegend);
  if (on) grid.addTo(map);
  return grid;
}

/** One VectorGrid per tiled layer (plus the water background), switched on as configured. */
export function addVectorLayers(map) {
  for (const layer of config.layers) {
    if (!layer.tiles) continue;
    const pane = layer.id === config.parcelLayer ? "parcels" : layer.geometry;
    addGrid(map, layer.id, vectorGrid(layer.tiles, layer.id, styleFor(layer), pane), layer.on);
  }
  const water = config.water;
  if (water) {
    const codes = new Set(water.codes);
    const style = (props) => (codes.has(props[water.field])
      ? { fill: true, fillColor: water.colour, fillOpacity: 0.9, weight: 0.5, color: "#5AAFC8" } : []);
    addGrid(map, water.id, vectorGrid(water.tiles, water.source, style, "water"), true);
  }
  addLabels(map);
  let basemap = null;
  if (config.basemap) {
    basemap = L.tileLayer(config.basemap.url, { maxZoom: 21, crossOrigin: false });
  }
  return { basemap };
}

function webgl() {
  try {
    const canvas = document.createElement("canvas");
    return Boolean(canvas.getContext("webgl2") || canvas.getContext("webgl"));
  } catch (e) {
    return false;
  }
}

function labelVisibility(id, on) {
  if (!labelMap) return;
  for (const l of labelMap.getStyle().layers) {
    if (l.source === id) labelMap.setLayoutProperty(l.id, "visibility", on ? "visible" : "none");
  }
}

/** The names drawn in the view, for screen readers (and anyone who cannot read the canvas). */
function listLabels() {
  const list = document.getElementById("map-labels");
  if (!list || !labelMap) return;
  const names = new Set();
  for (const f of labelMap.queryRenderedFeatures()) {
    if (f.layer.type !== "symbol") continue;
    const text = labelMap.getLayoutProperty(f.layer.id, "text-field");
    const parts = Array.isArray(text) && text[0] === "concat" ? text.slice(1) : [text];
    names.add(parts.map((p) => (Array.isArray(p) ? String(f.properties[p[1][1]] ?? "") : p)).join(""));
  }
  list.replaceChildren(...[...names].sort().slice(0, 200).map((n) => Object.assign(document.createElement("li"), { textContent: n })));
  list.dataset.count = String(names.size);
  list.dataset.zoom = String(Math.round(labelMap.getZoom() + 1)); // MapLibre's 512-px zoom is Leaflet's minus one
}

/** The label layer: the map style's text layers only, over our data; shown with their layers. */
async function addLabels(map) {
  const gl = window.maplibregl;
  if (!gl || !L.maplibreGL || !webgl()) return;
  let style;
  try {
    const response = await fetch(MAP_STYLE, { credentials: "same-origin" });
    if (!response.ok) return;
    style = await response.json();
  } catch (e) {
    return;
  }
  const shown = new Set(config.layers.filter((l) => l.on || l.background).map((l) => l.id));
  style.layers = style.layers.filter((l) => l.type === "symbol")
    .map((l) => ({ ...l, layout: { ...l.layout, visibility: shown.has(l.source) ? "visible" : "none" } }));
  gl.setWorkerUrl(GL_WORKER);
  const layer = L.maplibreGL({ style, pane: "labels", interactive: false, attributionControl: false });
  layer.addTo(map);
  const glMap = layer.getMaplibreMap();
  glMap.on("idle", () => {
    labelMap = glMap;
    for (const [id, grid] of grids) labelVisibility(id, map.hasLayer(grid));
    listLabels();
    document.body.dataset.labelsIdle = "true";
  });
  glMap.on("movestart", () => { document.body.dataset.labelsIdle = "false"; });
}

function setVisible(map, id, on) {
  labelVisibility(id, on);
  const grid = grids.get(id);
  if (!grid) return;
  if (on && !map.hasLayer(grid)) grid.addTo(map);
  if (!on && map.hasLayer(grid)) {
    map.removeLayer(grid);
    seenCodes.get(id)?.clear();
  }
  scheduleLegend();
}

/** A small sample of the code table's colours: the icon of a layer coloured by land-use code. */
function codeGradient() {
  const colours = [...new Set(config.landUse.map((c) => c.colour))];
  const pickAt = (f) => colours[Math.floor(f * (colours.length - 1))];
  return `linear-gradient(90deg, ${pickAt(0)} 33%, ${pickAt(0.4)} 33% 66%, ${pickAt(0.7)} 66%)`;
}

function swatch(layer) {
  const el = document.createElement("span");
  const s = layer.style || {};
  el.className = `swatch ${layer.geometry || "polygon"}${s.dash ? " dash" : ""}`;
  el.setAttribute("aria-hidden", "true");
  if (layer.geometry === "line") el.style.borderTopColor = s.stroke;
  else if (layer.geometry === "point") {
    el.style.background = s.fill || s.stroke;
    el.style.borderColor = s.stroke;
  } else {
    const byCode = s.by && layer.id !== config.parcelLayer; // parcels are drawn as outlines
    el.style.background = byCode ? codeGradient() : (s.fill || "#fff");
    el.style.borderColor = s.stroke;
  }
  return el;
}

function checkbox(map, layer, label, checked, extra) {
  const row = document.createElement("label");
  row.className = "layer-item";
  const input = document.createElement("input");
  input.type = "checkbox";
  input.checked = checked;
  input.dataset.layer = layer.id;
  input.addEventListener("change", () => (extra ? extra(input.checked) : setVisible(map, layer.id, input.checked)));
  row.append(input, swatch(layer));
  const text = document.createElement("span");
  text.textContent = label;
  row.append(text);
  if (layer.tiles && layer.tiles.minzoom > 12) {
    const note = document.createElement("span");
    note.className = "zoom-note";
    note.textContent = t("layers.fromZoom", { z: layer.tiles.minzoom });
    row.append(note);
  }
  return row;
}

/**
 * The layer switcher: background (our data or the configured basemap), then one fieldset
 * per theme. `extra` adds page-specific entries (the IOC's live points).
 */
export function buildLayerSwitcher(map, { basemap }, extra = []) {
  const root = document.getElementById("layer-list");
  const render = () => {
    root.replaceChildren();
    const bg = fieldset(t("layers.background"));
    if (basemap) {
      for (const [value, key] of [["own", "layers.ownData"], ["basemap", "layers.basemap"]]) {
        const row = document.createElement("label");
        row.className = "layer-item";
        const input = document.createElement("input");
        input.type = "radio";
        input.name = "background";
        input.value = value;
        input.checked = value === "basemap" ? map.hasLayer(basemap) : !map.hasLayer(basemap);
        input.addEventListener("change", () => {
          if (value === "basemap") basemap.addTo(map); else map.removeLayer(basemap);
        });
        const text = document.createElement("span");
        text.textContent = t(key);
        row.append(input, text);
        bg.append(row);
      }
    }
    for (const layer of config.layers.filter((l) => l.background && l.tiles)) {
      bg.append(checkbox(map, layer, pick(layer.title), map.hasLayer(grids.get(layer.id))));
    }
    if (config.water) {
      const w = { id: config.water.id, geometry: "polygon", style: { fill: config.water.colour, stroke: "#5AAFC8" } };
      bg.append(checkbox(map, w, pick(config.water.title), map.hasLayer(grids.get(w.id))));
    }
    root.append(bg);
    for (const [theme, title] of Object.entries(config.themes)) {
      const layers = config.layers.filter((l) => l.theme === theme && !l.background);
      const entries = extra.filter((e) => e.theme === theme);
      if (!layers.length && !entries.length) continue;
      const group = fieldset(pick(title));
      for (const layer of layers) {
        if (entries.some((e) => e.layer.id === layer.id)) continue;
        if (layer.tiles) group.append(checkbox(map, layer, pick(layer.title), map.hasLayer(grids.get(layer.id))));
      }
      for (const e of entries) group.append(checkbox(map, e.layer, pick(e.layer.title), e.isOn(), e.toggle));
      root.append(group);
    }
  };
  render();
  onLangChange(render);
}

function fieldset(title) {
  const fs = document.createElement("fieldset");
  fs.className = "layer-group";
  const legend = document.createElement("legend");
  legend.textContent = title;
  fs.append(legend);
  return fs;
}

export function scheduleLegend() {
  clearTimeout(legendTimer);
  legendTimer = setTimeout(renderLegend, 250);
}

function codeList(codes) {
  const ul = document.createElement("ul");
  ul.className = "legend-list";
  for (const c of codes) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = c.colour;
    sw.setAttribute("aria-hidden", "true");
    const code = document.createElement("span");
    code.className = "code";
    code.textContent = c.code;
    const name = document.createElement("span");
    name.textContent = pick(c.name);
    li.append(sw, code, name);
    ul.append(li);
  }
  return ul;
}

/** Legend: the land-use codes drawn in the view (catalogue colours), lines and points, the full table. */
export function renderLegend() {
  const body = document.getElementById("legend-body");
  if (!body) return;
  body.replaceChildren();
  const shown = new Set();
  for (const [id, codes] of seenCodes) {
    const grid = grids.get(id);
    if (grid && grid._map && id !== config.parcelLayer) for (const c of codes) shown.add(c);
  }
  const head = document.createElement("p");
  head.className = "legend-group";
  head.textContent = t("legend.visible");
  body.append(head);
  if (shown.size) {
    body.append(codeList(config.landUse.filter((c) => shown.has(c.code))));
  } else {
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = t("legend.none");
    body.append(p);
  }
  const others = document.createElement("ul");
  others.className = "legend-list";
  for (const layer of config.layers) {
    const grid = grids.get(layer.id);
    if (!grid || !grid._map || (layer.style.by && layer.id !== config.parcelLayer)) continue;
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = pick(layer.title);
    li.append(swatch(layer), label);
    others.append(li);
  }
  if (others.children.length) body.append(others);
  for (const extra of legendExtras) {
    const node = extra();
    if (node) body.append(node);
  }
  const all = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = t("legend.all");
  all.append(summary);
  for (const [group, title] of Object.entries(config.landUseGroups)) {
    const h = document.createElement("p");
    h.className = "legend-group";
    h.textContent = pick(title);
    all.append(h, codeList(config.landUse.filter((c) => c.group === group)));
  }
  body.append(all);
}

onLangChange(scheduleLegend);
